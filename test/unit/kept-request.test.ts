import { describe, expect, it } from 'vitest';
import { parseConfig } from '#core/config.ts';
import { parseJobRequest } from '#core/job-request.ts';
import { requestOf } from '#core/kept-request.ts';
import { prepareJob } from '#core/use-cases/submit-job.ts';

/**
 * A job's record keeps only what its spec lacks of its request; a re-run rebuilds the request
 * from the two. Rebuilt, it is the request the submit validated, field for field.
 */

const config = parseConfig({ pools: { default: { defaultTimeoutMinutes: 90 } } });
const now = '2026-01-01T00:00:00.000Z';

const REQUESTS: Record<string, unknown>[] = [
  { code: 'SELECT 1', kind: 'sql' },
  {
    code: 'print(1)',
    kind: 'python',
    executionMode: 'in-cluster',
    priority: 9,
    name: 'py',
    tags: { team: 'data', constructor: 'c' },
    timeoutMinutes: 15,
    retryOnTimeout: true,
    retryPolicy: { maxRetries: 1 },
    notifications: { webhook: 'https://hooks.example.com/x', events: ['FAILED'] },
  },
  {
    entryPoint: 's3://bucket/jobs/etl.jar',
    mainClass: 'com.example.Etl',
    entryPointArguments: ['--day', '2026-01-01'],
    // Sizing rewrites what the caller gave of its keys (4g → 4096m) and adds the ones not given.
    sparkConf: {
      'spark.executor.memory': '4g',
      'spark.executor.instances': '3',
      'spark.sql.shuffle.partitions': '64',
    },
  },
  {
    entryPoint: 's3://bucket/jobs/etl.py',
    sparkConf: { 'spark.dynamicAllocation.enabled': 'true', 'spark.dynamicAllocation.maxExecutors': '5' },
    pool: 'default',
  },
];

describe('the kept request', () => {
  it.each(REQUESTS)('rebuilds what submit validated, exactly: %j', (body) => {
    const parsed = parseJobRequest(body);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const job = prepareJob(config, 'caller', body, { allowInsecureWebhooks: false, now }).jobWithId('job-1');
    expect(job.request).toBeDefined();
    expect(requestOf(job.request ?? {}, job.spec)).toEqual(parsed.request);
  });

  it('holds neither the code, the arguments nor the conf the spec holds', () => {
    const body = {
      entryPoint: 's3://bucket/jobs/etl.py',
      entryPointArguments: ['x'.repeat(10_000)],
      sparkConf: { 'spark.sql.shuffle.partitions': '64', 'spark.executor.cores': '2' },
    };
    const job = prepareJob(config, 'caller', body, { allowInsecureWebhooks: false, now }).jobWithId('job-1');
    expect(JSON.stringify(job.request).length).toBeLessThan(300);
    expect(job.request?.sparkConf).toEqual({ 'spark.executor.cores': '2' });
  });
});
