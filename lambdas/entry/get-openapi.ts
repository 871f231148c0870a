import { Logger } from '@aws-lambda-powertools/logger';
import { tracedHandler } from '#adapters/tracing.ts';
import { createGetOpenApiHandler } from '#handlers/get-openapi.ts';

// Serves the document bundled into it: no AWS client, no configuration.
export const handler = tracedHandler(
  createGetOpenApiHandler({ logger: new Logger({ serviceName: 'libra' }) }),
);
