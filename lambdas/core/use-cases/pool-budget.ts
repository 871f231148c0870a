import type { PoolConfig } from '../config.ts';
import { usageMonth } from '../cost.ts';
import { BudgetExhaustedError } from '../errors.ts';
import type { Clock, MetricsSink, UsageLedger } from '../ports.ts';

export interface PoolBudgetDeps {
  readonly spend: Pick<UsageLedger, 'monthSpend'>;
  readonly metrics: MetricsSink;
  readonly clock: Clock;
}

/** Seconds from `now` to the start of the next calendar month (UTC): when a spent budget is new again. */
export function secondsToNextMonth(now: Date): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((next - now.getTime()) / 1000));
}

/**
 * Refuses a submit to a pool that has spent its monthly budget (429 `budget-exhausted`, naming
 * the pool and its spend). One read of the pool's month item, only for pools with a budget. A
 * job admitted just before the budget ran out still runs: the budget stops new submits, it does
 * not stop work already accepted (docs/cost.md).
 */
export async function refuseOverBudget(
  deps: PoolBudgetDeps,
  poolName: string,
  pool: PoolConfig,
): Promise<void> {
  if (pool.monthlyBudgetUsd === undefined) return;
  const now = deps.clock();
  const month = usageMonth(now.toISOString());
  const spendUsd = await deps.spend.monthSpend(poolName, month);
  if (spendUsd < pool.monthlyBudgetUsd) return;
  deps.metrics.count('budgetRejected', poolName);
  throw new BudgetExhaustedError(
    { pool: poolName, month, spendUsd, budgetUsd: pool.monthlyBudgetUsd },
    secondsToNextMonth(now),
  );
}
