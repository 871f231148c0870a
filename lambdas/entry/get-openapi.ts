import { logger } from '#adapters/powertools.ts';
import { edgeMiddlewares } from '#compose/edge.ts';
import { createGetOpenApiHandler } from '#handlers/get-openapi.ts';
import { HTTP_EVENT } from '#handlers/http.ts';

// Serves the document bundled into it: no AWS client, no configuration.
export const handler = createGetOpenApiHandler({ logger, edge: edgeMiddlewares(HTTP_EVENT) });
