import { ConflictError, TransitionConflict } from '../errors.ts';
import type { JobEnder } from '../job-ender.ts';
import type { JobRecord } from '../job-record.ts';
import { isTerminal, type JobStatus, type Reason } from '../job-states.ts';
import type { Clock, JobStore, WorkflowControl } from '../ports.ts';
import { type VisibleJobDeps, visibleJob } from './visible-job.ts';

/** What a cancel calls: the job's read and move, its workflow's stop, and the two ways a job ends at once. */
export interface CancelJobDeps extends VisibleJobDeps {
  readonly jobs: Pick<JobStore, 'getJob' | 'transition'>;
  readonly workflows: Pick<WorkflowControl, 'stop'>;
  /** Ends a cancelled queued job: the move, its place in the queue, the count, the webhook. */
  readonly jobEnder: Pick<JobEnder, 'end'>;
  /** Ends a cancelled job whose workflow was not running (the finalizer, in-process). */
  readonly finalizeStopped: (jobId: string) => Promise<void>;
  readonly clock: Clock;
}

export interface CancelResult {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly cancelledAt?: string;
  readonly message: string;
}

/**
 * Cancels a job that has not finished. A queued job is cancelled at once. A scheduled, running
 * or retrying one moves to CANCELLING and its workflow is stopped; the finalizer then stops
 * the Spark run, gives the capacity back and records CANCELLED (or what the run reached
 * first). With no execution running, the finalizer runs at once.
 */
export async function cancelJob(
  deps: CancelJobDeps,
  principal: string,
  jobId: string,
  racesLeft = 3,
): Promise<CancelResult> {
  const job = await visibleJob(deps, principal, jobId);
  if (isTerminal(job.status)) {
    throw new ConflictError(`job ${jobId} is already ${job.status}`, [
      { field: 'status', message: `${job.status} is final` },
    ]);
  }
  if (job.status === 'CANCELLING') {
    return { jobId, status: 'CANCELLING', message: 'Cancellation in progress' };
  }
  const at = deps.clock().toISOString();
  const reason = { code: 'CANCELLED_BY_USER' as const, message: `cancelled by ${principal}` };
  if (job.status === 'QUEUED') return cancelQueued(deps, principal, jobId, reason, racesLeft);
  let moved: JobRecord;
  try {
    moved = await deps.jobs.transition(jobId, [job.status], 'CANCELLING', { at, reason });
  } catch (error) {
    if (!(error instanceof TransitionConflict)) throw error;
    return cancelMoved(deps, principal, jobId, error.actualStatus, racesLeft);
  }
  if (await deps.workflows.stop(jobId, reason.message)) {
    return { jobId, status: 'CANCELLING', message: 'Cancellation in progress' };
  }
  await deps.finalizeStopped(jobId);
  const now = (await deps.jobs.getJob(jobId)) ?? moved;
  return {
    jobId,
    status: now.status,
    ...(now.cancelledAt !== undefined && { cancelledAt: now.cancelledAt }),
    message: now.status === 'CANCELLING' ? 'Cancellation in progress' : `Job ${now.status.toLowerCase()}`,
  };
}

/** A queued job ends at once, as every end outside the workflow does (JobEnder.end). */
async function cancelQueued(
  deps: CancelJobDeps,
  principal: string,
  jobId: string,
  reason: Reason,
  racesLeft: number,
): Promise<CancelResult> {
  const { job, moved } = await deps.jobEnder.end(jobId, 'CANCELLED', reason, { from: ['QUEUED'] });
  if (!moved) return cancelMoved(deps, principal, jobId, job?.status, racesLeft);
  return {
    jobId,
    status: 'CANCELLED',
    ...(job?.cancelledAt !== undefined && { cancelledAt: job.cancelledAt }),
    message: 'Job cancelled successfully',
  };
}

/** The job moved while the cancel looked: cancel it where it is now, unless it ended. */
async function cancelMoved(
  deps: CancelJobDeps,
  principal: string,
  jobId: string,
  actual: JobStatus | undefined,
  racesLeft: number,
): Promise<CancelResult> {
  if ((actual !== undefined && isTerminal(actual)) || racesLeft <= 0) {
    throw new ConflictError(`job ${jobId} is ${actual}; it moved before the cancel`, [
      { field: 'status', message: `${actual}` },
    ]);
  }
  // It moved on (admitted, started, retried) while we looked: cancel it where it is now.
  return cancelJob(deps, principal, jobId, racesLeft - 1);
}
