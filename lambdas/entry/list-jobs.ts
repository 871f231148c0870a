import { readOnlyApiFromEnvironment } from '#adapters/aws-environment.ts';
import { edgeMiddlewares } from '#adapters/edge.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createListJobsHandler } from '#handlers/list-jobs.ts';

// Reads the table only (DynamoDB, at init): no other AWS client is loaded or given.
export const handler = createListJobsHandler({
  ...readOnlyApiFromEnvironment(),
  edge: edgeMiddlewares(HTTP_EVENT),
});
