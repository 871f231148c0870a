import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { JobRecord } from '#core/job-record.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.ts';
import { testConfig } from '../support/api.ts';
import { submitJob } from '../support/local-http.ts';

/**
 * What a start does, before it answers its first request, with the state an earlier runtime left
 * on its --data directory: each job between admission and its end in each state it can be found
 * in (made here by a first runtime whose workflows never run, and moves the workflow would have
 * made), and a pool counter gone wrong. No tick runs in this test: what is right is right at start.
 */

const config = testConfig({
  pools: { default: { cpuCores: 10_000, memoryGb: 40_000, maxConcurrentJobs: 7, maxQueueSize: 100 } },
});
const SLEEP = 'import time\ntime.sleep(2)\nprint("slept")\n';
const RUN_ID = 'earlierrun000001';
const FAILED_RUN_ID = 'earlierrun000002';

const submit = (runtime: LocalRuntime, body: Record<string, unknown>) => submitJob(runtime.url, body);

async function get<T>(runtime: LocalRuntime, path: string): Promise<T> {
  const response = await fetch(`${runtime.url}${path}`);
  expect(response.status, path).toBe(200);
  return (await response.json()) as T;
}

interface PoolView {
  readonly name: string;
  readonly running: number;
  readonly waiting: number;
  readonly used: { cpuCores: number; memoryGb: number };
}

describe('a start over data an earlier runtime left', () => {
  let dir: string;
  let second: LocalRuntime | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'libra-at-start-'));
  });

  afterAll(async () => {
    await second?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('goes on with every job in flight, each as its state and retry policy say, with counters right at once', {
    timeout: 90_000,
  }, async () => {
    const dataDir = join(dir, 'data');
    // The first runtime admits jobs but starts no workflow: they stay SCHEDULED with their leases.
    const first = await startLocalRuntime({
      config,
      port: 0,
      dataDir,
      logLevel: 'SILENT',
      tickSeconds: 3600,
      onWorkflowStart: () => undefined,
    });
    const retry = { initialDelaySeconds: 1, maxDelaySeconds: 1 };
    const ids = {
      cutOff: await submit(first, { kind: 'python', code: SLEEP, retryPolicy: { ...retry, maxRetries: 1 } }),
      ranToEnd: await submit(first, { kind: 'sql', code: 'SELECT 1' }),
      cancelling: await submit(first, { kind: 'python', code: SLEEP }),
      noRetry: await submit(first, { kind: 'python', code: SLEEP, retryPolicy: { ...retry, maxRetries: 0 } }),
      failedRun: await submit(first, {
        kind: 'sql',
        code: 'SELECT 1',
        retryPolicy: { ...retry, maxRetries: 0 },
      }),
      retrying: await submit(first, {
        kind: 'python',
        code: SLEEP,
        retryPolicy: { ...retry, maxRetries: 2 },
      }),
      scheduled: await submit(first, { kind: 'python', code: SLEEP }),
    };
    // The pool is full: these wait.
    const queued: string[] = [];
    for (let i = 0; i < 5; i++) queued.push(await submit(first, { kind: 'python', code: SLEEP }));
    const { jobs } = first.parts;
    await vi.waitFor(
      async () => {
        const statuses = await Promise.all(
          [...Object.values(ids), ...queued].map(async (id) => (await jobs.getJob(id))?.status),
        );
        expect(statuses.filter((status) => status === 'SCHEDULED')).toHaveLength(7);
        expect(statuses.filter((status) => status === 'QUEUED')).toHaveLength(5);
      },
      { timeout: 15_000, interval: 100 },
    );

    // The moves the workflow would have made before the runtime went away.
    const at = () => new Date().toISOString();
    const running = (jobId: string) =>
      jobs.transition(jobId, ['SCHEDULED'], 'RUNNING', { at: at(), set: { attempts: 1 } });
    await running(ids.cutOff);
    await running(ids.noRetry);
    // Its run had failed; the runtime stopped before the workflow ended the job.
    await running(ids.failedRun);
    await mkdir(join(dataDir, 'engine', 'runs', ids.failedRun, `0-${FAILED_RUN_ID}`), { recursive: true });
    await jobs.recordRun({ jobId: ids.failedRun, runId: FAILED_RUN_ID, state: 'FAILED', at: at() });
    await running(ids.ranToEnd);
    // Its run had succeeded (its files are on disk); the runtime stopped before MarkSucceeded.
    const runDir = join(dataDir, 'engine', 'runs', ids.ranToEnd, `0-${RUN_ID}`);
    await mkdir(runDir, { recursive: true });
    await writeFile(join(runDir, 'stdout.txt'), 'the earlier run\n');
    await jobs.recordRun({ jobId: ids.ranToEnd, runId: RUN_ID, state: 'SUCCESS', at: at() });
    await running(ids.cancelling);
    await jobs.transition(ids.cancelling, ['RUNNING'], 'CANCELLING', {
      at: at(),
      reason: { code: 'CANCELLED_BY_USER', message: 'cancelled by local-user' },
    });
    // Attempt 1 failed; attempt 2 waited for its backoff.
    await running(ids.retrying);
    await jobs.transition(ids.retrying, ['RUNNING'], 'RETRYING', { at: at() });
    // A counter gone wrong (too low, as after a lost increment): the reconciler recounts it.
    const dynamo = new DynamoDBClient({
      endpoint: first.dynamoEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await dynamo.send(
      new UpdateItemCommand({
        TableName: first.tableName,
        Key: { pk: { S: 'POOL#default' }, sk: { S: 'POOL' } },
        UpdateExpression: 'SET waiting = :w',
        ExpressionAttributeValues: { ':w': { N: '0' } },
      }),
    );
    dynamo.destroy();
    await first.stop();

    second = await startLocalRuntime({ config, port: 0, dataDir, logLevel: 'SILENT', tickSeconds: 3600 });
    const runtime = second;

    // Right at start, before any tick: four queued jobs took the room the four ended jobs gave
    // back, the counter is recounted (one waits), and every job that goes on has an execution.
    // Read together: the admitted jobs' runs are short, and one that ends admits the next.
    const [{ pools }, ...queuedNow] = await Promise.all([
      get<{ pools: PoolView[] }>(runtime, '/api/v1/spark/pools'),
      ...queued.map((id) => get<JobRecord>(runtime, `/api/v1/spark/jobs/${id}`)),
    ]);
    expect(pools.find((pool) => pool.name === 'default')).toMatchObject({ waiting: 1, running: 7 });
    const admittedAtStart = queuedNow.filter((job) => job.status !== 'QUEUED').map((job) => job.jobId);
    expect(admittedAtStart).toHaveLength(4);
    for (const jobId of [ids.cutOff, ids.retrying, ids.scheduled, ...admittedAtStart]) {
      expect(runtime.workflow.get(jobId)?.status, jobId).toBe('RUNNING');
    }
    expect(await get<JobRecord>(runtime, `/api/v1/spark/jobs/${ids.ranToEnd}`)).toMatchObject({
      status: 'SUCCEEDED',
      attempts: 1,
    });
    // It was not run again, and the earlier run's output is still served.
    expect(runtime.engine.runsOf(ids.ranToEnd)).toEqual([]);
    const earlier = await fetch(`${runtime.url}/local/jobs/${ids.ranToEnd}/runs/${RUN_ID}/stdout.txt`);
    expect(await earlier.text()).toBe('the earlier run\n');
    expect(await get<JobRecord>(runtime, `/api/v1/spark/jobs/${ids.cancelling}`)).toMatchObject({
      status: 'CANCELLED',
      reason: { code: 'CANCELLED_BY_USER' },
    });
    expect(await get<JobRecord>(runtime, `/api/v1/spark/jobs/${ids.failedRun}`)).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      reason: { code: 'SPARK_JOB_FAILED' },
    });
    expect(runtime.engine.runsOf(ids.failedRun)).toEqual([]);
    expect(await get<JobRecord>(runtime, `/api/v1/spark/jobs/${ids.noRetry}`)).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      reason: { code: 'RUNTIME_RESTARTED' },
    });

    await vi.waitFor(
      async () => {
        for (const jobId of [ids.cutOff, ids.retrying, ids.scheduled, ...queued]) {
          expect((await get<JobRecord>(runtime, `/api/v1/spark/jobs/${jobId}`)).status, jobId).toBe(
            'SUCCEEDED',
          );
        }
      },
      { timeout: 60_000, interval: 250 },
    );
    // The cut-off job ran again as its next attempt, and its history says why.
    expect(await get<JobRecord>(runtime, `/api/v1/spark/jobs/${ids.cutOff}`)).toMatchObject({ attempts: 2 });
    const { events } = await get<{ events: Record<string, unknown>[] }>(
      runtime,
      `/api/v1/spark/jobs/${ids.cutOff}/events`,
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        status: 'RETRYING',
        from: 'RUNNING',
        attempt: 1,
        error: expect.objectContaining({ name: 'RUNTIME_RESTARTED' }),
      }),
    );
    expect(runtime.engine.runsOf(ids.cutOff).map((run) => run.attempt)).toEqual([1]);
    // The job waiting to retry ran the attempt it waited for; the others their first.
    expect(runtime.engine.runsOf(ids.retrying).map((run) => run.attempt)).toEqual([1]);
    expect(runtime.engine.runsOf(ids.scheduled).map((run) => run.attempt)).toEqual([0]);

    await vi.waitFor(
      async () => {
        const { pools: after } = await get<{ pools: PoolView[] }>(runtime, '/api/v1/spark/pools');
        expect(after.find((pool) => pool.name === 'default')).toMatchObject({
          running: 0,
          waiting: 0,
          used: { cpuCores: 0, memoryGb: 0 },
        });
      },
      { timeout: 10_000, interval: 200 },
    );
  });
});
