import { storeWiringFromEnvironment } from '#adapters/aws-environment.ts';
import { poolStore } from '#adapters/table-stores.ts';
import { edgeMiddlewares } from '#compose/edge.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createListPoolsHandler } from '#handlers/list-pools.ts';

// Reads the table only (DynamoDB, at init): each visible pool's item.
const wiring = storeWiringFromEnvironment();

export const handler = createListPoolsHandler({
  ...wiring,
  pools: poolStore(wiring),
  edge: edgeMiddlewares(HTTP_EVENT),
});
