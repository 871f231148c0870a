import { apiDepsFromEnvironment } from '#adapters/compose.ts';
import { createCancelJobHandler } from '#handlers/cancel-job.ts';

export const handler = createCancelJobHandler(apiDepsFromEnvironment());
