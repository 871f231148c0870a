import { isAdmin, type LibraConfig, mayUsePool } from '../config.ts';
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
  };
  readonly used: { readonly cpuCores: number; readonly memoryGb: number };
  readonly running: number;
  readonly waiting: number;
  readonly backfill: boolean;
  readonly backends: string[];
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
