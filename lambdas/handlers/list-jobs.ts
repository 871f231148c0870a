import { type ListJobsDeps, listJobs } from '#core/use-cases/list-jobs.ts';
import { type HttpDeps, httpHandler, json, principalOf } from './http.ts';

/** GET /api/v1/spark/jobs → the caller's jobs, newest first, filtered and paged. */
export function createListJobsHandler(deps: HttpDeps & ListJobsDeps) {
  return httpHandler(deps, async (event) => {
    const query = event.queryStringParameters ?? {};
    const page = await listJobs(deps, principalOf(event), {
      ...(query.limit !== undefined && { limit: query.limit }),
      ...(query.nextToken !== undefined && { nextToken: query.nextToken }),
      ...(query.status !== undefined && { status: query.status }),
      ...(query.pool !== undefined && { pool: query.pool }),
      ...(query.tag !== undefined && { tag: query.tag }),
      ...(query.owner !== undefined && { owner: query.owner }),
    });
    return json(200, page);
  });
}
