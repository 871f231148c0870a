import { apiDepsFromEnvironment } from '#adapters/compose.ts';
import { createListJobsHandler } from '#handlers/list-jobs.ts';

export const handler = createListJobsHandler(apiDepsFromEnvironment());
