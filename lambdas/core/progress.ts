import type { JobRecord } from './job-record.ts';

/**
 * How far a running job has got, as its driver (or the local engine) last reported it: Spark's
 * stages and tasks done of those known so far, and `fraction` (0–1) where it can be known. The
 * reporter writes it as the job record's `progress` attribute with one UpdateItem; docs/progress.md
 * describes the stored shape for reporters of one's own.
 */
export interface Progress {
  readonly stagesDone: number;
  readonly stagesTotal: number;
  readonly tasksDone: number;
  readonly tasksTotal: number;
  readonly fraction?: number;
  readonly updatedAt: string;
}

/**
 * The job's history gets a PROGRESS entry at most this often: the reconciler, which reads every
 * running job's record on each tick anyway, writes one when the progress changed since the last
 * entry and that entry is at least this old. Reporters update the record every few seconds;
 * their updates never reach the history one by one.
 */
export const PROGRESS_ENTRY_EVERY_MS = 5 * 60_000;

/**
 * The most PROGRESS entries one job's history holds, whatever it runs for: at one per
 * PROGRESS_ENTRY_EVERY_MS that covers a little over 8 hours, and a longer job's history keeps
 * its first entries only (its record still shows the latest progress).
 */
export const MAX_PROGRESS_ENTRIES = 100;

/** What the job record keeps about its PROGRESS entries, so that the next one is due or not. */
export interface ProgressEntries {
  /** When the last PROGRESS entry was written. */
  readonly at: string;
  /** How many were written. */
  readonly count: number;
  /** The `updatedAt` of the progress the last entry showed. */
  readonly reportedAt: string;
}

/**
 * Whether the job's history should get a PROGRESS entry now: the job is running, its progress
 * changed since the last entry, that entry is old enough, and the history is below its cap.
 */
export function progressEntryDue(job: JobRecord, now: Date): boolean {
  const progress = job.progress;
  if (progress === undefined || job.status !== 'RUNNING') return false;
  const last = job.progressEntries;
  if (last === undefined) return true;
  if (last.count >= MAX_PROGRESS_ENTRIES || last.reportedAt === progress.updatedAt) return false;
  return now.getTime() - Date.parse(last.at) >= PROGRESS_ENTRY_EVERY_MS;
}

/**
 * Writes the job's PROGRESS entries (DESIGN §3's history items). Apart from JobStore so that the
 * stand-ins that never see progress need not implement it.
 */
export interface ProgressStore {
  /**
   * Sets the job's `progress` (one UpdateItem of that attribute, as a driver's reporter does);
   * false when the job does not exist.
   */
  recordProgress(jobId: string, progress: Progress): Promise<boolean>;
  /**
   * Writes a PROGRESS history entry with the job's progress and counts it on the record, if the
   * record's count is still what `job` says (one conditional update, then the history item);
   * false when another party wrote that entry first.
   */
  addProgressEntry(job: JobRecord, at: string): Promise<boolean>;
}

/**
 * The fraction done of a run of `stagesTotal` steps of which `stagesDone` are over and the
 * current one is `current` (0–1) done: what the local SQL engine reports per statement.
 */
export function stepsFraction(stagesDone: number, stagesTotal: number, current: number): number {
  if (stagesTotal <= 0) return 0;
  const clamped = Math.min(1, Math.max(0, current));
  return Math.min(
    1,
    (Math.min(stagesDone, stagesTotal) + (stagesDone < stagesTotal ? clamped : 0)) / stagesTotal,
  );
}
