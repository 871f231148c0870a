import { apiDepsFromEnvironment } from '#adapters/compose.ts';
import { createListPoolsHandler } from '#handlers/list-pools.ts';

export const handler = createListPoolsHandler(apiDepsFromEnvironment());
