import { apiDepsFromEnvironment } from '#adapters/compose.ts';
import { createSubmitJobHandler } from '#handlers/submit-job.ts';

export const handler = createSubmitJobHandler(apiDepsFromEnvironment());
