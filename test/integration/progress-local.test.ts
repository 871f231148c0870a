import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProgressBody, StatusViewBody } from '#core/api-schemas.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { submitJob } from '../support/local-http.ts';
import { startRoomyRuntime } from '../support/local-runtime.ts';
import { until } from '../support/workflow.ts';

/**
 * Live progress on the local runtime, read through the API as a caller reads it: SQL on DuckDB
 * reports DuckDB's own progress of the running query; inline Python reports through
 * runners/libra_progress.py, which sends one signed UpdateItem to the local DynamoDB per report;
 * a job that never reports shows none. Every answer is checked against docs/openapi.json.
 */

let runtime: LocalRuntime;

beforeAll(async () => {
  // Ticks are driven by the tests.
  runtime = await startRoomyRuntime({ tickSeconds: 3600 });
});

afterAll(async () => {
  await runtime?.stop();
});

const submit = (body: Record<string, unknown>) => submitJob(runtime.url, body);

async function status(jobId: string): Promise<StatusViewBody> {
  const response = await fetch(`${runtime.url}/api/v1/spark/jobs/${jobId}`);
  expect(response.status).toBe(200);
  return (await response.json()) as StatusViewBody;
}

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT']);

/** Reads the status every `everyMs` until the job ends; every read, in order. */
async function watch(jobId: string, everyMs: number, timeoutMs = 60_000): Promise<StatusViewBody[]> {
  const seen: StatusViewBody[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await status(jobId);
    seen.push(now);
    if (FINAL.has(now.status)) return seen;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${now.status}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

// Scans a table DuckDB can count the rows of (its `range` function reports none), hashing each
// row twice on one thread, so that it lasts seconds on a fast machine too (about 4 s here), with
// the fraction rising as the scan goes.
const LONG_SQL = [
  'SET threads TO 1',
  'CREATE TABLE t AS SELECT i FROM range(8000000) r(i)',
  "SELECT count(*) AS hits FROM t WHERE md5(md5(i::VARCHAR)) LIKE '%abc%'",
].join(';\n');

/** Resolves once the runtime has made no DynamoDB request for a quarter of a second. */
async function settled(): Promise<void> {
  const requests = () =>
    [...runtime.usage.dynamodb.values()].reduce((sum, { requests }) => sum + requests, 0);
  await until(
    'the runtime to stop reading and writing',
    async () => {
      runtime.usage.reset();
      await new Promise((resolve) => setTimeout(resolve, 250));
      return requests() === 0;
    },
    10_000,
    0,
  );
}

describe('progress on the local runtime', () => {
  it('shows a long DuckDB query’s fraction rising through the API, and keeps the last one once it ends', async () => {
    // Act
    const jobId = await submit({ kind: 'sql', code: LONG_SQL });
    const seen = await watch(jobId, 250);

    // Assess
    const running = seen
      .filter((view) => view.status === 'RUNNING' && view.progress?.fraction !== undefined)
      .map((view) => view.progress as ProgressBody);
    const fractions = [...new Set(running.map((progress) => progress.fraction))];
    console.info(
      `progress-local: ${seen.length} status reads, fractions seen while running: ${fractions.join(' ')}`,
    );
    expect(fractions.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < running.length; i++) {
      expect(running[i]?.fraction).toBeGreaterThanOrEqual(running[i - 1]?.fraction ?? 0);
      expect(Date.parse(running[i]?.updatedAt ?? '')).toBeGreaterThanOrEqual(
        Date.parse(running[i - 1]?.updatedAt ?? ''),
      );
    }
    expect(running.some((progress) => progress.stagesDone === 2 && progress.tasksTotal > 0)).toBe(true);
    const final = seen.at(-1);
    expect(final?.status).toBe('SUCCEEDED');
    expect(final?.progress).toMatchObject({ stagesDone: 3, stagesTotal: 3, fraction: 1 });
  });

  it('shows what a Python job reports through libra_progress.py, while it runs and once it ended', async () => {
    // Prepare: it reports, waits long enough to be seen, reports again without a fraction, ends.
    const code = [
      'import time, libra_progress',
      'libra_progress.report(1, 4, 30, 120, 0.25)',
      'time.sleep(3)',
      'libra_progress.report(3, 4, 110, 120)',
    ].join('\n');

    // Act
    const jobId = await submit({ kind: 'python', code });
    const seen = await watch(jobId, 100);

    // Assess
    expect(
      seen.find((view) => view.status === 'RUNNING' && view.progress?.stagesDone === 1)?.progress,
    ).toMatchObject({ stagesDone: 1, stagesTotal: 4, tasksDone: 30, tasksTotal: 120, fraction: 0.25 });
    const final = seen.at(-1);
    expect(final?.status).toBe('SUCCEEDED');
    expect(final?.progress).toEqual({
      stagesDone: 3,
      stagesTotal: 4,
      tasksDone: 110,
      tasksTotal: 120,
      updatedAt: expect.any(String),
    });
  });

  it('shows no progress for a job that never reports', async () => {
    // Act
    const jobId = await submit({ kind: 'python', code: 'import time\ntime.sleep(0.5)\nprint("done")' });
    const seen = await watch(jobId, 100);

    // Assess
    expect(seen.at(-1)?.status).toBe('SUCCEEDED');
    expect(seen.every((view) => view.progress === undefined)).toBe(true);
  });

  it('reads the status with one GetItem, progress or not, and lists progress on the job’s line', async () => {
    // Prepare
    const reported = await submit({ kind: 'sql', code: 'SELECT 42 AS answer' });
    const silent = await submit({ kind: 'python', code: 'print(1)' });
    await watch(reported, 100);
    await watch(silent, 100);

    // The run recorder may still be recording the runs' ends (their cost) after the jobs are final.
    await settled();

    // Act
    runtime.usage.reset();
    const withProgress = await status(reported);
    const withProgressReads = Object.fromEntries(
      [...runtime.usage.dynamodb].map(([operation, { requests }]) => [operation, requests]),
    );
    await settled();
    runtime.usage.reset();
    await status(silent);
    const withoutReads = Object.fromEntries(
      [...runtime.usage.dynamodb].map(([operation, { requests }]) => [operation, requests]),
    );
    const list = await fetch(`${runtime.url}/api/v1/spark/jobs?limit=10`);
    const lines = ((await list.json()) as { jobs: { jobId: string; progress?: ProgressBody }[] }).jobs;

    // Assess
    expect(withProgress.progress).toMatchObject({ stagesDone: 1, stagesTotal: 1, fraction: 1 });
    expect(withProgressReads).toEqual({ GetItem: 1 });
    expect(withoutReads).toEqual({ GetItem: 1 });
    expect(lines.find((line) => line.jobId === reported)?.progress).toEqual(withProgress.progress);
    expect(lines.find((line) => line.jobId === silent)).not.toHaveProperty('progress');
  });

  it('writes one PROGRESS history entry for a running job over two ticks within five minutes', async () => {
    // Prepare: a job that reports, then runs on until the ticks are done.
    const code = [
      'import time, libra_progress',
      'libra_progress.report(2, 5, 10, 50, 0.2)',
      'time.sleep(4)',
    ].join('\n');
    const jobId = await submit({ kind: 'python', code });
    await until(
      'its first report',
      async () => (await status(jobId)).progress?.stagesDone === 2,
      20_000,
      100,
    );

    // Act
    await runtime.tick();
    await runtime.tick();
    await watch(jobId, 200);
    const response = await fetch(`${runtime.url}/api/v1/spark/jobs/${jobId}/events`);
    const { events } = (await response.json()) as { events: { type: string; progress?: ProgressBody }[] };

    // Assess
    const entries = events.filter((event) => event.type === 'PROGRESS');
    expect(entries).toHaveLength(1);
    expect(entries[0]?.progress).toMatchObject({ stagesDone: 2, stagesTotal: 5, fraction: 0.2 });
  });
});
