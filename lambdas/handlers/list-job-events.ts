import type { ApiDeps } from './api-deps.ts';
import { httpHandler, json, pathParameter, principalOf } from './http.ts';

/** GET /api/v1/spark/jobs/{jobId}/events → the job's history, oldest first. */
export function createListJobEventsHandler(deps: ApiDeps) {
  return httpHandler(deps, async (event) => {
    const jobId = pathParameter(event, 'jobId');
    const events = await deps.jobs.events(principalOf(event), jobId);
    return json(200, { jobId, events });
  });
}
