import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PoolConfig, poolSchema } from '#core/config.ts';
import {
  isLargeJob,
  LARGE_JOB_EXECUTORS,
  LARGE_JOB_MEMORY_MIB,
  placeJob,
  poolHasBackend,
} from '#core/placement.ts';
import type { Resources } from '#core/sizing.ts';

const EKS = {
  virtualClusterId: 'vc-123',
  executionRoleArn: 'arn:aws:iam::123456789012:role/libra-eks-jobs',
};

/** A pool large enough for anything here, with the backends named. */
function pool(
  backends: PoolConfig['backends'] | Record<string, unknown>,
  size: Partial<PoolConfig> = {},
): PoolConfig {
  return poolSchema.parse({ cpuCores: 10_000, memoryGb: 10_000, backends, ...size });
}
const BOTH = () => pool({ emrServerless: {}, eks: EKS });
const SERVERLESS_ONLY = () => pool({ emrServerless: {} });
const EKS_ONLY = () => pool({ eks: EKS });

/** Resources with `executors` executors and `totalMemoryMiB` in all. */
function resources(executors: number, totalMemoryMiB: number, totalCores = executors + 1): Resources {
  const process = { cores: 1, memoryMiB: 1024, overheadMiB: 384, totalMemoryMiB: 1408 };
  return {
    driver: process,
    executor: process,
    executors,
    dynamicAllocation: false,
    totalCores,
    totalMemoryMiB,
  };
}
const SMALL = resources(2, 4224);

describe('placement: auto', () => {
  it('uses the seed thresholds: more than 20 executors or more than 100 GB', () => {
    expect(LARGE_JOB_EXECUTORS).toBe(20);
    expect(LARGE_JOB_MEMORY_MIB).toBe(100 * 1024);
  });

  it.each([
    ['20 executors', resources(20, 1024), false],
    ['21 executors', resources(21, 1024), true],
    ['exactly 100 GB', resources(1, 100 * 1024), false],
    ['100 GB and 1 MiB', resources(1, 100 * 1024 + 1), true],
    ['a small job', SMALL, false],
  ])('counts %s as large: %s', (_, job, large) => {
    expect(isLargeJob(job)).toBe(large);
  });

  it.each([
    ['20 executors', resources(20, 1024), 'emr-serverless'],
    ['21 executors', resources(21, 1024), 'eks'],
    ['exactly 100 GB', resources(1, 100 * 1024), 'emr-serverless'],
    ['100 GB and 1 MiB', resources(1, 100 * 1024 + 1), 'eks'],
    ['a small job', SMALL, 'emr-serverless'],
  ])('sends %s to %s when the pool has both backends', (_, job, backend) => {
    expect(placeJob('auto', job, BOTH(), 'default')).toEqual({ ok: true, backend });
  });

  it('sends a large job to EMR Serverless when the pool has no EKS backend', () => {
    expect(placeJob('auto', resources(200, 1024 * 1024), SERVERLESS_ONLY(), 'default')).toEqual({
      ok: true,
      backend: 'emr-serverless',
    });
  });

  it('sends a small job to EKS when that is all the pool has', () => {
    expect(placeJob('auto', SMALL, EKS_ONLY(), 'k8s')).toEqual({ ok: true, backend: 'eks' });
  });

  it('always picks a backend the pool has', () => {
    const pools = fc.constantFrom(BOTH(), SERVERLESS_ONLY(), EKS_ONLY());
    fc.assert(
      fc.property(
        pools,
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 300_000 }),
        (p, n, mib) => {
          // Act
          const placed = placeJob('auto', resources(n, mib), p, 'p');

          // Assess
          expect(placed.ok).toBe(true);
          if (placed.ok) expect(poolHasBackend(p, placed.backend)).toBe(true);
        },
      ),
    );
  });
});

describe('placement: explicit mode', () => {
  it.each(['emr-serverless', 'eks'] as const)(
    'honours %s when the pool has it, even for a small job',
    (mode) => {
      expect(placeJob(mode, SMALL, BOTH(), 'default')).toEqual({ ok: true, backend: mode });
    },
  );

  it('refuses eks in a pool without it, naming executionMode and the pool', () => {
    expect(placeJob('eks', SMALL, SERVERLESS_ONLY(), 'default')).toEqual({
      ok: false,
      errors: [{ field: 'executionMode', message: "pool 'default' has no eks backend" }],
    });
  });

  it('refuses emr-serverless in an EKS-only pool', () => {
    expect(placeJob('emr-serverless', SMALL, EKS_ONLY(), 'k8s')).toEqual({
      ok: false,
      errors: [{ field: 'executionMode', message: "pool 'k8s' has no emr-serverless backend" }],
    });
  });
});

describe('placement: the job must fit its pool', () => {
  it('accepts a job exactly the size of the pool', () => {
    // Prepare
    const small = pool({ emrServerless: {} }, { cpuCores: 16, memoryGb: 64 });

    // Act
    const placed = placeJob('auto', resources(15, 64 * 1024, 16), small, 'default');

    // Assess
    expect(placed).toEqual({ ok: true, backend: 'emr-serverless' });
  });

  it('refuses a job with more cores than the pool, naming the cores', () => {
    // Prepare
    const small = pool({ emrServerless: {} }, { cpuCores: 16, memoryGb: 64 });

    // Act
    const placed = placeJob('auto', resources(16, 1024, 17), small, 'default');

    // Assess
    expect(placed).toEqual({
      ok: false,
      errors: [{ field: 'sparkConf', message: "the job needs up to 17 cores; pool 'default' has 16" }],
    });
  });

  it('refuses a job with more memory than the pool, naming MiB', () => {
    // Prepare
    const small = pool({ emrServerless: {} }, { cpuCores: 16, memoryGb: 64 });

    // Act
    const placed = placeJob('auto', resources(2, 64 * 1024 + 1, 3), small, 'default');

    // Assess
    expect(placed).toEqual({
      ok: false,
      errors: [
        { field: 'sparkConf', message: "the job needs up to 65537 MiB; pool 'default' has 65536 MiB" },
      ],
    });
  });

  it('reports every reason at once: missing backend, cores and memory', () => {
    // Prepare
    const small = pool({ emrServerless: {} }, { cpuCores: 4, memoryGb: 8 });

    // Act
    const placed = placeJob('eks', resources(10, 20_000, 11), small, 'etl');

    // Assess
    expect(placed.ok).toBe(false);
    if (!placed.ok) {
      expect(placed.errors.map((e) => e.field)).toEqual(['executionMode', 'sparkConf', 'sparkConf']);
      expect(placed.errors[1]?.message).toContain('11 cores');
      expect(placed.errors[2]?.message).toContain('20000 MiB');
    }
  });
});
