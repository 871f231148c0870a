import { readOnlyApiFromEnvironment } from '#adapters/aws-environment.ts';
import { edgeMiddlewares } from '#adapters/edge.ts';
import { createGetJobHandler } from '#handlers/get-job.ts';
import { HTTP_EVENT } from '#handlers/http.ts';

// Reads the table only (DynamoDB, at init): no other AWS client is loaded or given.
export const handler = createGetJobHandler({
  ...readOnlyApiFromEnvironment(),
  edge: edgeMiddlewares(HTTP_EVENT),
});
