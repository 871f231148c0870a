import { TransitionConflict } from './errors.ts';
import { countJobFinished } from './job-ends.ts';
import type { JobRecord } from './job-record.ts';
import {
  allowedSources,
  isTerminal,
  type JobStatus,
  type Reason,
  type TerminalStatus,
} from './job-states.ts';
import type {
  Clock,
  HeldLease,
  IntakeQueue,
  JobNotifier,
  JobStore,
  LogPort,
  MetricsSink,
  PoolStore,
} from './ports.ts';

export interface JobEnderDeps {
  readonly jobs: JobStore;
  readonly pools: PoolStore;
  readonly intake: IntakeQueue;
  /** Tells the owner how the job ended. */
  readonly notifier: JobNotifier;
  readonly clock: Clock;
  readonly logger: LogPort;
  /** Counts jobsFinished for each end this job ender records. */
  readonly metrics: MetricsSink;
}

export interface FinishOptions {
  /** The only statuses the job may end from; every status that may reach `status` when absent. */
  readonly from?: readonly JobStatus[];
  /** A metric counted, with jobsFinished, by the call that makes the move. */
  readonly alsoCount?: string;
}

/** What an end did: the job as it stands, and whether this call made its final move. */
export interface JobEnd {
  readonly job: JobRecord | undefined;
  readonly moved: boolean;
}

/**
 * Every end of a job outside the job workflow — a cancel of a queued job, a queue wait exceeded,
 * a workflow that cannot start, an execution stopped, failed or timed out (the finalizer, and the
 * reconciler through it), a local restart — goes through `end`, in the order that keeps capacity
 * honest:
 *
 * 1. the final move, one conditional write: it decides who ends a job two parties end at once;
 * 2. jobsFinished counted by the call whose move won, at once (a later step that fails is retried,
 *    and the retry finds the job ended and does not count it again);
 * 3. what the job held given back: a queued job its place in the queue (by the call that moved it),
 *    any other its lease — released without reading the pool, then the pool's admission woken;
 * 4. the owner's webhook for the status this call wanted, if the job stands at it.
 *
 * Steps 3 and 4 run again when the job is found already ended (a retry of an end that failed half
 * way): the release is a no-op then, and the webhook's id is stable, so a receiver sees one event.
 */
export class JobEnder {
  readonly #deps: JobEnderDeps;

  constructor(deps: JobEnderDeps) {
    this.#deps = deps;
  }

  /** The job as it stands after `end`. */
  async finish(
    jobId: string,
    status: TerminalStatus,
    reason?: Reason,
    options: FinishOptions = {},
  ): Promise<JobRecord | undefined> {
    return (await this.end(jobId, status, reason, options)).job;
  }

  async end(
    jobId: string,
    status: TerminalStatus,
    reason?: Reason,
    options: FinishOptions = {},
  ): Promise<JobEnd> {
    const from = options.from ?? allowedSources(status);
    const ended = await this.#move(jobId, from, status, reason, options.alsoCount);
    const { job, moved } = ended;
    if (!job || !isTerminal(job.status)) return ended;
    if (from.every((source) => source === 'QUEUED')) {
      // A queued job holds no lease (admission gives back one it took for a job that left the queue).
      if (moved) await this.#deps.pools.freeQueueSlot(job.pool, [job.priority]);
    } else {
      await this.giveBack(job.pool, jobId, job);
    }
    if (job.status === status && (!reason || job.reason?.code === reason.code)) await this.#notify(job);
    return ended;
  }

  /**
   * Gives a lease back and wakes the pool's admission so the next job takes the room. Woken whether
   * or not this call gave the lease back: a first attempt that released and then died before its
   * wake left the room unused until the tick, and only its retry can wake now.
   */
  async giveBack(pool: string, jobId: string, held?: HeldLease): Promise<void> {
    await this.#deps.pools.release(pool, jobId, held);
    await this.#deps.intake.send({ kind: 'wake', pool, jobId });
  }

  async #move(
    jobId: string,
    from: readonly JobStatus[],
    status: TerminalStatus,
    reason: Reason | undefined,
    alsoCount: string | undefined,
  ): Promise<JobEnd> {
    const { jobs, clock, logger, metrics } = this.#deps;
    try {
      const job = await jobs.transition(jobId, from, status, {
        at: clock().toISOString(),
        ...(reason && { reason }),
      });
      countJobFinished(metrics, job.pool, status);
      if (alsoCount) metrics.count(alsoCount, job.pool);
      return { job, moved: true };
    } catch (error) {
      if (!(error instanceof TransitionConflict)) throw error;
      const job = await jobs.getJob(jobId);
      if (!job || !isTerminal(job.status)) {
        logger.warn('job cannot finish from its state', { jobId, status: job?.status, wanted: status });
      }
      return { job, moved: false };
    }
  }

  async #notify(job: JobRecord): Promise<void> {
    try {
      await this.#deps.notifier.notify(job.jobId, job.status);
    } catch (error) {
      // A webhook never decides how a job ends; the notifier records failed deliveries itself.
      this.#deps.logger.warn('webhook for the final state not delivered', {
        jobId: job.jobId,
        status: job.status,
        error: error as Error,
      });
    }
  }
}
