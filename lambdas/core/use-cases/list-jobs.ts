import { isAdmin, type LibraConfig } from '../config.ts';
import { ForbiddenError, ValidationError } from '../errors.ts';
import { JOB_STATUSES, type JobStatus } from '../job-states.ts';
import type { JobPage, JobStore, TagFilter } from '../ports.ts';

/** What listing calls: one query of the job index, and who the admins are. */
export interface ListJobsDeps {
  readonly jobs: Pick<JobStore, 'listJobs'>;
  readonly config: LibraConfig;
}

export interface ListParams {
  readonly limit?: string;
  readonly nextToken?: string;
  readonly status?: string;
  readonly pool?: string;
  readonly tag?: string;
  readonly owner?: string;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** The caller's jobs (an admin's: anyone's), newest first, filtered and paged. */
export async function listJobs(deps: ListJobsDeps, principal: string, params: ListParams): Promise<JobPage> {
  const errors: { field: string; message: string }[] = [];
  let limit = DEFAULT_PAGE_SIZE;
  if (params.limit !== undefined) {
    limit = Number(params.limit);
    if (!/^\d+$/.test(params.limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      errors.push({ field: 'limit', message: `a whole number from 1 to ${MAX_PAGE_SIZE}` });
    }
  }
  let status: JobStatus | undefined;
  if (params.status !== undefined) {
    status = JOB_STATUSES.find((s) => s === params.status);
    if (!status) errors.push({ field: 'status', message: `one of ${JOB_STATUSES.join(', ')}` });
  }
  let tag: TagFilter | undefined;
  if (params.tag !== undefined) {
    const eq = params.tag.indexOf('=');
    tag = eq < 0 ? { key: params.tag } : { key: params.tag.slice(0, eq), value: params.tag.slice(eq + 1) };
    if (tag.key === '') errors.push({ field: 'tag', message: 'key or key=value' });
  }
  if (errors.length > 0) throw new ValidationError('the query has invalid parameters', errors);

  let owner = principal;
  if (params.owner !== undefined && params.owner !== principal) {
    if (!isAdmin(deps.config, principal)) {
      throw new ForbiddenError("only admins may list another caller's jobs", [
        { field: 'owner', message: 'admins only' },
      ]);
    }
    owner = params.owner;
  }
  return deps.jobs.listJobs({
    owner,
    limit,
    ...(params.nextToken !== undefined && { nextToken: params.nextToken }),
    ...(status !== undefined && { status }),
    ...(params.pool !== undefined && { pool: params.pool }),
    ...(tag !== undefined && { tag }),
  });
}
