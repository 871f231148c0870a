/**
 * Job lifecycle (DESIGN §2). SUBMITTED and VALIDATING pass inside the submit call and are
 * never stored; every stored move is checked against MOVES by a conditional write.
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

export const MOVES: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  SUBMITTED: ['VALIDATING'],
  VALIDATING: ['QUEUED'],
  QUEUED: ['SCHEDULED', 'CANCELLED', 'TIMEOUT'],
  SCHEDULED: ['RUNNING', 'CANCELLING', 'CANCELLED', 'FAILED'],
  RUNNING: ['SUCCEEDED', 'FAILED', 'TIMEOUT', 'RETRYING', 'CANCELLING'],
  RETRYING: ['RUNNING', 'CANCELLING', 'FAILED'],
  CANCELLING: ['CANCELLED', 'SUCCEEDED', 'FAILED'],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
  TIMEOUT: [],
};

export function isTerminal(status: JobStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly JobStatus[]).includes(status);
}

export function canMove(from: JobStatus, to: JobStatus): boolean {
  return MOVES[from].includes(to);
}

/** The statuses from which a move to `to` is allowed: the condition of its conditional write. */
export function allowedSources(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => canMove(from, to));
}

/** The job record's timestamp attribute set when a status is first reached. */
export const STATUS_TIMESTAMP: Partial<Record<JobStatus, string>> = {
  QUEUED: 'queuedAt',
  SCHEDULED: 'scheduledAt',
  RUNNING: 'startedAt',
  SUCCEEDED: 'completedAt',
  FAILED: 'completedAt',
  TIMEOUT: 'completedAt',
  CANCELLED: 'cancelledAt',
};

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
