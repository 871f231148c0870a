import { type JobEventsDeps, jobEvents } from '#core/use-cases/job-events.ts';
import { type HttpDeps, httpHandler, json, pathParameter, principalOf } from './http.ts';

/** GET /api/v1/spark/jobs/{jobId}/events → the job's history, oldest first. */
export function createListJobEventsHandler(deps: HttpDeps & JobEventsDeps) {
  return httpHandler(deps, async (event) => {
    const jobId = pathParameter(event, 'jobId');
    const events = await jobEvents(deps, principalOf(event), jobId);
    return json(200, { jobId, events });
  });
}
