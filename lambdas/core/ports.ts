import type { JobEvent, JobRecord } from './job-record.ts';
import type { JobStatus, Reason } from './job-states.ts';

export interface TagFilter {
  readonly key: string;
  readonly value?: string;
}

export interface ListJobsQuery {
  readonly owner: string;
  readonly limit: number;
  readonly nextToken?: string;
  readonly status?: JobStatus;
  readonly pool?: string;
  readonly tag?: TagFilter;
}

/** A listing row: what the owner index holds. */
export type JobSummary = Pick<
  JobRecord,
  | 'jobId'
  | 'status'
  | 'pool'
  | 'backend'
  | 'priority'
  | 'name'
  | 'tags'
  | 'attempts'
  | 'reason'
  | 'submittedAt'
  | 'queuedAt'
  | 'scheduledAt'
  | 'startedAt'
  | 'completedAt'
  | 'cancelledAt'
  | 'updatedAt'
>;

export interface JobPage {
  readonly jobs: JobSummary[];
  readonly nextToken?: string;
}

export interface TransitionChange {
  readonly at: string;
  readonly reason?: Reason;
  /** Other attributes set with the move (attempt count, backend run id …). */
  readonly set?: Readonly<Record<string, unknown>>;
}

export type IdempotencyClaim =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly jobId: string; readonly requestHash: string };

/** The job store (DESIGN §3). Every status move is a conditional write; the loser gets TransitionConflict. */
export interface JobStore {
  /** Writes a new job in one conditional put; 'exists' when the id is already taken (a replayed create). */
  createJob(job: JobRecord): Promise<'created' | 'exists'>;
  getJob(jobId: string): Promise<JobRecord | undefined>;
  /** Moves the job from one of `from` to `to`, or throws TransitionConflict naming the status it found. */
  transition(
    jobId: string,
    from: readonly JobStatus[],
    to: JobStatus,
    change: TransitionChange,
  ): Promise<JobRecord>;
  listJobs(query: ListJobsQuery): Promise<JobPage>;
  /** The job's history items (its moves and deliveries), oldest first. */
  listEvents(jobId: string): Promise<JobEvent[]>;
  /** 1 = next to be admitted in its pool. */
  queuePosition(job: JobRecord): Promise<number>;
  /** Ties an Idempotency-Key to a job id, once; a later claim gets what the first one stored. */
  claimIdempotencyKey(
    owner: string,
    key: string,
    jobId: string,
    requestHash: string,
  ): Promise<IdempotencyClaim>;
}

export type Clock = () => Date;
