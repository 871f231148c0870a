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
import type { Clock, IntakeQueue, JobStore, LogPort, MetricsSink, PoolStore } from './ports.ts';

export interface FinisherDeps {
  readonly jobs: JobStore;
  readonly pools: PoolStore;
  readonly intake: IntakeQueue;
  readonly clock: Clock;
  readonly logger: LogPort;
  /** Counts jobsFinished for each end this finisher records; none when absent. */
  readonly metrics?: MetricsSink;
}

export interface FinishOptions {
  /** The only statuses the job may end from; every status that may reach `status` when absent. */
  readonly from?: readonly JobStatus[];
  /** A metric counted, with jobsFinished, by the call that makes the move. */
  readonly alsoCount?: string;
}

/**
 * The end of a job, in the order that keeps capacity honest: record the final state (the
 * conditional move decides who finishes a job that two parties end at once), give the
 * lease back, and wake the pool's admission so the next job takes the room. Each step is
 * idempotent: calling it again for a finished job only re-releases (a no-op) and re-wakes.
 * The call whose move wins counts the job in jobsFinished; one that finds the job already
 * ended (a retry, a race, a job the workflow ended) counts nothing, so each end counts once.
 */
export class Finisher {
  readonly #deps: FinisherDeps;

  constructor(deps: FinisherDeps) {
    this.#deps = deps;
  }

  async finish(
    jobId: string,
    status: TerminalStatus,
    reason?: Reason,
    options: FinishOptions = {},
  ): Promise<JobRecord | undefined> {
    const { jobs, pools, intake, clock, logger, metrics } = this.#deps;
    let job: JobRecord | undefined;
    try {
      job = await jobs.transition(jobId, options.from ?? allowedSources(status), status, {
        at: clock().toISOString(),
        ...(reason && { reason }),
      });
      // Counted as soon as the move is made: a later step that fails is retried, and the retry
      // finds the job ended and does not count it again.
      if (metrics) {
        countJobFinished(metrics, job.pool, status);
        if (options.alsoCount) metrics.count(options.alsoCount, job.pool);
      }
    } catch (error) {
      if (!(error instanceof TransitionConflict)) throw error;
      job = await jobs.getJob(jobId);
      if (!job || !isTerminal(job.status)) {
        logger.warn('job cannot finish from its state', { jobId, status: job?.status, wanted: status });
        return job;
      }
    }
    // The job's reservation is what its lease holds: give it back without reading the pool first.
    await pools.release(job.pool, jobId, job.reservation);
    // Woken whether or not this call gave the lease back: a first attempt that released and then
    // died before its wake left the room unused until the tick, and only its retry can wake now.
    await intake.send({ kind: 'wake', pool: job.pool, jobId });
    return job;
  }
}
