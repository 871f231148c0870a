/**
 * The local stand-in for an EMR Serverless job run: what the workflow's
 * `emr-serverless:startJobRun.sync` binding asks for and what it reads back.
 */

export type LocalJobType = 'sql' | 'python' | 'jar';

export interface LocalRunRequest {
  readonly jobId: string;
  /** 0-based. */
  readonly attempt: number;
  /** `${jobId}-${attempt}`: a second start with the same token returns the same run, as EMR's ClientToken does. */
  readonly clientToken: string;
  readonly jobType: LocalJobType;
  /** Inline SQL or Python. Give this or `entryPoint`, not both. */
  readonly code?: string;
  /**
   * A script (sql, python) or a JAR. Locally a `file://` URL or an absolute path; `s3://` and other
   * remote URLs cannot be fetched here, so such a run fails as unavailable.
   */
  readonly entryPoint?: string;
  readonly entryPointArguments?: readonly string[];
  /** JAR jobs only; without it spark-submit reads the JAR's manifest. */
  readonly mainClass?: string;
  /** Passed to spark-submit as `--conf k=v`; DuckDB and plain python3 ignore it. */
  readonly sparkConf: Readonly<Record<string, string>>;
  /**
   * EMR's backstop: the run fails once it has been RUNNING this long. 0 means never, as in EMR;
   * absent means EMR's default of 12 hours. Minutes last `minuteMs` of the engine (tests shorten it).
   */
  readonly executionTimeoutMinutes?: number;
}

export type LocalRunState = 'PENDING' | 'RUNNING' | 'SUCCESS' | 'FAILED' | 'CANCELLED';

export interface LocalPreview {
  readonly columns: string[];
  /** At most 20 rows; every value is JSON-safe (see `toJsonSafe`). */
  readonly rows: unknown[][];
  /** The statement returned more rows than `rows` holds. */
  readonly truncated: boolean;
}

export interface LocalRun {
  /** 16 characters of [0-9a-z], the shape of an EMR Serverless job run id. */
  readonly runId: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly clientToken: string;
  state: LocalRunState;
  stateDetails?: string;
  /** When start() was called (ISO 8601). */
  startedAt: string;
  /** When the run reached a terminal state. */
  endedAt?: string;
  /**
   * It could not run at all (no engine for it here): the local binding fails the run as a StartJobRun
   * the backend refused, with a cause that begins LOCAL_SPARK_UNAVAILABLE.
   */
  unavailable?: boolean;
  /** The run was stopped by its executionTimeoutMinutes (state FAILED), so the workflow can tell it from a crash. */
  timedOut?: boolean;
  /** The process's exit code (null when a signal ended it); absent for SQL runs. */
  exitCode?: number | null;
  /** The process group's id (= the leader's pid) while a python or jar run has a process; kept after it ends. */
  pid?: number;
  /** Holds stdout.txt, stderr.txt and, for a SQL run that succeeded with a result, result.json (the preview). */
  readonly outputDir: string;
  /** First ≤ 20 rows of the last SQL statement that returned rows; set when a SQL run succeeds. */
  preview?: LocalPreview;
  /** What the run used while RUNNING (usage.ts); set when a run that began its work ends. */
  measure?: LocalRunMeasure;
}

export interface LocalRunMeasure {
  readonly cpuSeconds: number;
  readonly peakMemoryMb: number;
  /** From RUNNING to the end. */
  readonly durationSeconds: number;
}

export const TERMINAL_STATES: ReadonlySet<LocalRunState> = new Set(['SUCCESS', 'FAILED', 'CANCELLED']);

export function isTerminal(state: LocalRunState): boolean {
  return TERMINAL_STATES.has(state);
}
