import { cancelApiFromEnvironment } from '#adapters/aws-entries.ts';
import { composeApi } from '#adapters/compose.ts';
import { createCancelJobHandler } from '#handlers/cancel-job.ts';

export const handler = createCancelJobHandler(composeApi(cancelApiFromEnvironment()));
