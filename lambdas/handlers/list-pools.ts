import { type ListPoolsDeps, listPools } from '#core/use-cases/list-pools.ts';
import { type HttpDeps, httpHandler, json, principalOf } from './http.ts';

/** GET /api/v1/spark/pools → each pool the caller may use: limits, used, running, waiting. */
export function createListPoolsHandler(deps: HttpDeps & ListPoolsDeps) {
  return httpHandler(deps, async (event) => {
    const pools = await listPools(deps, principalOf(event));
    return json(200, { pools });
  });
}
