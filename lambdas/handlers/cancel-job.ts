import type { ApiDeps } from './api-deps.ts';
import { httpHandler, json, pathParameter, principalOf } from './http.ts';

/**
 * DELETE /api/v1/spark/jobs/{jobId} → cancels a job that has not finished: 200 once it is
 * CANCELLED, 202 while its run is being stopped (CANCELLING).
 */
export function createCancelJobHandler(deps: ApiDeps) {
  return httpHandler(deps, async (event) => {
    const result = await deps.jobs.cancel(principalOf(event), pathParameter(event, 'jobId'));
    return json(result.status === 'CANCELLING' ? 202 : 200, result);
  });
}
