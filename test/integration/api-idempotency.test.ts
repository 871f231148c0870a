import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { requestHash } from '#core/use-cases/submit-job.ts';
import {
  type Api,
  composedApi,
  getEvent,
  iamCaller,
  scanTable,
  sqlJob,
  submitEvent,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

let db: TestDatabase;
let api: Api;

beforeAll(async () => {
  db = await startTestDatabase();
  api = composedApi(db);
});
afterAll(async () => {
  await db?.stop();
});

async function jobItemsOf(owner: string) {
  return (await scanTable(db)).filter((item) => item.sk === 'META' && item.owner === owner);
}

describe('Idempotency-Key', () => {
  it('gives the same job for the same key and body from the same caller, however the body is spaced or ordered', async () => {
    const caller = iamCaller('idem-same');
    const body = sqlJob({
      name: 'once',
      priority: 8,
      tags: { a: '1', b: '2' },
      sparkConf: { 'spark.executor.instances': '2' },
    });
    const first = await api.submit(submitEvent(caller, body, { idempotencyKey: 'key-1' }));
    const reordered = JSON.stringify(
      {
        sparkConf: { 'spark.executor.instances': '2' },
        tags: { b: '2', a: '1' },
        priority: 8,
        name: 'once',
        kind: 'sql',
        code: 'SELECT 1',
      },
      null,
      4,
    );

    const again = await api.submit(
      submitEvent(caller, undefined, { idempotencyKey: 'key-1', rawBody: reordered }),
    );
    const thrice = await api.submit(submitEvent(caller, body, { idempotencyKey: 'key-1' }));

    expect(first.status).toBe(202);
    for (const replay of [again, thrice]) {
      expect(replay.status).toBe(202);
      expect(replay.body).toEqual(first.body);
      expect(replay.headers.location).toBe(first.headers.location);
    }
    const jobs = await jobItemsOf(caller);
    expect(jobs.map((j) => j.jobId)).toEqual([first.body.jobId]);
    const history = (await scanTable(db)).filter(
      (item) => item.pk === `JOB#${first.body.jobId}` && item.sk !== 'META',
    );
    // The submit is recorded by the job record alone; replays add no history items.
    expect(history).toHaveLength(0);
  });

  it('answers 409 for the same key with another body, and writes nothing more', async () => {
    const caller = iamCaller('idem-other');
    const first = await api.submit(submitEvent(caller, sqlJob({ name: 'a' }), { idempotencyKey: 'key-2' }));
    const itemsBefore = (await scanTable(db)).length;

    const other = await api.submit(submitEvent(caller, sqlJob({ name: 'b' }), { idempotencyKey: 'key-2' }));

    expect(other.status).toBe(409);
    expect(other.headers['content-type']).toBe('application/problem+json');
    expect(other.body.errors).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
    expect((await scanTable(db)).length).toBe(itemsBefore);
    expect((await jobItemsOf(caller)).map((j) => j.jobId)).toEqual([first.body.jobId]);
  });

  it('keeps keys per caller: the same key from another caller makes another job, owned by that caller', async () => {
    const alice = iamCaller('idem-alice');
    const bob = iamCaller('idem-bob');
    const body = sqlJob({ name: 'shared-key' });

    const fromAlice = await api.submit(submitEvent(alice, body, { idempotencyKey: 'key-3' }));
    const fromBob = await api.submit(submitEvent(bob, body, { idempotencyKey: 'key-3' }));

    expect(fromAlice.status).toBe(202);
    expect(fromBob.status).toBe(202);
    expect(fromBob.body.jobId).not.toBe(fromAlice.body.jobId);
    expect((await api.get(getEvent(bob, fromBob.body.jobId))).status).toBe(200);
    expect((await api.get(getEvent(bob, fromAlice.body.jobId))).status).toBe(404);
  });

  it('never hands one caller the job of another whose name and key join to the same text', async () => {
    // JWT subjects may hold any character, and keys may hold '#'.
    const first = { jwtSub: 'team' };
    const second = { jwtSub: 'team#x' };
    const body = sqlJob({ name: 'collide' });

    const a = await api.submit(submitEvent(first, body, { idempotencyKey: 'x#y' }));
    const b = await api.submit(submitEvent(second, body, { idempotencyKey: 'y' }));

    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.body.jobId).not.toBe(a.body.jobId);
    expect((await api.get(getEvent(second, b.body.jobId))).status).toBe(200);
  });

  it('gives one job to concurrent submits with one key', async () => {
    const caller = iamCaller('idem-race');
    const body = sqlJob({ name: 'race' });

    const replies = await Promise.all(
      Array.from({ length: 6 }, () => api.submit(submitEvent(caller, body, { idempotencyKey: 'key-race' }))),
    );

    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(202));
    expect(new Set(replies.map((r) => r.body.jobId)).size).toBe(1);
    expect(await jobItemsOf(caller)).toHaveLength(1);
  });

  it('finishes the job of an earlier call that claimed the key and stopped before writing it', async () => {
    const caller = iamCaller('idem-crashed');
    const body = sqlJob({ name: 'half-done' });
    const store = new DynamoJobStore({
      client: db.documentClient,
      tableName: db.tableName,
      retentionDays: 90,
    });
    const claimedId = 'job-0f0e0d0c-0b0a-4908-8706-050403020100';
    expect(await store.claimIdempotencyKey(caller, 'key-crash', claimedId, requestHash(body))).toEqual({
      claimed: true,
    });

    const retry = await api.submit(submitEvent(caller, body, { idempotencyKey: 'key-crash' }));
    const other = await api.submit(
      submitEvent(caller, sqlJob({ name: 'else' }), { idempotencyKey: 'key-crash' }),
    );

    expect(retry.status).toBe(202);
    expect(retry.body.jobId).toBe(claimedId);
    expect((await api.get(getEvent(caller, claimedId))).body).toMatchObject({
      status: 'QUEUED',
      name: 'half-done',
    });
    expect(other.status).toBe(409);
    expect((await jobItemsOf(caller)).map((j) => j.jobId)).toEqual([claimedId]);
  });

  it('refuses a key that is not 1-255 visible ASCII characters, writing nothing', async () => {
    const caller = iamCaller('idem-bad');
    const before = (await scanTable(db)).length;
    for (const key of ['', 'a b', 'é', 'k'.repeat(256)]) {
      const reply = await api.submit(submitEvent(caller, sqlJob(), { idempotencyKey: key }));
      expect(reply.status, JSON.stringify(key)).toBe(400);
      expect(reply.body.errors).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
    }
    expect((await scanTable(db)).length).toBe(before);
  });
});
