import type { RunCost, RunUsage } from './cost.ts';
import type { JobEvent, JobRecord, Reservation } from './job-record.ts';
import type { NotificationEvent } from './job-request.ts';
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
  | 'progress'
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
  /** Attributes for the move's history item only (the attempt, the error that caused the move). */
  readonly event?: Readonly<Record<string, unknown>>;
}

export type IdempotencyClaim =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly jobId: string; readonly requestHash: string };

/** A backend's report that a job's run changed state (EMR job-run state-change events). */
export interface RunStateChange {
  readonly jobId: string;
  readonly runId: string;
  readonly state: string;
  readonly details?: string;
  readonly links?: Readonly<Record<string, string>>;
  readonly at: string;
  /**
   * What the run used, when it ended and the backend says (EMR Serverless's billed figures, the
   * local engine's measurement). Absent otherwise: EMR on EKS's usage is estimated from sizing.
   */
  readonly usage?: RunUsage;
}

/** 'duplicate': this run's cost was already recorded (a redelivered event); 'missing': no such job. */
export type RunCostRecorded = 'recorded' | 'duplicate' | 'missing';

/** Each run's cost, kept on its job (JobRecord.runCosts). Apart from JobStore: only the run recorder writes it. */
export interface RunCostLog {
  /** Keeps one run's cost on its job, once per run id: a second record of the same run changes nothing. */
  recordRunCost(jobId: string, runId: string, cost: RunCost): Promise<RunCostRecorded>;
}

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
  /**
   * Records the backend's view of the job's current run (id, state, links); false when the job
   * does not exist. An older report never overwrites a newer one.
   */
  recordRun(change: RunStateChange): Promise<boolean>;
  /**
   * Counts the jobs ahead of a QUEUED `job` in its pool's waiting index, reading at most `limit`
   * of them: one request, whatever the queue's depth. `more` when the count stopped at `limit`
   * and jobs beyond it may be ahead too (the position is then estimated: core/queue-position.ts).
   */
  queuePosition(job: JobRecord, limit: number): Promise<CountedAhead>;
  /**
   * Sets the job's newest re-runs and their count, if the count is still `seenCount` (0: none
   * recorded yet): false, writing nothing, when another re-run was linked first or the job is gone.
   */
  setReruns(jobId: string, seenCount: number, reruns: readonly string[], count: number): Promise<boolean>;
  /** Ties an Idempotency-Key to a job id, once; a later claim gets what the first one stored. */
  claimIdempotencyKey(
    owner: string,
    key: string,
    jobId: string,
    requestHash: string,
  ): Promise<IdempotencyClaim>;
}

export interface CountedAhead {
  readonly ahead: number;
  readonly more: boolean;
}

export type Clock = () => Date;

/** The logging the use cases need (Powertools Logger in Lambda). */
export interface LogPort {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** A QUEUED job as the waiting index holds it: enough to admit it without reading the record. */
export interface WaitingJob {
  readonly jobId: string;
  readonly owner: string;
  readonly priority: number;
  /** Its fair-share tag (core/fair-share.ts); absent for a job queued before fair share. */
  readonly fairTag?: number;
  readonly submittedAt: string;
  readonly reservation: Reservation;
}

export interface WaitingPage {
  readonly jobs: WaitingJob[];
  /** Where the next page starts; absent on the last page. */
  readonly next?: Readonly<Record<string, unknown>>;
}

/**
 * The waiting index of one pool, in admission order: higher priority first, then fair-share tag,
 * then submit order. Jobs parked while their owner is at the pool's maxRunningPerOwner are kept
 * apart, one partition per owner, in the same order (docs/fair-share.md).
 */
export interface WaitingJobs {
  listWaiting(pool: string, limit: number, start?: Readonly<Record<string, unknown>>): Promise<WaitingPage>;
  /** The jobs of the owner (by ownerKey) parked in the pool, in admission order. */
  listParked(
    pool: string,
    ownerKey: string,
    limit: number,
    start?: Readonly<Record<string, unknown>>,
  ): Promise<WaitingPage>;
  /**
   * Moves a QUEUED job of the pool's waiting index into its owner's parked partition; false when
   * it is no longer there (admitted, ended, parked already).
   */
  park(job: Pick<WaitingJob, 'jobId' | 'owner'>, pool: string): Promise<boolean>;
}

export interface PoolLimits {
  readonly cpuCores: number;
  readonly memoryMiB: number;
  readonly maxConcurrentJobs: number;
}

export interface Lease extends Reservation {
  readonly at: string;
  /** The ownerKey of the job's owner; absent on leases taken before fair share. */
  readonly owner?: string;
}

/**
 * The pool item's fair-share state (docs/fair-share.md), every map keyed by ownerKey (a digest of
 * the owner): the virtual time per priority, the owners' last tags (`<priority>#<ownerKey>`), their
 * admitted jobs, and the owners with jobs parked (→ how many times one was parked, a mark).
 */
export interface FairState {
  readonly virtualTime: Readonly<Record<number, number>>;
  readonly lastTag: Readonly<Record<string, number>>;
  readonly running: Readonly<Record<string, number>>;
  readonly parked: Readonly<Record<string, number>>;
}

/** A job to lease, with what the pool's fair-share state needs of it. */
export interface LeaseRequest {
  readonly jobId: string;
  readonly reservation: Reservation;
  readonly owner: string;
  readonly priority: number;
  readonly fairTag?: number;
}

/** A lease to give back: its amounts, and its owner, whose count of admitted jobs drops. */
export interface HeldLease {
  readonly reservation: Reservation;
  readonly owner: string;
}

/** What a lease also writes: the cap on one owner's admitted jobs, and the virtual times to set. */
export interface LeaseOptions {
  readonly maxRunningPerOwner?: number;
  /**
   * Per priority, how far the pool's virtual time moves forward with these leases: added to it,
   * so that it never moves back, even when two admissions lease at once.
   */
  readonly advanceVirtualTime?: Readonly<Record<number, number>>;
}

/** The queue slot a submit reserved: its sequence number in its priority, and its fair-share tag. */
export interface QueueSlot {
  readonly queueSeq: number;
  readonly fairTag: number;
}

/** The owner a queue slot is reserved for, and how far its tag moves per job (core/fair-share.ts). */
export interface SlotOwner {
  readonly owner: string;
  readonly step: number;
}

export interface PoolUsage {
  readonly pool: string;
  readonly cpuUsed: number;
  readonly memoryUsedMiB: number;
  readonly running: number;
  readonly waiting: number;
  readonly leases: Readonly<Record<string, Lease>>;
  readonly queue: QueueCounters;
  readonly fair: FairState;
}

/**
 * The pool's queue counters by priority: `seq`, the queue slots ever reserved at that priority
 * (a job's `queueSeq` is the value its submit took); `left`, the jobs of that priority that left
 * the queue. `seq - left` is the number waiting at that priority.
 */
export interface QueueCounters {
  readonly seq: Readonly<Record<number, number>>;
  readonly left: Readonly<Record<number, number>>;
}

/**
 * 'held': the job already holds a lease (a retried admission); 'no-capacity': it does not fit now;
 * 'owner-capped': its owner has maxRunningPerOwner jobs admitted.
 */
export type AcquireResult = 'acquired' | 'held' | 'no-capacity' | 'owner-capped';

/**
 * What a lease write of several jobs came to. Refused, it carries the pool as the refused
 * condition found it when the store answered with it, so that the caller need not read it.
 */
export type LeaseWrite = { readonly leased: true } | { readonly leased: false; readonly found?: PoolUsage };

/**
 * Capacity per pool (DESIGN §4): one item per pool, every change one conditional update, so
 * that a retried acquire or release is a no-op and the limits can never be passed.
 */
export interface PoolStore {
  acquire(
    pool: string,
    limits: PoolLimits,
    job: LeaseRequest,
    at: string,
    options?: LeaseOptions,
  ): Promise<AcquireResult>;
  /**
   * Leases every one of `jobs` in one conditional update, or none of them: refused (nothing
   * changed) when they do not all fit together, one of their owners would pass
   * maxRunningPerOwner, or one of them already holds a lease.
   */
  acquireAll(
    pool: string,
    limits: PoolLimits,
    jobs: readonly LeaseRequest[],
    at: string,
    options?: LeaseOptions,
  ): Promise<LeaseWrite>;
  /** Gives the job's lease back; false when it held none (a retried release). */
  release(pool: string, jobId: string, held?: HeldLease): Promise<boolean>;
  /**
   * Counts one more waiting job of `priority` unless the pool's queue is full, and returns its
   * sequence number among the pool's jobs of that priority and its owner's next fair-share tag
   * there; undefined when full.
   */
  reserveQueueSlot(
    pool: string,
    maxQueueSize: number,
    priority: number,
    owner: SlotOwner,
  ): Promise<QueueSlot | undefined>;
  /**
   * Forgets fair-share entries that no longer change anything: owners' last tags at or behind
   * their priority's virtual time, and owners with no job admitted. One conditional write, none
   * when there is nothing to forget; a write that meets a change since `seen` is left to the next.
   */
  pruneFairShare(pool: string, seen: FairState): Promise<void>;
  /** Notes that the owner (by ownerKey) has jobs parked: made before each job is parked. */
  markParked(pool: string, ownerKey: string): Promise<void>;
  /** Forgets that the owner has jobs parked, unless one was parked since `mark` was read. */
  clearParked(pool: string, ownerKey: string, mark: number): Promise<void>;
  /** Counts one waiting job less per entry (never below zero), and one more that left at each entry's priority. */
  freeQueueSlot(pool: string, priorities: readonly number[]): Promise<void>;
  /** Sets the waiting count to what the reconciler counted, and the per-priority counters to its count by priority. */
  setWaiting(pool: string, waiting: number, byPriority?: Readonly<Record<number, number>>): Promise<void>;
  getPool(pool: string): Promise<PoolUsage>;
}

export interface IntakeMessage {
  /** 'submitted': a new job is waiting; 'wake': capacity was released. */
  readonly kind: 'submitted' | 'wake';
  readonly pool: string;
  readonly jobId?: string;
}

/** The admission queue's sending side (SQS in AWS, the local queue locally). */
export interface IntakeQueue {
  send(message: IntakeMessage): Promise<void>;
}

export type StartResult = 'started' | 'already-started';

/** A workflow start that failed transiently, as kept on the SCHEDULED job between its attempts. */
export interface StartFailure {
  /** The attempts failed so far, this one included. */
  readonly attempts: number;
  /** When the start may be tried again. */
  readonly retryAt: string;
  readonly at: string;
}

/**
 * The count of a SCHEDULED job's failed workflow starts, kept on its record across admission
 * passes and ticks: one conditional write each, so two parties that saw the same failure count
 * it once.
 */
export interface StartAttempts {
  /**
   * Records failed attempt `failure.attempts` if the job is SCHEDULED and had `attempts - 1`
   * failures recorded; false when it was not (another party recorded it, or the job moved on).
   */
  recordStartFailure(jobId: string, failure: StartFailure): Promise<boolean>;
}

/**
 * Starts the job's workflow, named after the job so that a second start of the same job is a
 * no-op. A start AWS refuses for good is thrown as StartRefused; any other error is transient.
 */
export interface WorkflowStarter {
  start(job: JobRecord): Promise<StartResult>;
}

/**
 * Dimensions a metric has besides its pool, e.g. `{ status: 'FAILED' }`: few values each, since
 * every combination is a metric of its own.
 */
export type MetricDimensions = Readonly<Record<string, string>>;

/** Counters and gauges, as Powertools metrics in AWS; names from the original Libra where it had them. */
export interface MetricsSink {
  count(name: string, pool: string, value?: number, dimensions?: MetricDimensions): void;
  gauge(name: string, pool: string, value: number, unit: 'Count' | 'Megabytes' | 'None' | 'Seconds'): void;
  flush(): void;
}

/**
 * Webhook bookkeeping on the job (DESIGN §6): each delivery attempt is a WEBHOOK history item,
 * and a receiver's 410 stops the job's later deliveries. Kept apart from JobStore so that the
 * stores and stand-ins that never deliver webhooks need not implement it.
 */
export interface WebhookLog {
  /** Adds a WEBHOOK history item to the job's events. */
  recordDelivery(event: JobEvent & { readonly type: 'WEBHOOK' }): Promise<void>;
  /** Marks the job's subscription disabled (`webhookDisabledAt`); the first time is kept. False for an unknown job. */
  disableWebhook(jobId: string, at: string): Promise<boolean>;
}

/** How a job's workflow execution stands, as Step Functions reports it. */
export type ExecutionState = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

/** Stops and inspects job workflow executions (named after their job). */
export interface WorkflowControl {
  /** Stops the job's execution; false when none of that name is running. */
  stop(jobId: string, cause: string): Promise<boolean>;
  /** How the job's execution stands; undefined when it never started. */
  state(jobId: string): Promise<ExecutionState | undefined>;
}

/** Starts a named execution of the job workflow with its input. */
export interface ExecutionStarter {
  startExecution(name: string, input: unknown): Promise<StartResult>;
}

/** The Spark backend's controls the workflow itself cannot reach: stopping a run. */
export interface SparkRunControl {
  /** Cancels the job's run when one is known and may still be going. */
  cancelRun(job: JobRecord): Promise<void>;
}

/**
 * Where inline code is kept for the backend to read (the artifacts bucket, a folder locally). A
 * put refused for good is thrown as StartRefused, as a workflow start is.
 */
export interface ArtifactStore {
  putCode(jobId: string, jobType: 'sql' | 'python', code: string): Promise<void>;
}

/** Delivers a job's webhook for a status or its duration warning, when its owner subscribed to it. */
export interface JobNotifier {
  notify(jobId: string, event: NotificationEvent): Promise<void>;
}

/** One run's cost as the usage totals count it: who spent it, in which pool, under which tags. */
export interface UsageEntry {
  readonly owner: string;
  readonly pool: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly cost: RunCost;
}

export type UsageGroupBy = 'owner' | 'pool' | 'tag';

export interface UsageQuery {
  /** First and last day counted, `YYYY-MM-DD` (UTC), both included. */
  readonly from: string;
  readonly to: string;
  readonly groupBy: UsageGroupBy;
  /** Only this owner's usage; absent: everyone's (admins). */
  readonly owner?: string;
}

/** Usage totals of one group (an owner, a pool or a `key=value` tag) over the days asked. */
export interface UsageTotals {
  readonly key: string;
  readonly runs: number;
  readonly estimatedRuns: number;
  readonly vcpuHours: number;
  readonly memoryGbHours: number;
  readonly storageGbHours: number;
  readonly durationSeconds: number;
  readonly computeUsd: number;
  readonly orchestrationUsd: number;
  readonly usd: number;
}

/**
 * Usage totals kept as runs end (docs/cost.md): per day, owner and pool, per day, owner and tag,
 * and per pool and month, so that a total is read from items that grow with the days and the
 * active owners asked about, never with the jobs ever run.
 */
export interface UsageLedger {
  /** Adds one run's cost to its totals; returns the pool's spend in the run's month, this run included. */
  add(entry: UsageEntry): Promise<number>;
  /** The pool's spend in a month (`YYYY-MM`), in USD. */
  monthSpend(pool: string, month: string): Promise<number>;
  totals(query: UsageQuery): Promise<UsageTotals[]>;
}
