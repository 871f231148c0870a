import { storeWiringFromEnvironment } from '#adapters/aws-environment.ts';
import { jobStore } from '#adapters/table-stores.ts';
import { edgeMiddlewares } from '#compose/edge.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createListJobsHandler } from '#handlers/list-jobs.ts';

// Reads the table only (DynamoDB, at init): one query of the job index.
const wiring = storeWiringFromEnvironment();

export const handler = createListJobsHandler({
  ...wiring,
  jobs: jobStore(wiring),
  edge: edgeMiddlewares(HTTP_EVENT),
});
