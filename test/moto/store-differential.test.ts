import { isDeepStrictEqual } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { DynamoPoolStore } from '#adapters/dynamo-pool-store.ts';
import { documentClient } from '#adapters/table-stores.ts';
import { TransitionConflict } from '#core/errors.ts';
import { ownerKey } from '#core/fair-share.ts';
import type { JobRecord, Reservation } from '#core/job-record.ts';
import type { JobStatus } from '#core/job-states.ts';
import type { FairState, JobPage, PoolLimits } from '#core/ports.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { SMALL_RESOURCES } from '../support/job-record.ts';
import { createMotoTable, motoClientConfig } from '../support/moto.ts';

/**
 * The two DynamoDB stores (DynamoJobStore, DynamoPoolStore) run the same script of operations on
 * dynalite (what the local runtime and most tests use) and on moto (a second, independent
 * implementation of DynamoDB's wire protocol and expression language); every answer is kept in a
 * transcript and the two transcripts must be equal. Where the emulators differ from each other or
 * from DynamoDB, docs/emulators.md says how; the script avoids nothing to hide a difference: a
 * new one fails here.
 *
 * Met so far, and written down there: a Query that stops at its Limit on the index's last item
 * has a LastEvaluatedKey on dynalite (as on DynamoDB, which does not look ahead) and none on moto;
 * the listing reads one item past its page, so its answers do not depend on that.
 * moto_server does not serialise conditional updates of one item (its threads interleave the
 * condition check and the write: 6 of 40 racing acquires won a 5-job budget, and counter updates
 * were lost), so the races run at once on dynalite, which serialises them as DynamoDB does, and
 * one call after another on moto; concurrency is proven on dynalite only.
 */

/** The step where the emulators' Query answers differ (docs/emulators.md) and the listing's must not. */
const LAST_PAGE_STEP = 'list alice tag cost-centre present, and the page after';

const OWNERS = ['arn:aws:sts::123456789012:assumed-role/libra/alice', 'jwt|bob#1'];
const OWNER_A = OWNERS[0] as string;
const T0 = Date.parse('2025-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

/** Job ids fixed for the script, so both transcripts name the same jobs. */
const jobIds = Array.from(
  { length: 12 },
  (_, i) => `job-${String(i).padStart(8, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`,
);

function jobRecord(i: number): JobRecord {
  const submittedAt = at(i * 1000);
  return {
    jobId: jobIds[i] ?? '',
    owner: OWNERS[i % 2] ?? '',
    status: 'QUEUED',
    pool: i < 9 ? 'default' : 'gpu',
    backend: i % 3 === 0 ? 'eks' : 'emr-serverless',
    priority: [5, 9, 1, 5][i % 4] ?? 5,
    ...(i % 2 === 0 && { name: `nightly #${i}` }),
    tags: i % 3 === 0 ? { team: 'data', constructor: 'x', 'cost-centre': 'ünï' } : { team: 'web' },
    spec: {
      jobType: 'sql',
      code: `SELECT ${i}`,
      sparkConf: { 'spark.executor.instances': '2', 'spark.dynamicAllocation.maxExecutors': '4' },
      retryPolicy: { maxRetries: 2, backoffMultiplier: 2, initialDelaySeconds: 1, maxDelaySeconds: 60 },
      retryDelaysSeconds: [1, 2],
      retryOnTimeout: false,
      timeoutMinutes: 60,
    },
    resources: SMALL_RESOURCES,
    reservation: { cpuCores: 9, memoryMiB: 40_960 + i },
    attempts: 0,
    submittedAt,
    queuedAt: submittedAt,
    updatedAt: submittedAt,
    requestHash: `sha256:${i}`,
  };
}

interface Stores {
  readonly jobs: DynamoJobStore;
  readonly pools: DynamoPoolStore;
}

/** What a call answered, or the error it threw, in a form two emulators can be compared by. */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await call() };
  } catch (error) {
    if (error instanceof TransitionConflict) return { conflict: error.actualStatus ?? 'missing' };
    return { error: (error as Error).name, message: (error as Error).message };
  }
}

const LIMITS: PoolLimits = { cpuCores: 50, memoryMiB: 1_000_000, maxConcurrentJobs: 5 };

/** The script: each step's name and answer, in order. */
async function runScript(
  { jobs, pools }: Stores,
  { racing }: { readonly racing: boolean },
): Promise<[string, unknown][]> {
  /** Racing calls at once, or (on moto, which does not serialise them) one after the other. */
  const all = <T>(calls: (() => Promise<T>)[]): Promise<T[]> =>
    racing
      ? Promise.all(calls.map((call) => call()))
      : calls.reduce<Promise<T[]>>(
          async (done, call) => [...(await done), await call()],
          Promise.resolve([]),
        );
  const transcript: [string, unknown][] = [];
  const step = async (name: string, call: () => Promise<unknown>) => {
    transcript.push([name, await outcome(call)]);
  };
  const move = (i: number, from: JobStatus[], to: JobStatus, ms: number, set?: Record<string, unknown>) =>
    step(`transition ${i} ${from.join('|')} → ${to}`, () =>
      jobs.transition(jobIds[i] ?? '', from, to, {
        at: at(ms),
        ...(to === 'FAILED' && { reason: { code: 'SPARK_JOB_FAILED', message: 'exit 1' } }),
        ...(set && { set }),
      }),
    );

  // Jobs, and a replayed create.
  for (let i = 0; i < jobIds.length; i++) await step(`create ${i}`, () => jobs.createJob(jobRecord(i)));
  await step('create 0 again', () => jobs.createJob(jobRecord(0)));
  await step('get 0', () => jobs.getJob(jobIds[0] ?? ''));
  await step('get 3 (eks, tags with constructor)', () => jobs.getJob(jobIds[3] ?? ''));
  await step('get missing', () => jobs.getJob('job-ffffffff-0000-4000-8000-ffffffffffff'));

  // Waiting order: priority first, then submit order; and positions in it.
  await step('waiting default', () => jobs.listWaiting('default', 20));
  await step('waiting default, pages of 3', async () => {
    const first = await jobs.listWaiting('default', 3);
    const second = await jobs.listWaiting('default', 3, first.next);
    return [first.jobs.map((j) => j.jobId), second.jobs.map((j) => j.jobId), second.next !== undefined];
  });
  await step('waiting gpu', () => jobs.listWaiting('gpu', 20));
  for (const i of [0, 1, 2, 5]) await step(`position ${i}`, () => jobs.queuePosition(jobRecord(i), 100));

  // Moves, refused moves, and the history they leave.
  await move(1, ['QUEUED'], 'SCHEDULED', 20_000);
  await step('transition 1 QUEUED → SCHEDULED replayed', () =>
    jobs.transition(jobIds[1] ?? '', ['QUEUED'], 'SCHEDULED', { at: at(20_001) }),
  );
  await move(1, ['SCHEDULED'], 'RUNNING', 21_000, { attempts: 1, backendRunId: 'app/run-1' });
  await move(1, ['RUNNING'], 'RETRYING', 22_000);
  await move(1, ['RETRYING'], 'RUNNING', 23_000, { attempts: 2 });
  await move(1, ['RUNNING'], 'FAILED', 24_000);
  await move(1, ['RUNNING', 'RETRYING'], 'SUCCEEDED', 25_000);
  await move(2, ['QUEUED', 'SCHEDULED'], 'CANCELLED', 26_000);
  await move(11, ['SCHEDULED'], 'RUNNING', 27_000);
  await step('transition missing', () =>
    jobs.transition('job-ffffffff-0000-4000-8000-ffffffffffff', ['QUEUED'], 'SCHEDULED', { at: at(1) }),
  );
  await step('history 1', () => jobs.listEvents(jobIds[1] ?? ''));
  await step('history 2', () => jobs.listEvents(jobIds[2] ?? ''));
  await step('waiting default after moves', async () =>
    (await jobs.listWaiting('default', 20)).jobs.map((j) => j.jobId),
  );
  await step('position 5 after moves', () => jobs.queuePosition(jobRecord(5), 100));
  await step('position 5 after moves, head of 1', () => jobs.queuePosition(jobRecord(5), 1));

  // The backend's reports, in and out of order.
  const run = (i: number, state: string, ms: number) =>
    step(`record run ${i} ${state} @${ms}`, () =>
      jobs.recordRun({
        jobId: jobIds[i] ?? '',
        runId: `app/run-${i}`,
        state,
        at: at(ms),
        links: { logs: `s3://bucket/logs/${jobIds[i]}/` },
      }),
    );
  await run(4, 'RUNNING', 30_000);
  await run(4, 'SUCCESS', 32_000);
  await run(4, 'SCHEDULED', 31_000);
  await step('record run missing', () =>
    jobs.recordRun({
      jobId: 'job-ffffffff-0000-4000-8000-ffffffffffff',
      runId: 'a/b',
      state: 'RUNNING',
      at: at(1),
    }),
  );
  await step('get 4 after runs', () => jobs.getJob(jobIds[4] ?? ''));

  // Webhook log.
  await step('delivery 1', () =>
    jobs.recordDelivery({
      jobId: jobIds[1] ?? '',
      at: at(40_000),
      type: 'WEBHOOK',
      status: 'FAILED',
      detail: { webhookId: 'msg_1', attempt: 1, outcome: 'gone', statusCode: 410 },
    }),
  );
  await step('disable webhook 1', () => jobs.disableWebhook(jobIds[1] ?? '', at(40_001)));
  await step('disable webhook 1 again', () => jobs.disableWebhook(jobIds[1] ?? '', at(40_002)));
  await step('disable webhook missing', () =>
    jobs.disableWebhook('job-ffffffff-0000-4000-8000-ffffffffffff', at(1)),
  );
  await step('history 1 with delivery', () => jobs.listEvents(jobIds[1] ?? ''));
  await step('get 1 final', () => jobs.getJob(jobIds[1] ?? ''));

  // Listing a caller's jobs: newest first, in pages, with filters.
  for (const owner of OWNERS) {
    await step(`list ${owner} all pages of 4`, async () => {
      const pages = [];
      let nextToken: string | undefined;
      do {
        const page = await jobs.listJobs({ owner, limit: 4, ...(nextToken && { nextToken }) });
        pages.push(page);
        nextToken = page.nextToken;
      } while (nextToken && pages.length < 10);
      return pages;
    });
  }
  await step('list alice QUEUED', () =>
    jobs.listJobs({ owner: OWNERS[0] ?? '', limit: 10, status: 'QUEUED' }),
  );
  await step('list bob pool gpu', () => jobs.listJobs({ owner: OWNERS[1] ?? '', limit: 10, pool: 'gpu' }));
  await step('list bob tag team=data', () =>
    jobs.listJobs({ owner: OWNERS[1] ?? '', limit: 10, tag: { key: 'team', value: 'data' } }),
  );
  await step(LAST_PAGE_STEP, async () => {
    // Alice's last two jobs match: the page fills on the owner index's last item.
    const query = { owner: OWNERS[0] ?? '', limit: 2, tag: { key: 'cost-centre' } };
    const page = await jobs.listJobs(query);
    const following = page.nextToken
      ? await jobs.listJobs({ ...query, nextToken: page.nextToken })
      : undefined;
    return { page, following };
  });
  await step("list with another caller's token", async () => {
    const page = await jobs.listJobs({ owner: OWNERS[0] ?? '', limit: 1 });
    return jobs.listJobs({ owner: OWNERS[1] ?? '', limit: 1, nextToken: page.nextToken ?? '' });
  });

  // Idempotency keys, with owners and keys that hold the separator.
  await step('claim alice k', () => jobs.claimIdempotencyKey(OWNERS[0] ?? '', 'k#1', jobIds[0] ?? '', 'h0'));
  await step('claim alice k again', () =>
    jobs.claimIdempotencyKey(OWNERS[0] ?? '', 'k#1', jobIds[5] ?? '', 'h5'),
  );
  await step('claim bob k', () => jobs.claimIdempotencyKey(OWNERS[1] ?? '', 'k#1', jobIds[6] ?? '', 'h6'));
  await step('claim a#b / c vs a / b#c', async () => [
    await jobs.claimIdempotencyKey('a#b', 'c', jobIds[7] ?? '', 'h7'),
    await jobs.claimIdempotencyKey('a', 'b#c', jobIds[8] ?? '', 'h8'),
  ]);

  // The pool: leases, refused and repeated ones, racing ones.
  const reservation = (cpuCores: number, memoryMiB = 1024) => ({ cpuCores, memoryMiB });
  const lease = (jobId: string, held: Reservation) => ({
    jobId,
    reservation: held,
    owner: OWNER_A,
    priority: 5,
  });
  await step('pool before use', () => pools.getPool('default'));
  await step('acquire 0', () =>
    pools.acquire('default', LIMITS, lease(jobIds[0] ?? '', reservation(10)), at(50_000)),
  );
  await step('acquire 0 again', () =>
    pools.acquire('default', LIMITS, lease(jobIds[0] ?? '', reservation(10)), at(50_001)),
  );
  await step('acquire 3 too big', () =>
    pools.acquire('default', LIMITS, lease(jobIds[3] ?? '', reservation(41)), at(50_002)),
  );
  await step('acquire 3 exactly the rest', () =>
    pools.acquire('default', LIMITS, lease(jobIds[3] ?? '', reservation(40)), at(50_003)),
  );
  await step('acquire 4 when full', () =>
    pools.acquire('default', LIMITS, lease(jobIds[4] ?? '', reservation(0.5)), at(50_004)),
  );
  await step('release 3 with other amounts', () =>
    pools.release('default', jobIds[3] ?? '', { reservation: reservation(39), owner: OWNER_A }),
  );
  await step('release 3', () => pools.release('default', jobIds[3] ?? ''));
  await step('release 3 again', () => pools.release('default', jobIds[3] ?? ''));
  await step('acquireAll 4,5,6 over the job limit', () =>
    pools.acquireAll(
      'default',
      { ...LIMITS, maxConcurrentJobs: 3 },
      [4, 5, 6].map((i) => lease(jobIds[i] ?? '', reservation(1, 512))),
      at(50_010),
    ),
  );
  await step('acquireAll 4,5 with one held (0)', () =>
    pools.acquireAll(
      'default',
      LIMITS,
      [4, 0].map((i) => lease(jobIds[i] ?? '', reservation(1))),
      at(50_011),
    ),
  );
  await step('acquireAll 4,5', () =>
    pools.acquireAll(
      'default',
      LIMITS,
      [4, 5].map((i) => lease(jobIds[i] ?? '', reservation(1.5, 2048))),
      at(50_012),
    ),
  );
  await step('pool after leases', () => pools.getPool('default'));

  // 40 racing acquires on a budget of 5 jobs; then 3 racing releases of one lease.
  const racers = Array.from(
    { length: 40 },
    (_, i) => `job-race${String(i).padStart(4, '0')}-0000-4000-8000-000000000000`,
  );
  await step('racing acquires', async () => {
    const results = await all(
      racers.map((jobId) => () => pools.acquire('race', LIMITS, lease(jobId, reservation(1)), at(60_000))),
    );
    return {
      acquired: results.filter((r) => r === 'acquired').length,
      refused: results.filter((r) => r === 'no-capacity').length,
    };
  });
  await step('race pool', async () => {
    const usage = await pools.getPool('race');
    return { ...usage, leases: Object.keys(usage.leases).length };
  });
  await step('racing releases', async () => {
    const usage = await pools.getPool('race');
    const held = Object.keys(usage.leases)[0] ?? '';
    const results = await all([1, 2, 3].map(() => () => pools.release('race', held)));
    return results.filter(Boolean).length;
  });
  await step('race pool after releases', async () => {
    const usage = await pools.getPool('race');
    return { ...usage, leases: Object.keys(usage.leases).length };
  });

  // The waiting counter: slots up to the limit, frees past zero, recounts.
  for (let i = 0; i < 4; i++)
    await step(`reserve slot ${i}`, () =>
      pools.reserveQueueSlot('slots', 3, i % 2 === 0 ? 5 : 7, { owner: OWNER_A, step: 10_000 }),
    );
  await step('free 2', () => pools.freeQueueSlot('slots', [5, 7]));
  await step('free 5 (more than counted)', () => pools.freeQueueSlot('slots', [5, 5, 7, 7, 7]));
  await step('slots pool', () => pools.getPool('slots'));
  await step('recount up to 2', () => pools.setWaiting('slots', 2));
  await step('recount down to 1 (not quiet)', () => pools.setWaiting('slots', 1));
  await step('recount down to 1 (quiet)', () => pools.setWaiting('slots', 1));
  await step('slots pool after recounts', () => pools.getPool('slots'));

  // Fair share: tags taken with the queue slot, the owner cap and virtual time on leases, the
  // owner's count given back on release, parking, and forgetting spent entries.
  const [alice, bob] = OWNERS as [string, string];
  const slotFor = (owner: string, priority = 5) =>
    pools.reserveQueueSlot('fair', 10, priority, { owner, step: owner === alice ? 10_000 : 5_000 });
  for (let i = 1; i <= 3; i++) await step(`fair: alice slot ${i}`, () => slotFor(alice));
  await step('fair: bob slot 1', () => slotFor(bob));
  await step('fair: alice slot at priority 7', () => slotFor(alice, 7));
  const fairLease = (jobId: string, owner: string, fairTag: number) => ({
    jobId,
    reservation: reservation(1),
    owner,
    priority: 5,
    fairTag,
  });
  const capped = { maxRunningPerOwner: 2 };
  await step('fair: alice 1 and 2 together, capped at 2', () =>
    pools.acquireAll(
      'fair',
      LIMITS,
      [fairLease('fa1', alice, 10_000), fairLease('fa2', alice, 20_000)],
      at(70_000),
      { ...capped, advanceVirtualTime: { 5: 20_000 } },
    ),
  );
  await step('fair: alice 3 over the cap', () =>
    pools.acquire('fair', LIMITS, fairLease('fa3', alice, 30_000), at(70_001), capped),
  );
  await step('fair: bob 1 under the cap', () =>
    pools.acquire('fair', LIMITS, fairLease('fb1', bob, 5_000), at(70_002), capped),
  );
  await step('fair: bob slot 2, after the virtual time moved past his last tag', () => slotFor(bob));
  await step('fair: release alice 1', () =>
    pools.release('fair', 'fa1', { reservation: reservation(1), owner: alice }),
  );
  await step('fair: release alice 1 again', () =>
    pools.release('fair', 'fa1', { reservation: reservation(1), owner: alice }),
  );
  await step('fair: alice 3 now under the cap', () =>
    pools.acquire('fair', LIMITS, fairLease('fa3', alice, 30_000), at(70_003), capped),
  );
  await step('fair: release bob 1 without its amounts', () => pools.release('fair', 'fb1'));
  await step('fair: bob 2, moving the virtual time up to its tag', () =>
    pools.acquire('fair', LIMITS, fairLease('fb2', bob, 25_000), at(70_004), {
      ...capped,
      advanceVirtualTime: { 5: 5_000 },
    }),
  );
  await step('fair: release bob 2', () =>
    pools.release('fair', 'fb2', { reservation: reservation(1), owner: bob }),
  );
  await step('fair: mark alice parked twice', async () => {
    await pools.markParked('fair', ownerKey(alice));
    await pools.markParked('fair', ownerKey(alice));
    return (await pools.getPool('fair')).fair.parked;
  });
  await step('fair: clear alice parked at a stale mark, then at the mark', async () => {
    await pools.clearParked('fair', ownerKey(alice), 1);
    const kept = (await pools.getPool('fair')).fair.parked;
    await pools.clearParked('fair', ownerKey(alice), 2);
    return { kept, after: (await pools.getPool('fair')).fair.parked };
  });
  await step('fair: prune spent entries', async () => {
    await pools.pruneFairShare('fair', (await pools.getPool('fair')).fair);
    return (await pools.getPool('fair')).fair;
  });
  await step('fair: park job 8', () => jobs.park({ jobId: jobIds[8] ?? '', owner: alice }, 'default'));
  await step('fair: park job 8 again', () => jobs.park({ jobId: jobIds[8] ?? '', owner: alice }, 'default'));
  await step('fair: parked and waiting after parking 8', async () => ({
    parked: (await jobs.listParked('default', ownerKey(alice), 10)).jobs.map((w) => w.jobId),
    waiting: (await jobs.listWaiting('default', 10)).jobs.map((w) => w.jobId),
  }));
  return transcript;
}

function storesOn(client: DynamoDBClient, tableName: string): Stores {
  const doc = documentClient(client);
  return {
    jobs: new DynamoJobStore({ client: doc, tableName, retentionDays: 30 }),
    pools: new DynamoPoolStore({ client: doc, tableName }),
  };
}

describe('DynamoJobStore and DynamoPoolStore: dynalite and moto answer alike', () => {
  let dynalite: TestDatabase;
  let moto: DynamoDBClient;
  let onDynalite: [string, unknown][];
  let onMoto: [string, unknown][];

  beforeAll(async () => {
    dynalite = await startTestDatabase();
    moto = new DynamoDBClient(motoClientConfig());
    const motoTable = await createMotoTable();
    [onDynalite, onMoto] = await Promise.all([
      runScript(storesOn(dynalite.client, dynalite.tableName), { racing: true }),
      runScript(storesOn(moto, motoTable), { racing: false }),
    ]);
  });

  afterAll(async () => {
    moto.destroy();
    await dynalite.stop();
  });

  it('give the same answer at every step', () => {
    expect(onMoto.map(([name]) => name)).toEqual(onDynalite.map(([name]) => name));
    expect(new Set(onDynalite.map(([name]) => name)).size).toBe(onDynalite.length);
    const differing = onDynalite
      .map(([name, answer], index) => ({ step: name, dynalite: answer, moto: onMoto[index]?.[1] }))
      .filter(({ dynalite, moto }) => !isDeepStrictEqual(dynalite, moto));
    expect(differing.map(({ step }) => step)).toEqual([]);
  });

  it('end a listing whose page fills on the index last item without a token on both, where their Queries differ', () => {
    type Answer = { ok: { page: JobPage; following?: JobPage } };
    const dynaliteAnswer = new Map(onDynalite).get(LAST_PAGE_STEP) as Answer;
    const motoAnswer = new Map(onMoto).get(LAST_PAGE_STEP) as Answer;

    // DynamoDB (and dynalite) stop at Limit without looking ahead, so a Query whose Limit-th item
    // is the index's last still has a LastEvaluatedKey; moto looks ahead and has none. The
    // listing reads one item past its page, so on both the last page carries no token.
    expect(dynaliteAnswer.ok).toEqual({ page: { jobs: motoAnswer.ok.page.jobs } });
    expect(motoAnswer.ok).toEqual({ page: { jobs: motoAnswer.ok.page.jobs } });
    expect(motoAnswer.ok.page.jobs.map((job) => job.jobId)).toEqual([jobIds[6], jobIds[0]]);
  });

  it('give the answers the stores promise (so that agreeing is not agreeing on a failure)', () => {
    const answers = new Map(onDynalite);
    expect(answers.get('create 0')).toEqual({ ok: 'created' });
    expect(answers.get('create 0 again')).toEqual({ ok: 'exists' });
    expect(answers.get('transition 1 QUEUED → SCHEDULED')).toMatchObject({ ok: { status: 'SCHEDULED' } });
    expect(answers.get('transition 1 RUNNING → FAILED')).toMatchObject({
      ok: { status: 'FAILED', reason: { code: 'SPARK_JOB_FAILED' } },
    });
    expect(answers.get('transition 1 RUNNING|RETRYING → SUCCEEDED')).toEqual({ conflict: 'FAILED' });
    expect(answers.get('transition missing')).toEqual({ conflict: 'missing' });
    expect(answers.get('get 3 (eks, tags with constructor)')).toMatchObject({
      ok: { tags: { constructor: 'x', 'cost-centre': 'ünï' } },
    });
    expect((answers.get('history 1') as { ok: { status: string }[] }).ok.map((e) => e.status)).toEqual([
      'SCHEDULED',
      'RUNNING',
      'RETRYING',
      'RUNNING',
      'FAILED',
    ]);
    expect(answers.get('waiting default after moves')).toEqual({
      ok: [jobIds[5], jobIds[0], jobIds[3], jobIds[4], jobIds[7], jobIds[8], jobIds[6]],
    });
    expect(answers.get('record run 4 SCHEDULED @31000')).toEqual({ ok: true });
    // Fair share: each owner's tags go on from its last, a newcomer's from the virtual time.
    expect(answers.get('fair: alice slot 3')).toEqual({ ok: { queueSeq: 3, fairTag: 30_000 } });
    expect(answers.get('fair: bob slot 1')).toEqual({ ok: { queueSeq: 4, fairTag: 5_000 } });
    expect(answers.get('fair: alice slot at priority 7')).toEqual({ ok: { queueSeq: 1, fairTag: 10_000 } });
    expect(answers.get('fair: alice 1 and 2 together, capped at 2')).toEqual({ ok: { leased: true } });
    expect(answers.get('fair: alice 3 over the cap')).toEqual({ ok: 'owner-capped' });
    expect(answers.get('fair: bob 1 under the cap')).toEqual({ ok: 'acquired' });
    expect(answers.get('fair: bob slot 2, after the virtual time moved past his last tag')).toEqual({
      ok: { queueSeq: 5, fairTag: 25_000 },
    });
    expect(answers.get('fair: release alice 1')).toEqual({ ok: true });
    expect(answers.get('fair: release alice 1 again')).toEqual({ ok: false });
    expect(answers.get('fair: alice 3 now under the cap')).toEqual({ ok: 'acquired' });
    expect(answers.get('fair: clear alice parked at a stale mark, then at the mark')).toEqual({
      ok: { kept: { [ownerKey(OWNERS[0] as string)]: 2 }, after: {} },
    });
    const pruned = (answers.get('fair: prune spent entries') as { ok: FairState }).ok;
    expect(pruned.virtualTime).toMatchObject({ 5: 25_000, 7: 0 });
    // bob's last tag (25,000) is at the virtual time and goes; alice's 30,000, and hers at
    // priority 7 (ahead of that priority's virtual time, 0), stay.
    expect(pruned.lastTag).toEqual({
      [`5#${ownerKey(OWNERS[0] as string)}`]: 30_000,
      [`7#${ownerKey(OWNERS[0] as string)}`]: 10_000,
    });
    // bob has nothing admitted any more: forgotten.
    expect(pruned.running).toEqual({ [ownerKey(OWNERS[0] as string)]: 2 });
    expect(answers.get('fair: park job 8')).toEqual({ ok: true });
    expect(answers.get('fair: park job 8 again')).toEqual({ ok: false });
    expect(answers.get('fair: parked and waiting after parking 8')).toMatchObject({
      ok: { parked: [jobIds[8]] },
    });
    expect(answers.get('get 4 after runs')).toMatchObject({ ok: { backendState: 'SUCCESS' } });
    expect(answers.get('record run missing')).toEqual({ ok: false });
    expect(answers.get('claim alice k again')).toEqual({
      ok: { claimed: false, jobId: jobIds[0], requestHash: 'h0' },
    });
    expect(answers.get('claim a#b / c vs a / b#c')).toEqual({ ok: [{ claimed: true }, { claimed: true }] });
    expect(answers.get("list with another caller's token")).toMatchObject({ error: 'ValidationError' });
    expect(answers.get('acquire 0 again')).toEqual({ ok: 'held' });
    expect(answers.get('acquire 3 too big')).toEqual({ ok: 'no-capacity' });
    expect(answers.get('acquire 3 exactly the rest')).toEqual({ ok: 'acquired' });
    expect(answers.get('release 3 with other amounts')).toEqual({ ok: false });
    expect(answers.get('release 3')).toEqual({ ok: true });
    expect(answers.get('release 3 again')).toEqual({ ok: false });
    // Refused, each carries the pool as its condition found it (the transcripts hold it whole).
    expect(answers.get('acquireAll 4,5,6 over the job limit')).toMatchObject({
      ok: { leased: false, found: { pool: 'default' } },
    });
    expect(answers.get('acquireAll 4,5 with one held (0)')).toMatchObject({
      ok: { leased: false, found: { leases: { [jobIds[0] ?? '']: expect.anything() } } },
    });
    expect(answers.get('racing acquires')).toEqual({ ok: { acquired: 5, refused: 35 } });
    expect(answers.get('racing releases')).toEqual({ ok: 1 });
    // Slots 0–2 take their priority's next sequence numbers; the fourth finds the queue full.
    // The third slot: the second of priority 5, and the owner's second tag there.
    expect(answers.get('reserve slot 2')).toEqual({ ok: { queueSeq: 2, fairTag: 20_000 } });
    expect(answers.get('reserve slot 3')).toEqual({ ok: undefined });
    expect(answers.get('slots pool after recounts')).toMatchObject({ ok: { waiting: 1 } });
  });
});
