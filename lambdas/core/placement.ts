import type { PoolConfig } from './config.ts';
import type { FieldProblem } from './errors.ts';
import type { ExecutionMode } from './job-request.ts';
import type { Resources } from './sizing.ts';

export const BACKENDS = ['emr-serverless', 'eks'] as const;
export type Backend = (typeof BACKENDS)[number];

/** The original Libra's ExecutionStrategyFactory thresholds for "large". */
export const LARGE_JOB_EXECUTORS = 20;
export const LARGE_JOB_MEMORY_MIB = 100 * 1024;

export function poolHasBackend(pool: PoolConfig, backend: Backend): boolean {
  return backend === 'eks' ? pool.backends.eks !== undefined : pool.backends.emrServerless !== undefined;
}

export function isLargeJob(resources: Resources): boolean {
  return resources.executors > LARGE_JOB_EXECUTORS || resources.totalMemoryMiB > LARGE_JOB_MEMORY_MIB;
}

export type PlacementResult = { ok: true; backend: Backend } | { ok: false; errors: FieldProblem[] };

/**
 * Chooses where a job runs. `auto`: large jobs go to EKS when the pool has it, everything
 * else to EMR Serverless; a pool with only one backend gets everything. An explicit mode
 * must be one the pool offers. A job larger than the whole pool is refused: it could never
 * be admitted and would block the pool's queue forever.
 */
export function placeJob(
  mode: ExecutionMode,
  resources: Resources,
  pool: PoolConfig,
  poolName: string,
): PlacementResult {
  const errors: FieldProblem[] = [];
  let backend: Backend;
  if (mode === 'auto') {
    const preferred: Backend = isLargeJob(resources) ? 'eks' : 'emr-serverless';
    backend = poolHasBackend(pool, preferred) ? preferred : preferred === 'eks' ? 'emr-serverless' : 'eks';
  } else {
    backend = mode;
    if (!poolHasBackend(pool, mode)) {
      errors.push({ field: 'executionMode', message: `pool '${poolName}' has no ${mode} backend` });
    }
  }

  const poolMemoryMiB = pool.memoryGb * 1024;
  if (resources.totalCores > pool.cpuCores) {
    errors.push({
      field: 'sparkConf',
      message: `the job needs up to ${resources.totalCores} cores; pool '${poolName}' has ${pool.cpuCores}`,
    });
  }
  if (resources.totalMemoryMiB > poolMemoryMiB) {
    errors.push({
      field: 'sparkConf',
      message: `the job needs up to ${resources.totalMemoryMiB} MiB; pool '${poolName}' has ${poolMemoryMiB} MiB`,
    });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, backend };
}
