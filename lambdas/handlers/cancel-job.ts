import { type CancelJobDeps, cancelJob } from '#core/use-cases/cancel-job.ts';
import { type HttpDeps, httpHandler, json, pathParameter, principalOf } from './http.ts';

/**
 * DELETE /api/v1/spark/jobs/{jobId} → cancels a job that has not finished: 200 once it is
 * CANCELLED, 202 while its run is being stopped (CANCELLING).
 */
export function createCancelJobHandler(deps: HttpDeps & CancelJobDeps) {
  return httpHandler(deps, async (event) => {
    const result = await cancelJob(deps, principalOf(event), pathParameter(event, 'jobId'));
    return json(result.status === 'CANCELLING' ? 202 : 200, result);
  });
}
