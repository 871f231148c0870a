import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LocalEngineError,
  type LocalRun,
  type LocalRunRequest,
  LocalSparkEngine,
} from '../../local/engine/index.ts';

/** Runs for hours on two cores unless something stops it. */
const ENDLESS_SQL = 'SELECT count(*) FROM range(1000000000) a, range(1000000000) b';

let dataDir: string;
let engine: LocalSparkEngine;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'libra-engine-sql-'));
  engine = new LocalSparkEngine({ dataDir });
});

afterEach(async () => {
  await engine.close();
  await rm(dataDir, { recursive: true, force: true });
});

let jobCount = 0;
function sql(code: string, overrides: Partial<LocalRunRequest> = {}): LocalRunRequest {
  jobCount += 1;
  const jobId = `sql-${jobCount}`;
  return { jobId, attempt: 0, clientToken: `${jobId}-0`, jobType: 'sql', code, sparkConf: {}, ...overrides };
}

const output = (run: LocalRun, file: string) => readFile(join(run.outputDir, file), 'utf8');

/** Resolves once `run` has left PENDING (it may already have). */
function running(run: LocalRun, on: LocalSparkEngine = engine): Promise<void> {
  if (run.state !== 'PENDING') return Promise.resolve();
  return new Promise((resolve) => {
    const stop = on.onStateChange((changed) => {
      if (changed.runId === run.runId && changed.state !== 'PENDING') {
        stop();
        resolve();
      }
    });
  });
}

async function untilOutput(run: LocalRun, file: string, text: string): Promise<void> {
  while (!(await output(run, file).catch(() => '')).includes(text))
    await new Promise((r) => setTimeout(r, 20));
}

describe('SQL on DuckDB', () => {
  it('runs SELECT 1 to SUCCESS with a preview on the run, in result.json and as a table on stdout', async () => {
    const started = engine.start(sql('SELECT 1 AS one'));
    expect(started.state).toBe('PENDING');
    expect(started.runId).toMatch(/^[0-9a-z]{16}$/);
    expect(started.outputDir).toBe(join(dataDir, 'runs', started.jobId, `0-${started.runId}`));

    const run = await engine.wait(started.runId);
    expect(run).toMatchObject({
      state: 'SUCCESS',
      preview: { columns: ['one'], rows: [[1]], truncated: false },
    });
    expect(run.endedAt).toBeDefined();
    expect(run.unavailable).toBeUndefined();
    expect(JSON.parse(await output(run, 'result.json'))).toEqual(run.preview);
    expect(await output(run, 'stdout.txt')).toBe('Statement 1:\n+---+\n|one|\n+---+\n|  1|\n+---+\n');
    expect(await output(run, 'stderr.txt')).toBe('');
  });

  it('runs several statements in order and previews the last one that returned rows, cut at 20', async () => {
    const run = await engine.wait(
      engine.start(
        sql(`
          CREATE TABLE t (i INTEGER, d DATE, big BIGINT);
          INSERT INTO t SELECT r, DATE '2024-01-01' + r::INTEGER, r * 10000000000000000 FROM range(25) x(r);
          SELECT * FROM t ORDER BY i;
          UPDATE t SET i = i + 100 WHERE i < 3;
        `),
      ).runId,
    );
    expect(run.state).toBe('SUCCESS');
    expect(run.preview?.columns).toEqual(['i', 'd', 'big']);
    expect(run.preview?.truncated).toBe(true);
    expect(run.preview?.rows).toHaveLength(20);
    // Dates as ISO text; a BIGINT beyond 2^53 as a string so it is not rounded.
    expect(run.preview?.rows[0]).toEqual([0, '2024-01-01', 0]);
    expect(run.preview?.rows[19]).toEqual([19, '2024-01-20', '190000000000000000']);
    const stdout = await output(run, 'stdout.txt');
    expect(stdout).toContain('Statement 1: OK\nStatement 2: OK, 25 rows changed\nStatement 3:\n');
    expect(stdout).toContain('only showing top 20 rows\nStatement 4: OK, 3 rows changed\n');
  });

  it('fails a syntax error with DuckDB’s message in stateDetails and stderr.txt', async () => {
    const run = await engine.wait(engine.start(sql('SELEC 1')).runId);
    expect(run.state).toBe('FAILED');
    expect(run.unavailable).toBeUndefined();
    expect(run.stateDetails).toMatch(/^Parser Error: syntax error at or near "SELEC"/);
    expect(await output(run, 'stderr.txt')).toContain('syntax error at or near "SELEC"');
    expect(run.preview).toBeUndefined();
  });

  it('stops at the first statement that fails at run time, after running those before it', async () => {
    const run = await engine.wait(
      engine.start(sql("SELECT 42 AS answer; SELECT * FROM missing_table; SELECT 'never'")).runId,
    );
    expect(run.state).toBe('FAILED');
    expect(run.stateDetails).toMatch(/^Catalog Error: Table with name missing_table does not exist/);
    expect(await output(run, 'stdout.txt')).toContain('answer');
    expect(await output(run, 'stdout.txt')).not.toContain('never');
  });

  it('fails code with no statement in it, saying so', async () => {
    const run = await engine.wait(engine.start(sql('  -- nothing here\n ; ')).runId);
    expect(run.state).toBe('FAILED');
    expect(run.stateDetails).toMatch(/^No SQL statement to run/);
  });

  it('runs SQL from a local file given as entryPoint', async () => {
    const file = join(dataDir, 'query.sql');
    await writeFile(file, "SELECT 'from a file' AS source");
    const run = await engine.wait(
      engine.start(sql('', { code: undefined, entryPoint: `file://${file}` })).runId,
    );
    expect(run).toMatchObject({ state: 'SUCCESS', preview: { rows: [['from a file']] } });
  });

  it('cancels a long query: the run ends CANCELLED, and the event loop kept running meanwhile', async () => {
    const run = engine.start(sql(`SELECT 'warm-up' AS step; ${ENDLESS_SQL}`));
    await running(run);
    await untilOutput(run, 'stdout.txt', 'warm-up');
    // Timers still fire while DuckDB works: the query is not on this thread.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(engine.get(run.runId)?.state).toBe('RUNNING');

    expect(await engine.cancel(run.runId)).toBe(true);
    expect(run).toMatchObject({ state: 'CANCELLED', stateDetails: 'Job run was cancelled' });
    expect(run.preview).toBeUndefined();
    expect(await output(run, 'stderr.txt')).toContain('Job run was cancelled');
    expect(await engine.cancel(run.runId)).toBe(false);
  });

  it('stops a query at its execution timeout: FAILED, timedOut, saying the timeout was reached', async () => {
    const fast = new LocalSparkEngine({ dataDir, minuteMs: 200 });
    try {
      const run = await fast.wait(fast.start(sql(ENDLESS_SQL, { executionTimeoutMinutes: 1 })).runId);
      expect(run).toMatchObject({ state: 'FAILED', timedOut: true });
      expect(run.stateDetails).toBe(
        'Job run timed out: it ran longer than its execution timeout of 1 minutes',
      );
    } finally {
      await fast.close();
    }
  });

  it('holds SQL runs beyond maxConcurrentSql in PENDING; one cancelled there never runs', async () => {
    const single = new LocalSparkEngine({ dataDir, maxConcurrentSql: 1 });
    const states: string[] = [];
    try {
      const first = single.start(sql(ENDLESS_SQL));
      const second = single.start(sql('SELECT 2'));
      single.onStateChange((changed) => {
        if (changed.runId === second.runId) states.push(changed.state);
      });
      await running(first, single);
      expect(first.state).toBe('RUNNING');
      expect(second.state).toBe('PENDING');
      expect(await single.cancel(second.runId)).toBe(true);
      expect(states).toEqual(['CANCELLED']);

      // The slot frees when the first ends, and the next run gets it.
      const third = single.start(sql('SELECT 3 AS three'));
      expect(await single.cancel(first.runId)).toBe(true);
      expect((await single.wait(third.runId)).preview?.rows).toEqual([[3]]);
    } finally {
      await single.close();
    }
  });

  it('close() interrupts running queries and refuses new runs', async () => {
    const run = engine.start(sql(ENDLESS_SQL));
    await running(run);
    await engine.close();
    expect(run.state).toBe('CANCELLED');
    expect(() => engine.start(sql('SELECT 1'))).toThrow(LocalEngineError);
  });
});
