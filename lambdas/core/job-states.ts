/**
 * Job lifecycle (DESIGN §2). SUBMITTED and VALIDATING pass inside the submit call and are
 * never stored; every stored move is checked against LIFECYCLE by a conditional write.
 */
export const JOB_STATUSES = [
  'SUBMITTED',
  'VALIDATING',
  'QUEUED',
  'SCHEDULED',
  'RUNNING',
  'RETRYING',
  'CANCELLING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES = [
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
] as const satisfies readonly JobStatus[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** What a move to a status does to the job's `reason` (DESIGN §2: terminal records carry one). */
export type ReasonRule =
  /** The move says why: it writes the reason it is given (the workflow's marks always give one). */
  | 'sets'
  /**
   * The move removes a reason an earlier move left (the cancel's, on a run that succeeded while
   * CANCELLING), unless it gives one of its own.
   */
  | 'clears'
  /** The move leaves the reason as it is and gives none. */
  | 'keeps';

/** The job record's attributes that say when it first reached a status. */
export type StatusTimestamp = 'queuedAt' | 'scheduledAt' | 'startedAt' | 'completedAt' | 'cancelledAt';

export interface StatusSpec {
  /** The statuses a job may move to this one from; the condition of every write of it. */
  readonly from: readonly JobStatus[];
  /** The job record's timestamp attribute set when the status is first reached. */
  readonly timestamp?: StatusTimestamp;
  readonly reason: ReasonRule;
}

/**
 * The lifecycle, one entry per status (DESIGN §2). The job store's conditional writes and the
 * job workflow's Mark states are both built from it; nothing else says which moves exist.
 */
export const LIFECYCLE: Readonly<Record<JobStatus, StatusSpec>> = {
  SUBMITTED: { from: [], reason: 'keeps' },
  VALIDATING: { from: ['SUBMITTED'], reason: 'keeps' },
  QUEUED: { from: ['VALIDATING'], timestamp: 'queuedAt', reason: 'keeps' },
  SCHEDULED: { from: ['QUEUED'], timestamp: 'scheduledAt', reason: 'keeps' },
  RUNNING: { from: ['SCHEDULED', 'RETRYING'], timestamp: 'startedAt', reason: 'keeps' },
  RETRYING: { from: ['RUNNING'], reason: 'keeps' },
  CANCELLING: { from: ['SCHEDULED', 'RUNNING', 'RETRYING'], reason: 'sets' },
  // A run that ended before the cancel reached it decides the end: CANCELLING → SUCCEEDED/FAILED.
  SUCCEEDED: { from: ['RUNNING', 'CANCELLING'], timestamp: 'completedAt', reason: 'clears' },
  // SCHEDULED → FAILED: a workflow start refused for good (START_FAILED).
  FAILED: {
    from: ['SCHEDULED', 'RUNNING', 'RETRYING', 'CANCELLING'],
    timestamp: 'completedAt',
    reason: 'sets',
  },
  CANCELLED: { from: ['QUEUED', 'SCHEDULED', 'CANCELLING'], timestamp: 'cancelledAt', reason: 'sets' },
  // QUEUED → TIMEOUT: the queue wait was exceeded.
  TIMEOUT: { from: ['QUEUED', 'RUNNING'], timestamp: 'completedAt', reason: 'sets' },
};

/** The moves out of each status, the inverse of LIFECYCLE. */
export const MOVES: Readonly<Record<JobStatus, readonly JobStatus[]>> = (() => {
  const moves = {} as Record<JobStatus, JobStatus[]>;
  for (const from of JOB_STATUSES)
    moves[from] = JOB_STATUSES.filter((to) => LIFECYCLE[to].from.includes(from));
  return moves;
})();

export function isTerminal(status: JobStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly JobStatus[]).includes(status);
}

export function canMove(from: JobStatus, to: JobStatus): boolean {
  return LIFECYCLE[to].from.includes(from);
}

/** The statuses from which a move to `to` is allowed: the condition of its conditional write. */
export function allowedSources(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => canMove(from, to));
}

/**
 * The statuses a move to `to` may find a job in when its writer last left it in one of `held`:
 * those, or CANCELLING when a cancel moved it since (the one move another party makes on a job
 * the workflow holds), as far as the lifecycle allows the move from each.
 */
export function sourcesWhileHeld(to: JobStatus, held: readonly JobStatus[]): JobStatus[] {
  const cancelled = held.some((status) => canMove(status, 'CANCELLING'));
  return allowedSources(to).filter((from) => held.includes(from) || (cancelled && from === 'CANCELLING'));
}

/**
 * A move to RUNNING starts a run (an attempt): it sets `runStartedAt` and `warnAt`, where the
 * duration warnings look first (use-cases/duration-warnings.ts).
 */
export function startsRun(to: JobStatus): boolean {
  return to === 'RUNNING';
}

/** A move that may leave RUNNING ends the run: the run's pending duration warning goes with it. */
export function endsRun(to: JobStatus): boolean {
  return LIFECYCLE[to].from.includes('RUNNING');
}

/** The job record's timestamp attribute set when a status is first reached. */
export const STATUS_TIMESTAMP: Partial<Record<JobStatus, StatusTimestamp>> = Object.fromEntries(
  JOB_STATUSES.flatMap((status) => {
    const timestamp = LIFECYCLE[status].timestamp;
    return timestamp ? [[status, timestamp]] : [];
  }),
);

export const REASON_CODES = [
  'SPARK_JOB_FAILED',
  'RUN_TIMEOUT',
  'QUEUE_WAIT_EXCEEDED',
  'CANCELLED_BY_USER',
  'BACKEND_UNAVAILABLE',
  'LOCAL_SPARK_UNAVAILABLE',
  /** The workflow could not be started: refused for good, or still failing after its retries. */
  'START_FAILED',
  /**
   * The local runtime stopped (or was killed) while the job ran: in a move to RETRYING's history
   * when the job runs again as its next attempt, as the reason when its retry policy was spent.
   */
  'RUNTIME_RESTARTED',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export interface Reason {
  readonly code: ReasonCode;
  readonly message: string;
}
