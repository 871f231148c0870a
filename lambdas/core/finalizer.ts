import { TransitionConflict } from './errors.ts';
import type { JobEnder } from './job-ender.ts';
import type { JobRecord } from './job-record.ts';
import { canMove, isTerminal, type Reason, type TerminalStatus } from './job-states.ts';
import type { Clock, ExecutionState, JobStore, LogPort, SparkRunControl } from './ports.ts';

/**
 * Ends jobs whose workflow could not end them itself: the execution was stopped (a cancel),
 * failed outside the workflow's own error handling, or timed out as a whole. In AWS an
 * EventBridge rule on execution status calls it; the reconciler calls it for executions that
 * ended unseen; the cancel of a job with no running execution calls it at once. It stops the
 * Spark run when one may still be going and decides the true final state — CANCELLED, or what
 * the run reached before the cancel; the job ender then ends the job as every other end outside
 * the workflow: the move, the count, the release, the wake and the webhook.
 */
export interface FinalizerDeps {
  readonly jobs: JobStore;
  readonly jobEnder: JobEnder;
  readonly runs: SparkRunControl;
  readonly clock: Clock;
  readonly logger: LogPort;
}

export type EndedExecution = Exclude<ExecutionState, 'RUNNING' | 'SUCCEEDED'>;

/** The backend run states that mean the run ended on its own before it was stopped. */
/** The reason of a stop no user's cancel explains. */
const CANCELLED: Reason = { code: 'CANCELLED_BY_USER', message: 'the workflow was stopped' };

const RUN_ENDED: Readonly<Record<string, TerminalStatus>> = {
  SUCCESS: 'SUCCEEDED',
  COMPLETED: 'SUCCEEDED',
  FAILED: 'FAILED',
};

export class Finalizer {
  readonly #deps: FinalizerDeps;

  constructor(deps: FinalizerDeps) {
    this.#deps = deps;
  }

  /** Called when the job's execution ended as ABORTED, FAILED or TIMED_OUT. */
  async executionEnded(jobId: string, ended: EndedExecution, cause?: string): Promise<JobRecord | undefined> {
    const { jobs, jobEnder, logger } = this.#deps;
    const job = await jobs.getJob(jobId);
    if (!job) {
      logger.warn('execution ended for an unknown job', { jobId, ended });
      return undefined;
    }
    if (isTerminal(job.status)) {
      // The workflow or another party ended it, and counted and notified: only the release and the
      // wake may be missing.
      await jobEnder.giveBack(job.pool, jobId, job);
      return job;
    }
    await this.#cancelRun(job);

    const { status, reason } = await this.#decide(job, ended, cause);
    if (!canMove(job.status, status) && canMove(job.status, 'CANCELLING')) {
      try {
        await jobs.transition(jobId, [job.status], 'CANCELLING', {
          at: this.#now(),
          reason: reason ?? CANCELLED,
        });
      } catch (error) {
        if (!(error instanceof TransitionConflict)) throw error;
      }
    }
    return jobEnder.finish(jobId, status, reason);
  }

  /**
   * How a job whose execution ended outside the workflow ends. A run that ended on its own before
   * a stop reached it decides the end, as the workflow's own marks would have: SUCCEEDED with no
   * reason (a move to SUCCEEDED clears the cancel's "cancelled by …"; the history keeps the
   * cancel), or FAILED saying the run failed. Else a stop is CANCELLED, a workflow time-out is
   * TIMEOUT, and a failed execution is FAILED.
   */
  async #decide(
    job: JobRecord,
    ended: EndedExecution,
    cause: string | undefined,
  ): Promise<{ status: TerminalStatus; reason?: Reason }> {
    let status: TerminalStatus;
    let reason: Reason | undefined;
    const ranTo = job.backendState ? RUN_ENDED[job.backendState] : undefined;
    if (ended === 'ABORTED') {
      const runEnded = ranTo && (await this.#runWasGoing(job)) ? ranTo : undefined;
      if (runEnded === 'SUCCEEDED') {
        status = 'SUCCEEDED';
      } else if (runEnded) {
        status = runEnded;
        reason = { code: 'SPARK_JOB_FAILED', message: 'the run failed before the cancel reached it' };
      } else {
        status = 'CANCELLED';
        reason =
          job.status === 'CANCELLING' && job.reason?.code === 'CANCELLED_BY_USER' ? job.reason : CANCELLED;
      }
    } else if (ended === 'TIMED_OUT') {
      status = 'TIMEOUT';
      reason = { code: 'RUN_TIMEOUT', message: 'the workflow execution timed out' };
    } else {
      status = 'FAILED';
      reason = { code: 'BACKEND_UNAVAILABLE', message: cause ?? 'the workflow execution failed' };
    }
    // The moves table is the law: an ending the job cannot reach from where it stands goes
    // through CANCELLING (as a user's cancel does), and one it cannot reach at all is a failure.
    if (
      !canMove(job.status, status) &&
      !(canMove(job.status, 'CANCELLING') && canMove('CANCELLING', status))
    ) {
      return {
        status: 'FAILED',
        reason: reason ?? { code: 'BACKEND_UNAVAILABLE', message: 'the run ended unseen' },
      };
    }
    return { status, ...(reason && { reason }) };
  }

  /**
   * Whether a run was going when the execution was stopped: the job was RUNNING, or was RUNNING
   * when the cancel moved it to CANCELLING. A job stopped while SCHEDULED or waiting to retry has
   * no run; the backend state on its record is then that of an attempt the workflow had already
   * dealt with (its FAILED event can arrive after the retry decision), not how the job ended.
   */
  async #runWasGoing(job: JobRecord): Promise<boolean> {
    if (job.status !== 'CANCELLING') return job.status === 'RUNNING';
    const events = await this.#deps.jobs.listEvents(job.jobId);
    const cancelling = events.findLast((event) => event.type === 'STATUS' && event.status === 'CANCELLING');
    return cancelling?.from === undefined || cancelling.from === 'RUNNING';
  }

  /** The workflow's StopRun step: a run its state timeout left behind is stopped. */
  async stopRun(jobId: string): Promise<void> {
    const job = await this.#deps.jobs.getJob(jobId);
    if (job) await this.#cancelRun(job);
  }

  async #cancelRun(job: JobRecord): Promise<void> {
    try {
      await this.#deps.runs.cancelRun(job);
    } catch (error) {
      // The backend's own execution timeout is the backstop for a run we could not stop.
      this.#deps.logger.error('could not cancel the Spark run', { jobId: job.jobId, error: error as Error });
    }
  }

  #now(): string {
    return this.#deps.clock().toISOString();
  }
}
