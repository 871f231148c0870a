import { readOnlyApiFromEnvironment } from '#adapters/aws-environment.ts';
import { edgeMiddlewares } from '#adapters/edge.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createListJobEventsHandler } from '#handlers/list-job-events.ts';

// Reads the table only (DynamoDB, at init): no other AWS client is loaded or given.
export const handler = createListJobEventsHandler({
  ...readOnlyApiFromEnvironment(),
  edge: edgeMiddlewares(HTTP_EVENT),
});
