import { storeWiringFromEnvironment } from '#adapters/aws-environment.ts';
import { systemClock, usageLedger } from '#adapters/table-stores.ts';
import { edgeMiddlewares } from '#compose/edge.ts';
import { createGetUsageHandler } from '#handlers/get-usage.ts';
import { HTTP_EVENT } from '#handlers/http.ts';

// GET /api/v1/spark/usage. Reads the table's usage items only (DynamoDB, at init): no other AWS
// client is loaded or given.
const wiring = storeWiringFromEnvironment();

export const handler = createGetUsageHandler({
  ...wiring,
  usage: usageLedger(wiring),
  clock: systemClock,
  edge: edgeMiddlewares(HTTP_EVENT),
});
