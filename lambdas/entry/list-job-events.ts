import { readOnlyApiFromEnvironment } from '#adapters/aws-environment.ts';
import { tracedHandler } from '#adapters/tracing.ts';
import { createListJobEventsHandler } from '#handlers/list-job-events.ts';

// Reads the table only (DynamoDB, at init): no other AWS client is loaded or given.
export const handler = tracedHandler(createListJobEventsHandler(readOnlyApiFromEnvironment()));
