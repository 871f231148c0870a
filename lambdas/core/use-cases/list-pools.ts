import { isAdmin, type LibraConfig, mayUsePool } from '../config.ts';
import { ownerKey, ownerWeight } from '../fair-share.ts';
import type { PoolStore } from '../ports.ts';

/** What listing pools calls: each visible pool's item, and the configuration that names them. */
export interface ListPoolsDeps {
  readonly pools: Pick<PoolStore, 'getPool'>;
  readonly config: LibraConfig;
}

export interface PoolView {
  readonly name: string;
  readonly limits: {
    readonly cpuCores: number;
    readonly memoryGb: number;
    readonly maxConcurrentJobs: number;
    readonly maxQueueSize: number;
    readonly maxWaitMinutes: number;
    /** The most jobs one owner may have admitted at once (fair share); absent: no cap. */
    readonly maxRunningPerOwner?: number;
    /** The most the pool's runs may cost in a calendar month (UTC), in USD; absent: no budget. */
    readonly monthlyBudgetUsd?: number;
  };
  readonly used: { readonly cpuCores: number; readonly memoryGb: number };
  readonly running: number;
  readonly waiting: number;
  readonly backfill: boolean;
  readonly backends: string[];
  /** The caller's share of the pool: its fair-share weight and how many of its jobs are admitted now. */
  readonly you: { readonly weight: number; readonly running: number };
}

/** The pools a caller may submit to (admins: all), with their limits and what is in use now. */
export async function listPools(deps: ListPoolsDeps, principal: string): Promise<PoolView[]> {
  const { config, pools } = deps;
  const visible = Object.entries(config.pools).filter(
    ([, pool]) => isAdmin(config, principal) || mayUsePool(pool, principal),
  );
  return Promise.all(
    visible.map(async ([name, pool]) => {
      const usage = await pools.getPool(name);
      return {
        name,
        limits: {
          cpuCores: pool.cpuCores,
          memoryGb: pool.memoryGb,
          maxConcurrentJobs: pool.maxConcurrentJobs,
          maxQueueSize: pool.maxQueueSize,
          maxWaitMinutes: pool.maxWaitMinutes,
          ...(pool.maxRunningPerOwner !== undefined && { maxRunningPerOwner: pool.maxRunningPerOwner }),
          ...(pool.monthlyBudgetUsd !== undefined && { monthlyBudgetUsd: pool.monthlyBudgetUsd }),
        },
        used: { cpuCores: usage.cpuUsed, memoryGb: Math.round((usage.memoryUsedMiB / 1024) * 1000) / 1000 },
        running: usage.running,
        waiting: usage.waiting,
        backfill: pool.backfill,
        backends: [
          ...(pool.backends.emrServerless ? ['emr-serverless'] : []),
          ...(pool.backends.eks ? ['eks'] : []),
        ],
        you: { weight: ownerWeight(pool, principal), running: usage.fair.running[ownerKey(principal)] ?? 0 },
      };
    }),
  );
}
