import openApiDocument from '../../docs/openapi.json' with { type: 'json' };
import { type HttpDeps, httpHandler, json } from './http.ts';

/**
 * GET /api/v1/openapi.json → the API's OpenAPI document: docs/openapi.json as committed (a test
 * keeps it equal to the generator), bundled into the function, so answering costs no work.
 */
export function createGetOpenApiHandler(deps: HttpDeps) {
  return httpHandler(deps, async () => json(200, openApiDocument));
}
