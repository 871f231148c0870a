import { apiDepsFromEnvironment } from '#adapters/compose.ts';
import { createGetJobHandler } from '#handlers/get-job.ts';

export const handler = createGetJobHandler(apiDepsFromEnvironment());
