import type { LibraConfig } from '#core/config.ts';
import type { RerunJob } from '#core/use-cases/rerun-job.ts';
import { JOBS_PATH } from './api-deps.ts';
import { type HttpDeps, httpHandler, json, jsonBody, pathParameter, principalOf } from './http.ts';

export interface RerunJobHandlerDeps extends HttpDeps {
  readonly config: LibraConfig;
  readonly rerun: RerunJob;
}

/**
 * POST /api/v1/spark/jobs/{jobId}/rerun → 202 with the new job's id, at once. The body (optional)
 * holds the fields to change; none, or an empty body, re-runs the request as it was.
 */
export function createRerunJobHandler(deps: RerunJobHandlerDeps) {
  return httpHandler(deps, async (event) => {
    const principal = principalOf(event);
    const jobId = pathParameter(event, 'jobId');
    const body = event.body ? jsonBody(event, deps.config.limits.maxBodyBytes) : {};
    const { job } = await deps.rerun(principal, jobId, body, event.headers['idempotency-key']);
    return json(
      202,
      { jobId: job.jobId, status: job.status, submittedAt: job.submittedAt, rerunOf: jobId },
      { location: `${JOBS_PATH}/${job.jobId}` },
    );
  });
}
