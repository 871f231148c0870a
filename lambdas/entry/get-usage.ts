import { readOnlyApiFromEnvironment } from '#adapters/aws-environment.ts';
import { edgeMiddlewares } from '#adapters/edge.ts';
import { createGetUsageHandler } from '#handlers/get-usage.ts';
import { HTTP_EVENT } from '#handlers/http.ts';

// Reads the table's usage items only (DynamoDB, at init): no other AWS client is loaded or given.
export const handler = createGetUsageHandler({
  ...readOnlyApiFromEnvironment(),
  edge: edgeMiddlewares(HTTP_EVENT),
});
