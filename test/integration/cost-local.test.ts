import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemSchema, statusViewSchema, usageReportSchema } from '#core/api-schemas.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.ts';
import { testConfig } from '../support/api.ts';
import { callApi, type Json, submitJob } from '../support/local-http.ts';
import { until } from '../support/workflow.ts';

/**
 * The cost of every run on the local runtime (in this process), over HTTP: the local engine
 * measures each run's CPU time and peak memory (DuckDB inside this process, python3 as a child
 * process), the job's status shows the cost, GET /usage totals it by owner, pool and tag with
 * each caller's visibility, and a pool's spent monthly budget refuses submits with 429.
 */

const SUBMIT = '/api/v1/spark/jobs/submit';
const ADMIN = 'cost-admin';
// A budget the first run spends at once: its orchestration cost alone is above it.
const TINY_BUDGET = 0.0001;

let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    config: testConfig({
      admins: [ADMIN],
      pools: {
        default: { cpuCores: 64, memoryGb: 256, maxConcurrentJobs: 20 },
        capped: { monthlyBudgetUsd: TINY_BUDGET },
      },
    }),
    port: 0,
    logLevel: 'SILENT',
    tickSeconds: 5,
  });
});

afterAll(async () => {
  await runtime?.stop();
});

const call = (user: string, method: string, path: string, body?: unknown) =>
  callApi(runtime.url, method, path, body, { user });
const submit = (user: string, body: Record<string, unknown>) => submitJob(runtime.url, body, { user });

/** The job's status once it ended and its run's cost was counted (the run recorder follows the run's end). */
async function costed(user: string, jobId: string): Promise<Json> {
  return until(
    `job ${jobId} to end with its cost`,
    async () => {
      const job = (await call(user, 'GET', `/api/v1/spark/jobs/${jobId}`)).body;
      return ['SUCCEEDED', 'FAILED'].includes(job.status) && job.cost !== undefined && job;
    },
    30_000,
  );
}

describe('the cost of local runs', () => {
  const owners = { alice: `alice-${Date.now()}`, bob: `bob-${Date.now()}` };
  let sqlJob: Json;
  let pythonJob: Json;

  it('a SQL job ends with the CPU time and memory DuckDB used in this process, marked as an estimate', async () => {
    const jobId = await submit(owners.alice, {
      kind: 'sql',
      code: 'SELECT sum(i * i) FROM range(20000000) t(i)',
      tags: { team: 'analytics' },
    });

    sqlJob = await costed(owners.alice, jobId);

    expect(statusViewSchema.safeParse(sqlJob).success).toBe(true);
    expect(sqlJob.status).toBe('SUCCEEDED');
    expect(sqlJob.cost).toMatchObject({ runs: 1, estimate: true, storageGbHours: 0 });
    expect(sqlJob.cost.cpuSeconds).toBeGreaterThan(0);
    expect(sqlJob.cost.vcpuHours).toBeCloseTo(sqlJob.cost.cpuSeconds / 3600, 6);
    expect(sqlJob.cost.durationSeconds).toBeGreaterThan(0);
    expect(sqlJob.cost.peakMemoryMb).toBeGreaterThanOrEqual(0);
    expect(sqlJob.cost.orchestrationUsd).toBe(0.0002502);
    expect(sqlJob.cost.usd).toBeGreaterThan(sqlJob.cost.orchestrationUsd);
  });

  it("a Python job ends with its process's CPU time and peak memory, read from /proc", async () => {
    const jobId = await submit(owners.bob, {
      kind: 'python',
      // About half a second of CPU, and a list of a few tens of MB held at once.
      code: 'import time\nx = list(range(2_000_000))\nwhile time.process_time() < 0.5:\n    sum(x[:1000])\nprint(time.process_time())\n',
      tags: { team: 'science' },
    });

    pythonJob = await costed(owners.bob, jobId);

    expect(pythonJob.status).toBe('SUCCEEDED');
    expect(pythonJob.cost).toMatchObject({ runs: 1, estimate: true });
    // What the interpreter itself says it used, printed at its end: the measure has all of it, and
    // not much more (its exit, after the print).
    const reported = Number((await (await fetch(pythonJob.links.stdout)).text()).trim());
    expect(reported).toBeGreaterThanOrEqual(0.5);
    expect(pythonJob.cost.cpuSeconds).toBeGreaterThanOrEqual(reported - 0.01);
    expect(pythonJob.cost.cpuSeconds).toBeLessThan(reported + 0.5);
    // The interpreter and the list: far above nothing, far below the machine.
    expect(pythonJob.cost.peakMemoryMb).toBeGreaterThan(30);
    expect(pythonJob.cost.peakMemoryMb).toBeLessThan(2048);
    expect(pythonJob.cost.durationSeconds).toBeGreaterThanOrEqual(0.5);
  });

  it('GET /usage totals each caller’s own runs; an admin sees everyone’s, by owner, pool or tag', async () => {
    const own = await call(owners.alice, 'GET', '/api/v1/spark/usage?groupBy=owner');
    expect(own.status).toBe(200);
    expect(usageReportSchema.safeParse(own.body).success).toBe(true);
    expect(own.body.scope).toBe('own');
    expect(own.body.groups).toEqual([
      expect.objectContaining({ key: owners.alice, runs: 1, estimatedRuns: 1, usd: sqlJob.cost.usd }),
    ]);
    expect(own.body.total.usd).toBe(sqlJob.cost.usd);

    const byOwner = await call(ADMIN, 'GET', '/api/v1/spark/usage?groupBy=owner');
    expect(byOwner.body.scope).toBe('all');
    const keys = byOwner.body.groups.map((group: Json) => group.key);
    expect(keys).toEqual(expect.arrayContaining([owners.alice, owners.bob]));

    const byTag = await call(ADMIN, 'GET', '/api/v1/spark/usage?groupBy=tag');
    expect(byTag.body.groups).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'team=analytics', usd: sqlJob.cost.usd }),
        expect.objectContaining({ key: 'team=science', usd: pythonJob.cost.usd }),
      ]),
    );
    const byPool = await call(owners.bob, 'GET', '/api/v1/spark/usage?groupBy=pool');
    expect(byPool.body.groups).toEqual([
      expect.objectContaining({ key: 'default', runs: 1, usd: pythonJob.cost.usd }),
    ]);

    // An admin may ask for their own only; others may not ask for everyone's.
    expect((await call(ADMIN, 'GET', '/api/v1/spark/usage?scope=own')).body.groups).toEqual([]);
    const refused = await call(owners.bob, 'GET', '/api/v1/spark/usage?scope=all');
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ field: 'scope', message: 'admins only' }]);
    const badGroup = await call(
      owners.bob,
      'GET',
      '/api/v1/spark/usage?from=2026-02-01&to=2026-01-01&groupBy=team',
    );
    expect(badGroup.status).toBe(400);
    expect(badGroup.body.errors.map((error: Json) => error.field)).toEqual(['groupBy']);
    for (const [query, message] of [
      ['from=2026-02-01&to=2026-01-31', 'on or after from'],
      ['from=2024-01-01&to=2025-01-01', 'at most 366 days after from'],
      ['from=2026-02-30', 'a day, YYYY-MM-DD'],
    ]) {
      const refusedRange = await call(owners.bob, 'GET', `/api/v1/spark/usage?${query}`);
      expect(refusedRange.status, query).toBe(400);
      expect(refusedRange.body.errors[0].message, query).toBe(message);
    }
  });

  it('refuses submits to a pool that spent its monthly budget: 429 budget-exhausted, naming the pool and its spend', async () => {
    const owner = `capped-${Date.now()}`;
    const first = await submit(owner, { kind: 'sql', code: 'SELECT 1', pool: 'capped' });
    const job = await costed(owner, first);

    const refused = await call(owner, 'POST', SUBMIT, { kind: 'sql', code: 'SELECT 2', pool: 'capped' });

    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(problemSchema.safeParse(refused.body).success).toBe(true);
    const month = new Date().toISOString().slice(0, 7);
    expect(refused.body).toMatchObject({
      type: 'urn:libra:problem:budget-exhausted',
      status: 429,
      budget: { pool: 'capped', month, spendUsd: job.cost.usd, budgetUsd: TINY_BUDGET },
      errors: [{ field: 'pool', message: expect.stringMatching(/monthly budget spent/) }],
    });
    expect(refused.body.detail).toMatch(/pool 'capped' has spent \$0\.00 of its \$0\.00 budget/);
    expect(Number(refused.headers.get('retry-after'))).toBe(refused.body.retryAfter);
    expect(refused.body.retryAfter).toBeGreaterThan(0);
    // The other pools are not held by it.
    await submit(owner, { kind: 'sql', code: 'SELECT 3' });
  });
});
