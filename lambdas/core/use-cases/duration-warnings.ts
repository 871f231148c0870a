import { passEachPool } from '../admission.ts';
import type { LibraConfig } from '../config.ts';
import type { JobEvent, JobRecord } from '../job-record.ts';
import { DURATION_WARNING } from '../job-request.ts';
import type { Clock, JobNotifier, LogPort, MetricsSink } from '../ports.ts';

/**
 * Duration warnings: a run still going `warnAfterMinutes` after it started gets one
 * DURATION_WARNING history event per attempt, a count of the `durationWarnings` metric, and the
 * owner's webhook when subscribed.
 *
 * How running jobs are found without reading them on every tick: a job with a warning carries
 * `warnPool` from its submit, and every move to RUNNING sets `warnAt` to the run's start (the job
 * workflow's MarkRunning; the workflow cannot add minutes to a time). The sparse index on
 * (`warnPool`, `warnAt`) then holds only running jobs with a warning, and the tick asks it for
 * `warnAt <= now`, one query per pool. A job found at its run's start has its `warnAt` moved on to
 * its warning's due time, once per attempt; a job found at its due time is warned, and its `warnAt`
 * removed, as every move out of RUNNING removes it. A tick thus reads a job twice per attempt at
 * most, however long it runs, and the query returns only jobs that need something done.
 */

/** A job the index says is due: its id, and the `warnAt` the index holds for it. */
export interface DueWarning {
  readonly jobId: string;
  readonly warnAt: string;
}

export interface DueWarningPage {
  readonly due: DueWarning[];
  readonly next?: Readonly<Record<string, unknown>>;
}

/** The DURATION_WARNING history item of one attempt. */
export interface DurationWarningEvent extends JobEvent {
  readonly type: 'DURATION_WARNING';
  readonly status: 'RUNNING';
  readonly detail: {
    readonly attempt: number;
    readonly warnAfterMinutes: number;
    readonly runStartedAt: string;
    readonly detectedAt: string;
  };
}

/** The job store's part in the warnings (DynamoJobStore). */
export interface DurationWarningStore {
  /**
   * Jobs of the pool whose `warnAt` is at or before `now`, a page of at most `limit` from the sparse
   * index, and where the next page starts.
   */
  dueWarnings(
    pool: string,
    now: string,
    limit: number,
    start?: Readonly<Record<string, unknown>>,
  ): Promise<DueWarningPage>;
  getJob(jobId: string): Promise<JobRecord | undefined>;
  /**
   * Moves `warnAt` from `seen` to `dueAt` while the job is RUNNING the same attempt; false when it
   * is not (it moved on, or another tick moved `warnAt` first).
   */
  rescheduleWarning(
    jobId: string,
    seen: { warnAt: string; attempts: number },
    dueAt: string,
  ): Promise<boolean>;
  /**
   * Writes the attempt's warning, once: its item's key is made of the job, the due time and the
   * attempt, and the write is conditional on it not existing. False when it did already.
   */
  recordWarning(event: DurationWarningEvent): Promise<boolean>;
  /** Removes `warnAt` if it still holds `seen`. */
  clearWarning(jobId: string, seen: string): Promise<void>;
}

export interface DurationWarningsDeps {
  readonly config: Pick<LibraConfig, 'pools'>;
  readonly jobs: DurationWarningStore;
  readonly notifier: JobNotifier;
  readonly metrics: MetricsSink;
  readonly clock: Clock;
  readonly logger: LogPort;
  /** The length of one minute: 60,000 ms, shorter in tests, as the local engine's minute is. */
  readonly minuteMs?: number;
}

export interface WarningReport {
  readonly pool: string;
  /** Jobs warned by this pass. */
  readonly warned: string[];
  /** Jobs whose run had started, whose warning is now due later. */
  readonly scheduled: string[];
}

/** What a tick does with a job the index gave it. */
export type WarningStep =
  | { readonly kind: 'skip'; readonly why: string }
  | { readonly kind: 'schedule'; readonly dueAt: string }
  | { readonly kind: 'warn'; readonly dueAt: string; readonly attempt: number };

/** Due jobs read per query; a tick reads on while the index has more. */
export const DUE_WARNINGS_PER_PAGE = 100;

/** The metric counted once per warning, per pool. */
export const DURATION_WARNINGS_METRIC = 'durationWarnings';

/**
 * What to do with a job whose `warnAt` (`seen`) the index gave as due at `now`: nothing if it no
 * longer runs that attempt; else warn if its run has gone past its warning, or look again then.
 */
export function warningStep(job: JobRecord, seen: string, now: Date, minuteMs: number): WarningStep {
  const minutes = job.spec.warnAfterMinutes;
  if (job.status !== 'RUNNING') return { kind: 'skip', why: `the job is ${job.status}` };
  if (minutes === undefined) return { kind: 'skip', why: 'the job has no warning' };
  if (job.warnAt !== seen || job.runStartedAt === undefined) {
    return { kind: 'skip', why: 'its warning moved on since the index was read' };
  }
  const due = Date.parse(job.runStartedAt) + minutes * minuteMs;
  const dueAt = new Date(due).toISOString();
  if (due > now.getTime()) return { kind: 'schedule', dueAt };
  return { kind: 'warn', dueAt, attempt: Math.max(0, job.attempts - 1) };
}

export class DurationWarnings {
  readonly #deps: DurationWarningsDeps;
  readonly #minuteMs: number;

  constructor(deps: DurationWarningsDeps) {
    this.#deps = deps;
    this.#minuteMs = deps.minuteMs ?? 60_000;
  }

  /** Every configured pool; one that fails does not stop the others (PoolPassesFailed). */
  async checkAll(): Promise<WarningReport[]> {
    return passEachPool(
      Object.keys(this.#deps.config.pools),
      (pool) => this.checkPool(pool),
      this.#deps.logger,
    );
  }

  /**
   * One query of the pool's due warnings (more pages only when more than a page is due at once),
   * then for each job the step it needs.
   */
  async checkPool(pool: string): Promise<WarningReport> {
    const { jobs, clock } = this.#deps;
    const now = clock();
    const report: WarningReport = { pool, warned: [], scheduled: [] };
    let start: Readonly<Record<string, unknown>> | undefined;
    do {
      const page = await jobs.dueWarnings(pool, now.toISOString(), DUE_WARNINGS_PER_PAGE, start);
      for (const due of page.due) await this.#look(due, now, report);
      start = page.next;
    } while (start);
    return report;
  }

  async #look(due: DueWarning, now: Date, report: WarningReport): Promise<void> {
    const { jobs } = this.#deps;
    const job = await jobs.getJob(due.jobId);
    if (!job) {
      await jobs.clearWarning(due.jobId, due.warnAt);
      return;
    }
    const step = warningStep(job, due.warnAt, now, this.#minuteMs);
    if (step.kind === 'schedule') {
      const seen = { warnAt: due.warnAt, attempts: job.attempts };
      if (await jobs.rescheduleWarning(job.jobId, seen, step.dueAt)) report.scheduled.push(job.jobId);
    } else if (step.kind === 'warn') {
      if (await this.#warn(job, step, due.warnAt, now)) report.warned.push(job.jobId);
    }
  }

  /**
   * The attempt's warning: the history item decides who gives it (two ticks racing write it
   * once); its writer counts it and calls the webhook. `warnAt` is removed either way.
   */
  async #warn(
    job: JobRecord,
    step: Extract<WarningStep, { kind: 'warn' }>,
    seen: string,
    now: Date,
  ): Promise<boolean> {
    const { jobs, metrics, logger } = this.#deps;
    const recorded = await jobs.recordWarning({
      jobId: job.jobId,
      at: step.dueAt,
      type: 'DURATION_WARNING',
      status: 'RUNNING',
      detail: {
        attempt: step.attempt,
        warnAfterMinutes: job.spec.warnAfterMinutes ?? 0,
        runStartedAt: job.runStartedAt ?? step.dueAt,
        detectedAt: now.toISOString(),
      },
    });
    await jobs.clearWarning(job.jobId, seen);
    if (!recorded) return false;
    metrics.count(DURATION_WARNINGS_METRIC, job.pool);
    logger.info('run past its duration warning', {
      jobId: job.jobId,
      attempt: step.attempt,
      warnAfterMinutes: job.spec.warnAfterMinutes,
    });
    if (job.spec.notifications?.events.includes(DURATION_WARNING)) await this.#notify(job);
    return true;
  }

  async #notify(job: JobRecord): Promise<void> {
    try {
      await this.#deps.notifier.notify(job.jobId, DURATION_WARNING);
    } catch (error) {
      // The notifier records failed deliveries itself; a webhook never holds up the others' warnings.
      this.#deps.logger.warn('duration warning webhook not delivered', {
        jobId: job.jobId,
        error: error as Error,
      });
    }
  }
}
