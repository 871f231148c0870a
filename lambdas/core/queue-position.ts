import type { JobRecord } from './job-record.ts';
import type { CountedAhead, QueueCounters } from './ports.ts';

/**
 * A queued job's place in its pool's admission order, read at a cost that does not grow with the
 * queue (docs/queue-position.md): the jobs ahead are counted in the waiting index up to
 * EXACT_QUEUE_POSITIONS, which is exact for the first positions; past them the position is
 * estimated from the pool item's per-priority counters and the job's own sequence number.
 */

/** How many jobs ahead a status read counts in the waiting index before it estimates instead. */
export const EXACT_QUEUE_POSITIONS = 100;

export interface QueuePosition {
  /** 1 = next to be admitted in its pool. */
  readonly position: number;
  /** True when the position is estimated rather than counted (docs/queue-position.md). */
  readonly estimated: boolean;
}

/**
 * The position of `job` once `counted` stopped with more jobs possibly ahead. Jobs of a higher
 * priority are all ahead: each priority's `seq - left`. Of the job's own priority, those whose
 * sequence number is below its own and that have not left: `queueSeq - 1 - left`, which assumes
 * every job of its priority that left was ahead of it — true of admission (first come first
 * served within a priority), not of a later job cancelled or timed out first, each of which makes
 * the estimate one lower than the truth (never below the jobs of higher priority). The result is never inside the counted head, which the
 * count proved the job is not, and never past the queue's end.
 */
export function estimateQueuePosition(
  job: Pick<JobRecord, 'priority' | 'queueSeq'>,
  counted: CountedAhead,
  counters: QueueCounters,
  waiting: number,
): number {
  const priorities = new Set([...Object.keys(counters.seq), ...Object.keys(counters.left)].map(Number));
  let ahead = 0;
  for (const priority of priorities) {
    if (priority <= job.priority) continue;
    ahead += Math.max(0, (counters.seq[priority] ?? 0) - (counters.left[priority] ?? 0));
  }
  if (job.queueSeq !== undefined) {
    ahead += Math.max(0, job.queueSeq - 1 - (counters.left[job.priority] ?? 0));
  }
  const lowest = counted.ahead + 1;
  return Math.max(lowest, Math.min(ahead + 1, waiting));
}
