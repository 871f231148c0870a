import type { LibraConfig } from '../config.ts';
import { ConflictError, ValidationError } from '../errors.ts';
import { type JobRecord, MAX_LINKED_RERUNS } from '../job-record.ts';
import { parseRerunOverrides } from '../job-request.ts';
import { isTerminal } from '../job-states.ts';
import { requestOf } from '../kept-request.ts';
import type { JobStore, LogPort } from '../ports.ts';
import type { Submit, SubmitResult } from './submit-job.ts';
import { visibleJob } from './visible-job.ts';

/**
 * Re-run: a new job with a finished job's request, some of its fields changed. The request is
 * submitted again through the submit path itself, so it is validated, authorized, sized, placed,
 * checked against AWS's limits, queued and made idempotent exactly as a submit; the new job names
 * its original (`rerunOf`) and the original lists its newest re-runs (`reruns`, `rerunCount`).
 */
export interface RerunJobDeps {
  /** Reads the original (as a status read does) and links the new job from it. */
  readonly jobs: Pick<JobStore, 'getJob' | 'setReruns'>;
  /** Who is an admin: an admin may re-run anyone's job; anyone else only their own. */
  readonly config: LibraConfig;
  readonly submit: Submit;
  readonly logger: LogPort;
}

/** Re-runs `jobId` for `principal` with `overrides` (the request body); the new job is the caller's. */
export type RerunJob = (
  principal: string,
  jobId: string,
  overrides: unknown,
  idempotencyKey?: string,
) => Promise<SubmitResult>;

/** Concurrent re-runs of one job each link theirs by a conditional write: the losers read again. */
const LINK_TRIES = 8;

export function rerunJob(deps: RerunJobDeps): RerunJob {
  return async (principal, jobId, overrides, idempotencyKey) => {
    // Someone else's job does not exist for the caller, as in a status read.
    const original = await visibleJob(deps, principal, jobId);
    if (!isTerminal(original.status)) {
      throw new ConflictError(`job ${jobId} is ${original.status}: only a finished job can be re-run`, [
        { field: 'status', message: `${original.status} is not final; wait for it to end, or cancel it` },
      ]);
    }
    const request = storedRequest(original);
    const parsed = parseRerunOverrides(overrides);
    if (!parsed.ok) throw new ValidationError('the re-run has invalid fields', parsed.errors);
    const result = await deps.submit(principal, { ...request, ...parsed.overrides }, idempotencyKey, {
      rerunOf: jobId,
    });
    // Also on a replay: the first try may have stopped between the new job and the link.
    await linkRerun(deps, original, result.job.jobId);
    return result;
  };
}

/** The original's request, as its submit validated it, rebuilt from its record. */
function storedRequest(job: JobRecord): Readonly<Record<string, unknown>> {
  if (job.request === undefined) {
    throw new ConflictError(`job ${job.jobId} was submitted before Libra kept requests to re-run`, [
      { field: 'jobId', message: 'its request was not kept: submit it again instead' },
    ]);
  }
  return requestOf(job.request, job.spec);
}

/**
 * Appends the new job to the original's newest re-runs, keeping MAX_LINKED_RERUNS of them, and
 * counts it; conditional on the count read, so that concurrent re-runs never lose one another.
 */
async function linkRerun(deps: RerunJobDeps, original: JobRecord, rerunId: string): Promise<void> {
  let job: JobRecord | undefined = original;
  for (let tries = 0; job !== undefined && tries < LINK_TRIES; tries++) {
    if (job.reruns?.includes(rerunId)) return;
    const count = job.rerunCount ?? 0;
    const reruns = [...(job.reruns ?? []), rerunId].slice(-MAX_LINKED_RERUNS);
    if (await deps.jobs.setReruns(job.jobId, count, reruns, count + 1)) return;
    job = await deps.jobs.getJob(original.jobId);
  }
  // The new job is queued and names its original; only the original's list misses it. A retry
  // with the same Idempotency-Key links it.
  deps.logger.warn('re-run not listed on its original', { jobId: original.jobId, rerunId });
}
