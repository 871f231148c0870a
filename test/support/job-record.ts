import { type JobRecord, type JobSpec, newJobId } from '#core/job-record.ts';
import type { Resources } from '#core/sizing.ts';

/**
 * Sizing as sizeJob reports it for a driver and one executor of 1 core and 1 GiB each: what a
 * test's hand-made job record carries, so that the store reads it back as a valid record.
 */
export const SMALL_RESOURCES: Resources = {
  driver: { cores: 1, memoryMiB: 1024, overheadMiB: 384, totalMemoryMiB: 1408 },
  executor: { cores: 1, memoryMiB: 1024, overheadMiB: 384, totalMemoryMiB: 1408 },
  executors: 1,
  dynamicAllocation: false,
  totalCores: 2,
  totalMemoryMiB: 2816,
};

/** A SQL job's spec with no retries and Libra's defaults otherwise. */
export const SQL_SPEC: JobSpec = {
  jobType: 'sql',
  code: 'SELECT 1',
  sparkConf: {},
  retryPolicy: { maxRetries: 0, backoffMultiplier: 2, initialDelaySeconds: 1, maxDelaySeconds: 60 },
  retryDelaysSeconds: [],
  retryOnTimeout: false,
  timeoutMinutes: 60,
};

/** A QUEUED SQL job record of `owner` submitted `at`, as createJob stores it, with `overrides`. */
export function queuedJob(owner: string, at: string, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    jobId: newJobId(),
    owner,
    status: 'QUEUED',
    pool: 'default',
    backend: 'emr-serverless',
    priority: 5,
    tags: {},
    spec: SQL_SPEC,
    resources: SMALL_RESOURCES,
    reservation: { cpuCores: 2, memoryMiB: 2048 },
    attempts: 0,
    submittedAt: at,
    queuedAt: at,
    updatedAt: at,
    requestHash: 'test',
    ...overrides,
  };
}

/** A QUEUED job of `alice` in the default pool, tagged team=data, with a new id and what `overrides` says. */
export function jobRecord(overrides: Partial<JobRecord> = {}): JobRecord {
  return queuedJob('alice', new Date().toISOString(), {
    tags: { team: 'data' },
    reservation: { cpuCores: 2, memoryMiB: 2816 },
    ...overrides,
  });
}
