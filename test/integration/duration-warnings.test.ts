import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { parseConfig } from '#core/config.ts';
import { type JobRecord, newJobId } from '#core/job-record.ts';
import type { NotificationEvent } from '#core/job-request.ts';
import {
  DUE_WARNINGS_PER_PAGE,
  DURATION_WARNINGS_METRIC,
  type DurationWarningEvent,
  type DurationWarningStore,
  DurationWarnings,
} from '#core/use-cases/duration-warnings.ts';
import { InMemoryMetrics } from '../../local/metrics.ts';
import { composedApi, iamCaller, sqlJob, submitEvent, testConfig } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { SMALL_RESOURCES, SQL_SPEC } from '../support/job-record.ts';
import { countingClient } from '../support/request-counter.ts';

/**
 * The duration warnings on the job store and its sparse index (dynalite): the run's clock as the
 * store's moves write it, the tick's two looks per attempt (its start, then its due time), one
 * warning per attempt across retries, and two ticks racing for the same warnings.
 */

const MINUTE = 60_000;
const config = parseConfig({ pools: { etl: {}, bulk: {}, busy: {} } });
let db: TestDatabase;
let store: DynamoJobStore;

beforeAll(async () => {
  db = await startTestDatabase('duration-warnings');
  store = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 1 });
});

afterAll(async () => {
  await db?.stop();
});

/** A tick's warnings at a clock the test moves, with what it counted and whom it notified. */
function tick(at: () => Date, jobs: DurationWarningStore = store) {
  const metrics = new InMemoryMetrics();
  const notified: { jobId: string; event: NotificationEvent }[] = [];
  const warnings = new DurationWarnings({
    config,
    jobs,
    notifier: {
      notify: async (jobId, event) => {
        notified.push({ jobId, event });
      },
    },
    metrics,
    clock: at,
    logger: new Logger({ logLevel: 'SILENT' }),
  });
  return { warnings, metrics, notified };
}

/** A job of pool `pool` with a warning after `minutes` (none when undefined), admitted. */
async function scheduledJob(
  minutes: number | undefined,
  options: { pool?: string; subscribed?: boolean } = {},
): Promise<string> {
  const jobId = newJobId();
  const now = new Date().toISOString();
  const record: JobRecord = {
    jobId,
    owner: 'alice',
    status: 'SCHEDULED',
    pool: options.pool ?? 'default',
    backend: 'emr-serverless',
    priority: 5,
    tags: {},
    spec: {
      ...SQL_SPEC,
      ...(minutes !== undefined && { warnAfterMinutes: minutes }),
      ...(options.subscribed && {
        notifications: { webhook: 'https://hooks.example.com/', events: ['DURATION_WARNING'] },
      }),
    },
    resources: SMALL_RESOURCES,
    reservation: { cpuCores: 2, memoryMiB: 2048 },
    attempts: 0,
    submittedAt: now,
    queuedAt: now,
    scheduledAt: now,
    updatedAt: now,
    requestHash: 'test',
  };
  expect(await store.createJob(record)).toBe('created');
  return jobId;
}

/** The workflow's MarkRunning, through the store's move (the same update expression). */
async function startRun(jobId: string, at: Date, attempts: number): Promise<void> {
  await store.transition(jobId, ['SCHEDULED', 'RETRYING'], 'RUNNING', {
    at: at.toISOString(),
    set: { attempts },
  });
}

const warningsOf = async (jobId: string) =>
  (await store.listEvents(jobId)).filter((event) => event.type === 'DURATION_WARNING');

describe('the warning a submitted job takes', () => {
  it("its own, else its pool's default when shorter than its timeout; only a warned job carries warnPool", async () => {
    const api = composedApi(
      db,
      testConfig({ pools: { watched: { warnAfterMinutes: 60, defaultTimeoutMinutes: 120 } } }),
    );
    const caller = iamCaller('warned');
    const submitted = async (body: Record<string, unknown>) => {
      const reply = await api.submit(submitEvent(caller, body));
      expect(reply.status, JSON.stringify(reply.body)).toBe(202);
      const { Item } = await db.documentClient.send(
        new GetCommand({ TableName: db.tableName, Key: { pk: `JOB#${reply.body.jobId}`, sk: 'META' } }),
      );
      return { warnAfterMinutes: Item?.spec.warnAfterMinutes, warnPool: Item?.warnPool };
    };
    expect(await submitted(sqlJob({ pool: 'watched', warnAfterMinutes: 5 }))).toEqual({
      warnAfterMinutes: 5,
      warnPool: 'watched',
    });
    expect(await submitted(sqlJob({ pool: 'watched' }))).toEqual({
      warnAfterMinutes: 60,
      warnPool: 'watched',
    });
    // A timeout not longer than the pool's warning: no warning, not in the index.
    expect(await submitted(sqlJob({ pool: 'watched', timeoutMinutes: 60 }))).toEqual({
      warnAfterMinutes: undefined,
      warnPool: undefined,
    });
    expect(await submitted(sqlJob())).toEqual({ warnAfterMinutes: undefined, warnPool: undefined });
  });
});

describe('duration warnings on the store', () => {
  it('looks at a run at its start, then at its due time; warns once; a job without a warning is never seen', async () => {
    const start = new Date(Date.UTC(2031, 0, 1, 12, 0, 0));
    const jobId = await scheduledJob(10, { pool: 'etl', subscribed: true });
    const plain = await scheduledJob(undefined, { pool: 'etl' });
    await startRun(jobId, start, 1);
    await startRun(plain, start, 1);
    let now = new Date(start.getTime() + 30_000);
    const t = tick(() => now);

    // First look, at the run's start: its warning is due at start + 10 minutes.
    expect(await t.warnings.checkPool('etl')).toEqual({ pool: 'etl', warned: [], scheduled: [jobId] });
    expect((await store.getJob(jobId))?.warnAt).toBe(new Date(start.getTime() + 10 * MINUTE).toISOString());
    // Before it is due, the query returns nothing: no read of the running job per tick.
    now = new Date(start.getTime() + 9 * MINUTE);
    expect((await store.dueWarnings('etl', now.toISOString(), 100)).due).toEqual([]);
    expect(await t.warnings.checkPool('etl')).toEqual({ pool: 'etl', warned: [], scheduled: [] });

    now = new Date(start.getTime() + 10 * MINUTE + 20_000);
    expect(await t.warnings.checkPool('etl')).toEqual({ pool: 'etl', warned: [jobId], scheduled: [] });
    const [warning, ...more] = await warningsOf(jobId);
    expect(more).toEqual([]);
    expect(warning).toEqual({
      jobId,
      at: new Date(start.getTime() + 10 * MINUTE).toISOString(),
      type: 'DURATION_WARNING',
      status: 'RUNNING',
      detail: {
        attempt: 0,
        warnAfterMinutes: 10,
        runStartedAt: start.toISOString(),
        detectedAt: now.toISOString(),
      },
    });
    expect((await store.getJob(jobId))?.warnAt).toBeUndefined();
    expect(t.metrics.counter(DURATION_WARNINGS_METRIC, 'etl')).toBe(1);
    expect(t.notified).toEqual([{ jobId, event: 'DURATION_WARNING' }]);

    // Given once: later ticks find nothing, and the plain job was never in the index.
    now = new Date(start.getTime() + 60 * MINUTE);
    expect((await store.dueWarnings('etl', now.toISOString(), 100)).due).toEqual([]);
    expect(await t.warnings.checkPool('etl')).toEqual({ pool: 'etl', warned: [], scheduled: [] });
    expect((await store.getJob(plain))?.warnAt).toBe(start.toISOString());
    expect(t.metrics.counter(DURATION_WARNINGS_METRIC, 'etl')).toBe(1);
  });

  it('a tick late past the due time warns at its first look, dated when the run went past it', async () => {
    const start = new Date(Date.UTC(2031, 1, 1, 0, 0, 0));
    const jobId = await scheduledJob(1);
    await startRun(jobId, start, 1);
    const now = new Date(start.getTime() + 5 * MINUTE);
    const t = tick(() => now);
    expect((await t.warnings.checkPool('default')).warned).toEqual([jobId]);
    expect((await warningsOf(jobId)).map((event) => event.at)).toEqual([
      new Date(start.getTime() + MINUTE).toISOString(),
    ]);
    // Not subscribed: no webhook, but the history and the metric.
    expect(t.notified).toEqual([]);
    expect(t.metrics.counter(DURATION_WARNINGS_METRIC)).toBe(1);
  });

  it('a retried job gets one warning per attempt; a run that ends before its warning gets none', async () => {
    const start = new Date(Date.UTC(2031, 2, 1, 0, 0, 0));
    const jobId = await scheduledJob(2);
    let now = start;
    const t = tick(() => now);
    const at = (minutes: number) => new Date(start.getTime() + minutes * MINUTE);

    await startRun(jobId, at(0), 1);
    now = at(3);
    await t.warnings.checkPool('default');
    // The attempt fails; its warning is not repeated, and RETRYING removes nothing more to find.
    await store.transition(jobId, ['RUNNING'], 'RETRYING', { at: at(4).toISOString() });
    expect((await store.getJob(jobId))?.warnAt).toBeUndefined();
    now = at(5);
    expect(await t.warnings.checkPool('default')).toEqual({ pool: 'default', warned: [], scheduled: [] });

    await startRun(jobId, at(5), 2);
    now = at(6);
    expect((await t.warnings.checkPool('default')).scheduled).toEqual([jobId]);
    now = at(7);
    expect((await t.warnings.checkPool('default')).warned).toEqual([jobId]);
    await store.transition(jobId, ['RUNNING'], 'RETRYING', { at: at(8).toISOString() });

    // The third attempt ends SUCCEEDED a minute in: its warning, scheduled, is never given.
    await startRun(jobId, at(9), 3);
    now = at(9.5);
    expect((await t.warnings.checkPool('default')).scheduled).toEqual([jobId]);
    await store.transition(jobId, ['RUNNING'], 'SUCCEEDED', { at: at(10).toISOString() });
    now = at(20);
    expect(await t.warnings.checkPool('default')).toEqual({ pool: 'default', warned: [], scheduled: [] });

    const warnings = await warningsOf(jobId);
    expect(warnings.map((event) => [event.detail?.attempt, event.at])).toEqual([
      [0, at(2).toISOString()],
      [1, at(7).toISOString()],
    ]);
    expect(t.metrics.counter(DURATION_WARNINGS_METRIC)).toBe(2);
  });

  it('costs one query per pool and tick, whatever the running jobs, and two looks per attempt', async () => {
    const start = new Date(Date.UTC(2031, 5, 1, 0, 0, 0));
    const counting = countingClient(db);
    const counted = new DynamoJobStore({
      client: counting.documentClient,
      tableName: db.tableName,
      retentionDays: 1,
    });
    try {
      const runs = 40;
      const jobIds = await Promise.all(
        Array.from({ length: runs }, () => scheduledJob(30, { pool: 'busy' })),
      );
      await Promise.all(jobIds.map((jobId) => startRun(jobId, start, 1)));
      let now = new Date(start.getTime() + 10_000);
      const t = tick(() => now, counted);
      const requests = () => ['Query', 'GetItem', 'PutItem', 'UpdateItem'].map((op) => counting.count(op));

      // The first tick looks at every new run once and moves its warnAt on.
      counting.reset();
      expect((await t.warnings.checkPool('busy')).scheduled).toHaveLength(runs);
      expect(requests()).toEqual([1, runs, 0, runs]);
      // Every tick until the warnings are due: one query, nothing read, whatever runs.
      for (const minute of [1, 10, 29]) {
        now = new Date(start.getTime() + minute * MINUTE);
        counting.reset();
        await t.warnings.checkPool('busy');
        expect(requests()).toEqual([1, 0, 0, 0]);
        expect(counting.scanned()).toBe(0);
      }
      // Due: each is read, warned (its history item) and its warnAt removed, once.
      now = new Date(start.getTime() + 30 * MINUTE);
      counting.reset();
      expect((await t.warnings.checkPool('busy')).warned).toHaveLength(runs);
      expect(requests()).toEqual([1, runs, runs, runs]);
    } finally {
      counting.destroy();
    }
  });

  it('more warnings due at once than a query returns: one tick gives them all', async () => {
    const start = new Date(Date.UTC(2031, 4, 1, 0, 0, 0));
    const count = DUE_WARNINGS_PER_PAGE + 5;
    const jobIds = await Promise.all(Array.from({ length: count }, () => scheduledJob(1, { pool: 'bulk' })));
    await Promise.all(jobIds.map((jobId) => startRun(jobId, start, 1)));
    const t = tick(() => new Date(start.getTime() + 3 * MINUTE));
    expect((await t.warnings.checkPool('bulk')).warned).toHaveLength(count);
    expect(t.metrics.counter(DURATION_WARNINGS_METRIC, 'bulk')).toBe(count);
  });

  it('two ticks racing give each warning once: one history item, one count, one webhook', async () => {
    const start = new Date(Date.UTC(2031, 3, 1, 0, 0, 0));
    const jobIds = await Promise.all(
      Array.from({ length: 8 }, () => scheduledJob(1, { pool: 'etl', subscribed: true })),
    );
    await Promise.all(jobIds.map((jobId) => startRun(jobId, start, 1)));
    // Half the jobs looked at once already (warnAt at their due time), half still at their start.
    for (const jobId of jobIds.slice(0, 4)) {
      const job = await store.getJob(jobId);
      await store.rescheduleWarning(
        jobId,
        { warnAt: job?.warnAt ?? '', attempts: 1 },
        new Date(start.getTime() + MINUTE).toISOString(),
      );
    }

    // The store as both ticks share it, each warning's write held until both ticks make it: they
    // race on every job, not only on the ones their timing happens to overlap on.
    const arrivals = new Map<string, { count: number; both: Promise<void>; arrive: () => void }>();
    const outcomes: boolean[] = [];
    const racing: DurationWarningStore = {
      dueWarnings: (pool, at, limit, start) => store.dueWarnings(pool, at, limit, start),
      getJob: (jobId) => store.getJob(jobId),
      rescheduleWarning: (jobId, seen, dueAt) => store.rescheduleWarning(jobId, seen, dueAt),
      clearWarning: (jobId, seen) => store.clearWarning(jobId, seen),
      recordWarning: async (event: DurationWarningEvent) => {
        let arrival = arrivals.get(event.jobId);
        if (!arrival) {
          let arrive = () => {};
          const both = new Promise<void>((resolve) => {
            arrive = resolve;
          });
          arrival = { count: 0, both, arrive };
          arrivals.set(event.jobId, arrival);
        }
        arrival.count++;
        if (arrival.count === 2) arrival.arrive();
        await arrival.both;
        const recorded = await store.recordWarning(event);
        outcomes.push(recorded);
        return recorded;
      },
    };
    const now = () => new Date(start.getTime() + 2 * MINUTE);
    const [a, b] = [tick(now, racing), tick(now, racing)];
    const reports = await Promise.all([a.warnings.checkPool('etl'), b.warnings.checkPool('etl')]);

    // Both wrote every warning; one write of each won.
    expect(outcomes).toHaveLength(2 * jobIds.length);
    expect(outcomes.filter(Boolean)).toHaveLength(jobIds.length);
    const warned = reports.flatMap((report) => report.warned);
    expect(warned.sort()).toEqual([...jobIds].sort());
    for (const jobId of jobIds) expect(await warningsOf(jobId)).toHaveLength(1);
    const counted =
      a.metrics.counter(DURATION_WARNINGS_METRIC, 'etl') + b.metrics.counter(DURATION_WARNINGS_METRIC, 'etl');
    expect(counted).toBe(jobIds.length);
    expect([...a.notified, ...b.notified].map((n) => n.jobId).sort()).toEqual([...jobIds].sort());
    expect((await store.dueWarnings('etl', now().toISOString(), 100)).due).toEqual([]);
  });
});
