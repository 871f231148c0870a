import type { RunCost } from './cost.ts';
import { formatTag } from './fair-share.ts';
import type { JobType, NotificationEvent, RetryPolicy } from './job-request.ts';
import type { JobStatus, Reason } from './job-states.ts';
import type { Backend } from './placement.ts';
import type { Progress, ProgressEntries } from './progress.ts';
import type { Resources } from './sizing.ts';

/** What Libra runs, normalized at submit: the sized conf, the computed retry delays. */
export interface JobSpec {
  readonly jobType: JobType;
  readonly code?: string;
  readonly entryPoint?: string;
  readonly entryPointArguments?: readonly string[];
  readonly mainClass?: string;
  readonly sparkConf: Readonly<Record<string, string>>;
  readonly retryPolicy: RetryPolicy;
  readonly retryDelaysSeconds: readonly number[];
  readonly retryOnTimeout: boolean;
  readonly timeoutMinutes: number;
  readonly notifications?: { readonly webhook: string; readonly events: readonly NotificationEvent[] };
  /** The request's, or its pool's default when shorter than the timeout: a DURATION_WARNING after that. */
  readonly warnAfterMinutes?: number;
}

/** The capacity a job holds while admitted: its most, from sizing. */
export interface Reservation {
  readonly cpuCores: number;
  readonly memoryMiB: number;
}

export interface JobRecord {
  readonly jobId: string;
  readonly owner: string;
  readonly status: JobStatus;
  readonly pool: string;
  readonly backend: Backend;
  readonly priority: number;
  readonly name?: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly spec: JobSpec;
  readonly resources: Resources;
  readonly reservation: Reservation;
  readonly attempts: number;
  /**
   * The job's sequence number among its pool's jobs of its priority, taken when its queue slot
   * was reserved; its queue position past the counted head is estimated from it. Absent on
   * records written before it existed.
   */
  readonly queueSeq?: number;
  /**
   * The job's virtual start tag among its pool's jobs of its priority (core/fair-share.ts), taken
   * with its queue slot: the waiting index orders a priority's jobs by it. Absent on records
   * written before fair share.
   */
  readonly fairTag?: number;
  readonly submittedAt: string;
  readonly queuedAt?: string;
  readonly scheduledAt?: string;
  readonly startedAt?: string;
  readonly completedAt?: string;
  readonly cancelledAt?: string;
  readonly updatedAt: string;
  readonly reason?: Reason;
  readonly backendRunId?: string;
  /** The backend's own state of the current run (EMR's job-run state), from its state-change events. */
  readonly backendState?: string;
  /** The backend's words on that state (EMR's stateDetails), and when the backend reported it. */
  readonly backendDetails?: string;
  readonly backendUpdatedAt?: string;
  /** The error that ended the last failed attempt, as the workflow caught it. */
  readonly lastError?: { readonly name: string; readonly cause: string };
  /** Where to look at the run: Spark UI, logs, local output files. */
  readonly links?: Readonly<Record<string, string>>;
  /** Workflow starts that failed transiently while the job was SCHEDULED (none: absent). */
  readonly startAttempts?: number;
  /** When the tick may try the job's start again after such a failure. */
  readonly nextStartAt?: string;
  /** When the current (or last) attempt's run started: set by every move to RUNNING. */
  readonly runStartedAt?: string;
  /**
   * When the duration warnings look at the running job next (use-cases/duration-warnings.ts): the
   * run's start, then its warning's due time; removed when the warning is given or the run ends.
   * Only jobs with a warning (`warnPool`, written at submit) are in the index on it.
   */
  readonly warnAt?: string;
  /** When the job's webhook receiver answered 410: no more deliveries. */
  readonly webhookDisabledAt?: string;
  /** Each ended run's usage and cost, by the run's id (core/cost.ts); the job's cost is their sum. */
  readonly runCosts?: Readonly<Record<string, RunCost>>;
  /** Hash of the submitted body, kept for Idempotency-Key replays. */
  readonly requestHash: string;
  /**
   * What a re-run needs of the request beside the spec (a KeptRequest when written, kept-request.ts),
   * submitted again through the submit's validation. Absent on records written before re-runs existed.
   */
  readonly request?: Readonly<Record<string, unknown>>;
  /** The job this one re-runs. */
  readonly rerunOf?: string;
  /** The newest re-runs of this job, oldest first: at most MAX_LINKED_RERUNS of them. */
  readonly reruns?: readonly string[];
  /** How many times this job was re-run, all told (`reruns` keeps only the newest). */
  readonly rerunCount?: number;
  /** How far the run has got, as its driver or the local engine last reported; kept once it ends. */
  readonly progress?: Progress;
  /** The PROGRESS entries written to the history so far (core/progress.ts). */
  readonly progressEntries?: ProgressEntries;
}

/**
 * How many re-runs' ids the original's record lists: the record is read whole on every status
 * read, so a job re-run thousands of times must not grow it without bound.
 */
export const MAX_LINKED_RERUNS = 20;

export interface JobEvent {
  readonly jobId: string;
  readonly at: string;
  readonly type: 'STATUS' | 'WEBHOOK' | 'DURATION_WARNING' | 'PROGRESS';
  readonly status?: JobStatus;
  /** PROGRESS entries: the job's progress when the entry was written. */
  readonly progress?: Progress;
  readonly from?: JobStatus;
  readonly reason?: Reason;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/**
 * The waiting index's sort key: admission order is key order, higher priority first, then the
 * fair-share tag (docs/fair-share.md), then first come first served. A record without a tag
 * (queued before fair share) keeps the key it was written with, ahead of its priority's tagged jobs.
 */
export function waitKey(job: Pick<JobRecord, 'priority' | 'fairTag' | 'submittedAt' | 'jobId'>): string {
  const tag = job.fairTag === undefined ? '' : `${formatTag(job.fairTag)}#`;
  return `${String(10 - job.priority).padStart(2, '0')}#${tag}${job.submittedAt}#${job.jobId}`;
}

export const JOB_ID_PATTERN = /^job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function newJobId(): string {
  return `job-${crypto.randomUUID()}`;
}
