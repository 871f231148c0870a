import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { DynamoUsageLedger } from '#adapters/dynamo-usage-ledger.ts';
import { parseConfig } from '#core/config.ts';
import type { RunUsage } from '#core/cost.ts';
import { type JobRecord, newJobId } from '#core/job-record.ts';
import { MONTH_SPEND_METRIC, RUN_COST_METRIC, RunRecorder } from '#core/run-recorder.ts';
import { toStatusView } from '#core/use-cases/job-status.ts';
import { InMemoryMetrics } from '../../local/metrics.ts';
import { silentLogger } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { jobRecord } from '../support/job-record.ts';

/**
 * Each ended run's cost, on dynalite: the run recorder keeps it on the job once per run, adds it
 * to the usage totals (owner, pool, tag, the pool's month), and the job's status sums its runs.
 */

let db: TestDatabase;
let jobs: DynamoJobStore;
let ledger: DynamoUsageLedger;
const config = parseConfig({
  pools: {
    eks: {
      prices: { vcpuHour: 0.1, memoryGbHour: 0.01, storageGbHour: 0 },
      backends: {
        eks: { virtualClusterId: 'vc-1', executionRoleArn: 'arn:aws:iam::123456789012:role/eks-jobs' },
      },
    },
  },
});

beforeAll(async () => {
  db = await startTestDatabase('run-cost');
  jobs = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 1 });
  ledger = new DynamoUsageLedger({ client: db.documentClient, tableName: db.tableName });
});

afterAll(async () => {
  await db?.stop();
});

function recorder(metrics = new InMemoryMetrics()) {
  return { metrics, recorder: new RunRecorder({ jobs, ledger, config, metrics, logger: silentLogger() }) };
}

/** A job moved to RUNNING at `startedAt` (attempt 0), as the workflow moves it. */
async function runningJob(owner: string, overrides: Partial<JobRecord>, startedAt: string): Promise<string> {
  const job = jobRecord({
    owner,
    submittedAt: startedAt,
    queuedAt: startedAt,
    updatedAt: startedAt,
    ...overrides,
  });
  const { jobId } = job;
  await jobs.createJob(job);
  await jobs.transition(jobId, ['QUEUED'], 'SCHEDULED', { at: startedAt });
  await jobs.transition(jobId, ['SCHEDULED'], 'RUNNING', {
    at: startedAt,
    set: { attempts: 1 },
    event: { attempt: 0 },
  });
  return jobId;
}

const BILLED: RunUsage = {
  source: 'billed',
  vcpuHours: 4,
  memoryGbHours: 16,
  storageGbHours: 10,
  durationSeconds: 1800,
};

describe('the cost of a run, recorded as it ends', () => {
  it("keeps EMR Serverless's billed usage on the job, priced at the pool's prices, once however often the end is reported", async () => {
    // Prepare
    const owner = `billed-${newJobId()}`;
    const jobId = await runningJob(owner, {}, '2026-03-10T10:00:00.000Z');
    const { recorder: record, metrics } = recorder();
    const end = {
      jobId,
      runId: 'app/run-1',
      state: 'SUCCESS',
      at: '2026-03-10T10:30:00.000Z',
      usage: BILLED,
    };

    // Act
    await record.record(end);
    await record.record(end);

    // Assess
    const job = await jobs.getJob(jobId);
    // 4 × 0.052624 + 16 × 0.0057785 + 10 × 0.000111 = 0.210496 + 0.092456 + 0.00111
    expect(job?.runCosts?.['app/run-1']).toMatchObject({ attempt: 0, estimate: false, usd: 0.304062 });
    const cost = job && toStatusView(job).cost;
    expect(cost).toEqual({
      vcpuHours: 4,
      memoryGbHours: 16,
      storageGbHours: 10,
      durationSeconds: 1800,
      runs: 1,
      computeUsd: 0.304062,
      orchestrationUsd: 0.0002502,
      usd: 0.3043122,
      estimate: false,
    });
    const totals = await ledger.totals({ from: '2026-03-10', to: '2026-03-10', groupBy: 'owner', owner });
    expect(totals).toEqual([
      expect.objectContaining({ key: owner, runs: 1, estimatedRuns: 0, usd: 0.3043122 }),
    ]);
    expect(metrics.gauges.get(`${RUN_COST_METRIC}|default`)).toBe(0.3043122);
    expect(metrics.gauges.get(`${MONTH_SPEND_METRIC}|default`)).toBe(
      await ledger.monthSpend('default', '2026-03'),
    );
  });

  it('estimates an EMR on EKS run from its sized resources for as long as it ran, marked as an estimate', async () => {
    // Prepare
    const jobId = await runningJob(
      `eks-${newJobId()}`,
      { pool: 'eks', backend: 'eks' },
      '2026-03-11T08:00:00.000Z',
    );

    // Act: ended 90 s after its move to RUNNING; EMR on EKS reports no usage.
    await recorder().recorder.record({
      jobId,
      runId: 'vc-1/r-1',
      state: 'COMPLETED',
      at: '2026-03-11T08:01:30.000Z',
    });

    // Assess: 2 cores and 2816 MiB for 90 s, at the eks pool's prices.
    const cost = toStatusView((await jobs.getJob(jobId)) as JobRecord).cost;
    expect(cost).toMatchObject({
      vcpuHours: 0.05,
      memoryGbHours: 0.06875,
      storageGbHours: 0,
      durationSeconds: 90,
      computeUsd: 0.0056875,
      estimate: true,
    });
  });

  it('sums the runs of every attempt: compute of each, orchestration of the job and its retry', async () => {
    // Prepare
    const owner = `retried-${newJobId()}`;
    const jobId = await runningJob(owner, {}, '2026-03-12T09:00:00.000Z');
    const { recorder: record } = recorder();
    await record.record({
      jobId,
      runId: 'app/a0',
      state: 'FAILED',
      at: '2026-03-12T09:10:00.000Z',
      usage: BILLED,
    });
    await jobs.transition(jobId, ['RUNNING'], 'RETRYING', { at: '2026-03-12T09:10:01.000Z' });
    await jobs.transition(jobId, ['RETRYING'], 'RUNNING', {
      at: '2026-03-12T09:10:05.000Z',
      set: { attempts: 2 },
      event: { attempt: 1 },
    });

    // Act
    await record.record({
      jobId,
      runId: 'app/a1',
      state: 'SUCCESS',
      at: '2026-03-12T09:20:00.000Z',
      usage: { ...BILLED, source: 'reported' },
    });

    // Assess
    const job = (await jobs.getJob(jobId)) as JobRecord;
    expect(job.runCosts?.['app/a1']?.attempt).toBe(1);
    expect(toStatusView(job).cost).toMatchObject({
      vcpuHours: 8,
      runs: 2,
      computeUsd: 0.608124,
      orchestrationUsd: 0.0005094,
      usd: 0.6086334,
      // The second run's figures were not billed ones.
      estimate: true,
    });
    const [byTag] = await ledger.totals({ from: '2026-03-12', to: '2026-03-12', groupBy: 'tag', owner });
    expect(byTag).toMatchObject({ key: 'team=data', runs: 2, estimatedRuns: 1, usd: 0.6086334 });
  });

  it('counts nothing for a run that has not ended', async () => {
    const jobId = await runningJob(`running-${newJobId()}`, {}, '2026-03-13T09:00:00.000Z');

    await recorder().recorder.record({
      jobId,
      runId: 'app/r',
      state: 'RUNNING',
      at: '2026-03-13T09:00:01.000Z',
    });

    expect((await jobs.getJob(jobId))?.runCosts).toBeUndefined();
  });
});
