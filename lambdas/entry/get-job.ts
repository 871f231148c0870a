import { readOnlyApiFromEnvironment } from '#adapters/aws-environment.ts';
import { tracedHandler } from '#adapters/tracing.ts';
import { createGetJobHandler } from '#handlers/get-job.ts';

// Reads the table only (DynamoDB, at init): no other AWS client is loaded or given.
export const handler = tracedHandler(createGetJobHandler(readOnlyApiFromEnvironment()));
