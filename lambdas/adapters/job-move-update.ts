import { endsRun, type JobStatus, LIFECYCLE, startsRun } from '#core/job-states.ts';

/**
 * The UpdateExpression of a move to `to` on a job item, as LIFECYCLE says: the status, the
 * time, the status's timestamp (set once), the reason set (as `:reason`) or cleared, and the run's
 * clock: a move to RUNNING sets `runStartedAt` and `warnAt` to its time, a move out of RUNNING
 * removes `warnAt` (duration warnings: lambdas/core/use-cases/duration-warnings.ts). The
 * job store and the job workflow's Mark states both write their moves with it; each adds the
 * values (`:to`, `time`, `:reason`) and its own extra assignments.
 */
export interface MoveUpdate {
  readonly sets: string[];
  readonly removes: string[];
  readonly names: Record<string, string>;
}

export function moveUpdate(to: JobStatus, time: string, withReason: boolean): MoveUpdate {
  const spec = LIFECYCLE[to];
  if (withReason && spec.reason === 'keeps') throw new Error(`a move to ${to} carries no reason`);
  const names: Record<string, string> = { '#status': 'status', '#updatedAt': 'updatedAt' };
  const sets = ['#status = :to', `#updatedAt = ${time}`];
  const removes: string[] = [];
  if (spec.timestamp) {
    names['#ts'] = spec.timestamp;
    sets.push(`#ts = if_not_exists(#ts, ${time})`);
  }
  if (withReason || spec.reason === 'clears') names['#reason'] = 'reason';
  if (withReason) sets.push('#reason = :reason');
  else if (spec.reason === 'clears') removes.push('#reason');
  if (startsRun(to)) sets.push(`runStartedAt = ${time}`, `warnAt = ${time}`);
  if (endsRun(to)) removes.push('warnAt');
  return { sets, removes, names };
}

/** `SET … [REMOVE …]`. */
export function updateExpression(sets: readonly string[], removes: readonly string[]): string {
  return `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`;
}
