import { formatTag } from './fair-share.ts';
import type { JobType, RetryPolicy } from './job-request.ts';
import type { JobStatus, Reason } from './job-states.ts';
import type { Backend } from './placement.ts';
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
  readonly notifications?: { readonly webhook: string; readonly events: readonly JobStatus[] };
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
  /** When the job's webhook receiver answered 410: no more deliveries. */
  readonly webhookDisabledAt?: string;
  /** Hash of the submitted body, kept for Idempotency-Key replays. */
  readonly requestHash: string;
}

export interface JobEvent {
  readonly jobId: string;
  readonly at: string;
  readonly type: 'STATUS' | 'WEBHOOK';
  readonly status?: JobStatus;
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
