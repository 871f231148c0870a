import type { ApiDeps } from './api-deps.ts';
import { JOBS_PATH } from './api-deps.ts';
import { httpHandler, json, jsonBody, principalOf } from './http.ts';

/** POST /api/v1/spark/jobs/submit → 202 with the job id, at once. */
export function createSubmitJobHandler(deps: ApiDeps) {
  return httpHandler(deps, async (event) => {
    const principal = principalOf(event);
    const body = jsonBody(event, deps.config.limits.maxBodyBytes);
    const { job } = await deps.jobs.submit(principal, body, event.headers['idempotency-key']);
    return json(
      202,
      { jobId: job.jobId, status: job.status, submittedAt: job.submittedAt },
      { location: `${JOBS_PATH}/${job.jobId}` },
    );
  });
}
