import type { ApiDeps } from './api-deps.ts';
import { httpHandler, json, pathParameter, principalOf } from './http.ts';

/** GET /api/v1/spark/jobs/{jobId} → the job's status, timestamps, attempts, reason and queue position. */
export function createGetJobHandler(deps: ApiDeps) {
  return httpHandler(deps, async (event) => {
    const view = await deps.jobs.status(principalOf(event), pathParameter(event, 'jobId'));
    return json(200, view);
  });
}
