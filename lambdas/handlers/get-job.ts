import { type JobStatusDeps, jobStatus } from '#core/use-cases/job-status.ts';
import { type HttpDeps, httpHandler, json, pathParameter, principalOf } from './http.ts';

/** GET /api/v1/spark/jobs/{jobId} → the job's status, timestamps, attempts, reason and queue position. */
export function createGetJobHandler(deps: HttpDeps & JobStatusDeps) {
  return httpHandler(deps, async (event) => {
    const view = await jobStatus(deps, principalOf(event), pathParameter(event, 'jobId'));
    return json(200, view);
  });
}
