import { listPools } from '#core/pool-view.ts';
import type { ApiDeps } from './api-deps.ts';
import { httpHandler, json, principalOf } from './http.ts';

/** GET /api/v1/spark/pools → each pool the caller may use: limits, used, running, waiting. */
export function createListPoolsHandler(deps: ApiDeps) {
  return httpHandler(deps, async (event) => {
    const pools = await listPools(deps.config, deps.pools, principalOf(event));
    return json(200, { pools });
  });
}
