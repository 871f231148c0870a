import { JOBS_PATH } from '#core/api-paths.ts';
import { type SubmitJobDeps, submitJob } from '#core/use-cases/submit-job.ts';
import { type HttpDeps, httpHandler, json, jsonBody, principalOf } from './http.ts';

/** POST /api/v1/spark/jobs/submit → 202 with the job id, at once. */
export function createSubmitJobHandler(deps: HttpDeps & SubmitJobDeps) {
  return httpHandler(deps, async (event) => {
    const principal = principalOf(event);
    const body = jsonBody(event, deps.config.limits.maxBodyBytes);
    const { job } = await submitJob(deps, principal, body, event.headers['idempotency-key']);
    return json(
      202,
      { jobId: job.jobId, status: job.status, submittedAt: job.submittedAt },
      { location: `${JOBS_PATH}/${job.jobId}` },
    );
  });
}
