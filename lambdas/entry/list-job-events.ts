import { storeWiringFromEnvironment } from '#adapters/aws-environment.ts';
import { jobStore } from '#adapters/table-stores.ts';
import { edgeMiddlewares } from '#compose/edge.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createListJobEventsHandler } from '#handlers/list-job-events.ts';

// Reads the table only (DynamoDB, at init): the job, then its history.
const wiring = storeWiringFromEnvironment();

export const handler = createListJobEventsHandler({
  ...wiring,
  jobs: jobStore(wiring),
  edge: edgeMiddlewares(HTTP_EVENT),
});
