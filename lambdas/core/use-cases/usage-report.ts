import type { UsageReportBody } from '../api-schemas.ts';
import { isAdmin, type LibraConfig } from '../config.ts';
import { roundFigure, roundUsd } from '../cost.ts';
import { ValidationError } from '../errors.ts';
import type { Clock, UsageGroupBy, UsageLedger, UsageTotals } from '../ports.ts';

export interface UsageReportDeps {
  readonly usage: Pick<UsageLedger, 'totals'>;
  readonly config: Pick<LibraConfig, 'admins'>;
  readonly clock: Clock;
}

export interface UsageParams {
  readonly from?: string;
  readonly to?: string;
  readonly groupBy?: string;
  readonly scope?: string;
}

/** The longest period one report covers, in days: its cost is one query per day. */
export const MAX_USAGE_DAYS = 366;
const GROUPS: readonly UsageGroupBy[] = ['owner', 'pool', 'tag'];
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function isDay(value: string): boolean {
  return DAY.test(value) && new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
}

/**
 * GET /usage: the usage totals of the runs that ended in a period, by owner, pool or tag
 * (docs/cost.md). Admins see everyone's (or, with `scope=own`, their own); others only their
 * own. The period defaults to this month so far; it may span at most MAX_USAGE_DAYS.
 */
export async function usageReport(
  deps: UsageReportDeps,
  principal: string,
  params: UsageParams,
): Promise<UsageReportBody> {
  const today = deps.clock().toISOString().slice(0, 10);
  const from = params.from ?? `${today.slice(0, 7)}-01`;
  const to = params.to ?? today;
  const errors: { field: string; message: string }[] = [];
  if (!isDay(from)) errors.push({ field: 'from', message: 'a day, YYYY-MM-DD' });
  if (!isDay(to)) errors.push({ field: 'to', message: 'a day, YYYY-MM-DD' });
  const groupBy = GROUPS.find((group) => group === (params.groupBy ?? 'owner'));
  if (groupBy === undefined) errors.push({ field: 'groupBy', message: `one of ${GROUPS.join(', ')}` });
  if (params.scope !== undefined && params.scope !== 'own' && params.scope !== 'all') {
    errors.push({ field: 'scope', message: 'own or all' });
  }
  if (errors.length === 0) {
    const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
    if (days < 1) errors.push({ field: 'to', message: 'on or after from' });
    else if (days > MAX_USAGE_DAYS)
      errors.push({ field: 'to', message: `at most ${MAX_USAGE_DAYS} days after from` });
  }
  if (errors.length > 0 || groupBy === undefined) {
    throw new ValidationError('the query has invalid parameters', errors);
  }
  const admin = isAdmin(deps.config, principal);
  if (params.scope === 'all' && !admin) {
    throw new ValidationError('only admins see everyone’s usage', [
      { field: 'scope', message: 'admins only' },
    ]);
  }
  const scope = admin && params.scope !== 'own' ? 'all' : 'own';
  const groups = await deps.usage.totals({
    from,
    to,
    groupBy,
    ...(scope === 'own' && { owner: principal }),
  });
  return { from, to, groupBy, scope, groups: [...groups], total: totalOf(groups, groupBy) };
}

/**
 * The runs counted once: by owner or by pool, the groups share no run, so the total is their
 * sum; by tag, a run counts under each of its tags, and runs without tags under none, so the
 * total is not theirs to give and is left at the sum of the groups with `key` saying so.
 */
function totalOf(groups: readonly UsageTotals[], groupBy: UsageGroupBy): UsageTotals {
  const sum = (pick: (group: UsageTotals) => number) =>
    groups.reduce((total, group) => total + pick(group), 0);
  const computeUsd = roundUsd(sum((g) => g.computeUsd));
  const orchestrationUsd = roundUsd(sum((g) => g.orchestrationUsd));
  return {
    key: groupBy === 'tag' ? '(sum over tags: a run counts under each of its tags)' : '(all)',
    runs: sum((g) => g.runs),
    estimatedRuns: sum((g) => g.estimatedRuns),
    vcpuHours: roundFigure(sum((g) => g.vcpuHours)),
    memoryGbHours: roundFigure(sum((g) => g.memoryGbHours)),
    storageGbHours: roundFigure(sum((g) => g.storageGbHours)),
    durationSeconds: roundFigure(sum((g) => g.durationSeconds)),
    computeUsd,
    orchestrationUsd,
    usd: roundUsd(computeUsd + orchestrationUsd),
  };
}
