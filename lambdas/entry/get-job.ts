import { storeWiringFromEnvironment } from '#adapters/aws-environment.ts';
import { jobStore, poolStore } from '#adapters/table-stores.ts';
import { edgeMiddlewares } from '#compose/edge.ts';
import { createGetJobHandler } from '#handlers/get-job.ts';
import { HTTP_EVENT } from '#handlers/http.ts';

// Reads the table only (DynamoDB, at init): the job, and for a queued one its pool's queue.
const wiring = storeWiringFromEnvironment();

export const handler = createGetJobHandler({
  ...wiring,
  jobs: jobStore(wiring),
  pools: poolStore(wiring),
  edge: edgeMiddlewares(HTTP_EVENT),
});
