import { apiDepsFromEnvironment } from '#adapters/compose.ts';
import { createListJobEventsHandler } from '#handlers/list-job-events.ts';

export const handler = createListJobEventsHandler(apiDepsFromEnvironment());
