import { isAdmin, type LibraConfig, mayUsePool } from './config.ts';
import type { PoolStore } from './ports.ts';

export interface PoolView {
  readonly name: string;
  readonly limits: {
    readonly cpuCores: number;
    readonly memoryGb: number;
    readonly maxConcurrentJobs: number;
    readonly maxQueueSize: number;
    readonly maxWaitMinutes: number;
  };
  readonly used: { readonly cpuCores: number; readonly memoryGb: number };
  readonly running: number;
  readonly waiting: number;
  readonly backfill: boolean;
  readonly backends: string[];
}

/** The pools a caller may submit to (admins: all), with their limits and what is in use now. */
export async function listPools(
  config: LibraConfig,
  pools: PoolStore,
  principal: string,
): Promise<PoolView[]> {
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
        },
        used: { cpuCores: usage.cpuUsed, memoryGb: Math.round((usage.memoryUsedMiB / 1024) * 1000) / 1000 },
        running: usage.running,
        waiting: usage.waiting,
        backfill: pool.backfill,
        backends: [
          ...(pool.backends.emrServerless ? ['emr-serverless'] : []),
          ...(pool.backends.eks ? ['eks'] : []),
        ],
      };
    }),
  );
}
