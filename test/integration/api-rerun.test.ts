import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { MAX_LINKED_RERUNS } from '#core/job-record.ts';
import type { TerminalStatus } from '#core/job-states.ts';
import { requestOf } from '#core/kept-request.ts';
import {
  type Api,
  type Caller,
  cancelEvent,
  composedApi,
  getEvent,
  iamCaller,
  itemCount,
  rerunEvent,
  sqlJob,
  submitEvent,
  testConfig,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { SQL_SPEC } from '../support/job-record.ts';

/**
 * POST /api/v1/spark/jobs/{jobId}/rerun through the deployed composition (composeRerun) over the
 * local DynamoDB: a finished job's request submitted again, changed as the body says, validated
 * and made idempotent as a submit, and the two jobs linked both ways.
 */

const ADMIN = iamCaller('rerun-admin');
let db: TestDatabase;
let api: Api;
let store: DynamoJobStore;

beforeAll(async () => {
  db = await startTestDatabase();
  const config = testConfig({
    admins: [ADMIN],
    pools: { big: { maxQueueSize: 500 }, default: { maxQueueSize: 500 } },
  });
  api = composedApi(db, config);
  store = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 1 });
});
afterAll(async () => {
  await db?.stop();
});

/** A job submitted by `caller` and moved to `end` the way the lifecycle allows. */
async function finishedJob(
  caller: Caller,
  body: Record<string, unknown> = sqlJob(),
  end: TerminalStatus = 'CANCELLED',
): Promise<string> {
  const submitted = await api.submit(submitEvent(caller, body));
  expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
  const jobId: string = submitted.body.jobId;
  const at = new Date().toISOString();
  if (end === 'CANCELLED') {
    expect((await api.cancel(cancelEvent(caller, jobId))).body.status).toBe('CANCELLED');
  } else if (end === 'TIMEOUT') {
    await store.transition(jobId, ['QUEUED'], 'TIMEOUT', {
      at,
      reason: { code: 'QUEUE_WAIT_EXCEEDED', message: 'waited too long' },
    });
  } else {
    await store.transition(jobId, ['QUEUED'], 'SCHEDULED', { at });
    await store.transition(jobId, ['SCHEDULED'], 'RUNNING', { at });
    await store.transition(jobId, ['RUNNING'], end, {
      at,
      ...(end === 'FAILED' && { reason: { code: 'SPARK_JOB_FAILED', message: 'it failed' } }),
    });
  }
  return jobId;
}

describe('re-run', () => {
  it('makes a new job with the original request, in any final state, linked both ways', async () => {
    const caller = iamCaller('rerun-any-final');
    const python = "import sys\nprint('hello', sys.argv)\n";
    for (const end of ['SUCCEEDED', 'FAILED', 'TIMEOUT', 'CANCELLED'] as const) {
      const body = {
        code: python,
        kind: 'python',
        name: `daily-${end}`,
        priority: 3,
        tags: { team: 'data' },
        sparkConf: { 'spark.executor.instances': '2' },
        timeoutMinutes: 45,
        retryPolicy: { maxRetries: 1 },
        notifications: { webhook: 'https://hooks.example.com/libra', events: ['FAILED'] },
      };
      const originalId = await finishedJob(caller, body, end);
      const rerun = await api.rerun(rerunEvent(caller, originalId));
      expect(rerun.status, JSON.stringify(rerun.body)).toBe(202);
      expect(rerun.body).toEqual({
        jobId: expect.stringMatching(/^job-/),
        status: 'QUEUED',
        submittedAt: expect.any(String),
        rerunOf: originalId,
      });
      expect(rerun.headers.location).toBe(`/api/v1/spark/jobs/${rerun.body.jobId}`);

      const [original, copy] = [await store.getJob(originalId), await store.getJob(rerun.body.jobId)];
      // What runs is what ran: the spec (code, sized conf, retries, timeout, webhook), and how it is queued.
      expect(copy?.spec).toEqual(original?.spec);
      expect(copy?.spec.code).toBe(python);
      for (const field of [
        'owner',
        'pool',
        'backend',
        'priority',
        'name',
        'tags',
        'resources',
        'request',
      ] as const) {
        expect(copy?.[field], field).toEqual(original?.[field]);
      }
      expect(copy?.jobId).not.toBe(originalId);

      const newStatus = await api.get(getEvent(caller, rerun.body.jobId));
      expect(newStatus.body.rerunOf).toBe(originalId);
      const oldStatus = await api.get(getEvent(caller, originalId));
      expect(oldStatus.body).toMatchObject({ status: end, reruns: [rerun.body.jobId], rerunCount: 1 });
    }
  });

  it('changes priority, sparkConf, timeoutMinutes, retryPolicy, name and tags, each whole', async () => {
    const caller = iamCaller('rerun-overrides');
    const originalId = await finishedJob(
      caller,
      sqlJob({
        name: 'before',
        tags: { a: '1', b: '2' },
        sparkConf: { 'spark.sql.shuffle.partitions': '8' },
      }),
    );
    const overrides = {
      priority: 9,
      sparkConf: { 'spark.executor.instances': '3' },
      timeoutMinutes: 5,
      retryPolicy: { maxRetries: 0 },
      name: 'after',
      tags: { c: '3' },
    };
    const rerun = await api.rerun(rerunEvent(caller, originalId, overrides));
    expect(rerun.status, JSON.stringify(rerun.body)).toBe(202);
    const copy = await store.getJob(rerun.body.jobId);
    expect(copy).toMatchObject({ priority: 9, name: 'after', tags: { c: '3' } });
    expect(copy?.spec).toMatchObject({
      code: 'SELECT 1',
      timeoutMinutes: 5,
      retryPolicy: { maxRetries: 0, backoffMultiplier: 2, initialDelaySeconds: 1, maxDelaySeconds: 60 },
      retryDelaysSeconds: [],
    });
    expect(copy?.spec.sparkConf['spark.executor.instances']).toBe('3');
    expect(copy?.spec.sparkConf['spark.sql.shuffle.partitions']).toBeUndefined();
    expect(copy?.resources.executors).toBe(3);
  });

  it("keeps tags that are names of an object's members through the kept request and a re-run", async () => {
    const caller = iamCaller('rerun-odd-keys');
    const tags = { constructor: 'c', toString: 't', valueOf: 'v', hasOwnProperty: 'h' };
    const originalId = await finishedJob(caller, sqlJob({ tags }));
    const rerun = await api.rerun(rerunEvent(caller, originalId, { priority: 6 }));
    expect(rerun.status, JSON.stringify(rerun.body)).toBe(202);
    expect((await api.get(getEvent(caller, rerun.body.jobId))).body.tags).toEqual(tags);
    const retagged = await api.rerun(rerunEvent(caller, originalId, { tags: { valueOf: 'w' } }));
    expect((await api.get(getEvent(caller, retagged.body.jobId))).body.tags).toEqual({ valueOf: 'w' });
  });

  it('refuses what a submit refuses, and unknown fields, as a 400 naming each field; nothing is stored', async () => {
    const caller = iamCaller('rerun-invalid');
    const originalId = await finishedJob(caller);
    const before = await itemCount(db);
    const cases: [unknown, { field: string; message: string | RegExp }[]][] = [
      [{ pool: 'big' }, [{ field: 'pool', message: 'unknown field' }]],
      [
        { code: 'SELECT 2', priority: 11 },
        [
          { field: 'code', message: 'unknown field' },
          { field: 'priority', message: expect.any(String) },
        ],
      ],
      [{ timeoutMinutes: 0 }, [{ field: 'timeoutMinutes', message: expect.any(String) }]],
      [
        { retryPolicy: { initialDelaySeconds: 90, maxDelaySeconds: 30 } },
        [{ field: 'retryPolicy.initialDelaySeconds', message: 'must not exceed maxDelaySeconds' }],
      ],
      [
        { sparkConf: { 'spark.kubernetes.driver.podTemplateFile': '/x' } },
        [{ field: 'sparkConf.spark.kubernetes.driver.podTemplateFile', message: expect.any(String) }],
      ],
      [[1, 2], [{ field: '', message: expect.any(String) }]],
    ];
    for (const [body, errors] of cases) {
      const answer = await api.rerun(rerunEvent(caller, originalId, body));
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.type).toBe('urn:libra:problem:validation-failed');
      expect(answer.body.errors, JSON.stringify(body)).toEqual(expect.arrayContaining(errors));
    }
    // The merged request is validated as a submit: what a submit of it would be told, a re-run is.
    const submitWouldSay = await api.submit(
      submitEvent(caller, sqlJob({ sparkConf: { 'spark.executor.memory': '100000g' } })),
    );
    const rerunSays = await api.rerun(
      rerunEvent(caller, originalId, { sparkConf: { 'spark.executor.memory': '100000g' } }),
    );
    expect(rerunSays.status).toBe(submitWouldSay.status);
    expect(rerunSays.body.errors).toEqual(submitWouldSay.body.errors);
    expect(await itemCount(db)).toBe(before);
  });

  it('honours Idempotency-Key: the same key and body give the same new job; another body is 409', async () => {
    const caller = iamCaller('rerun-idempotent');
    const originalId = await finishedJob(caller);
    const send = (body: unknown, key: string) =>
      api.rerun(rerunEvent(caller, originalId, body, { idempotencyKey: key }));
    const first = await send({ priority: 8 }, 'rerun-key-1');
    const again = await send({ priority: 8 }, 'rerun-key-1');
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body.jobId).toBe(first.body.jobId);
    expect((await api.get(getEvent(caller, originalId))).body).toMatchObject({
      reruns: [first.body.jobId],
      rerunCount: 1,
    });
    const other = await send({ priority: 7 }, 'rerun-key-1');
    expect(other.status).toBe(409);
    expect(other.body.errors).toEqual([
      { field: 'Idempotency-Key', message: `already used for job ${first.body.jobId}` },
    ]);
    // A plain submit of the very request the re-run made is not that re-run, under the same key.
    const original = await store.getJob(originalId);
    const request = { ...requestOf(original?.request ?? {}, original?.spec ?? SQL_SPEC), priority: 8 };
    const submitted = await api.submit(submitEvent(caller, request, { idempotencyKey: 'rerun-key-1' }));
    expect(submitted.status).toBe(409);
    // Re-running another job under the key is another request too.
    const secondId = await finishedJob(caller);
    const elsewhere = await api.rerun(
      rerunEvent(caller, secondId, { priority: 8 }, { idempotencyKey: 'rerun-key-1' }),
    );
    expect(elsewhere.status).toBe(409);
  });

  it('a replay links a new job whose first try stopped before the link', async () => {
    const caller = iamCaller('rerun-heal');
    const originalId = await finishedJob(caller);
    const first = await api.rerun(rerunEvent(caller, originalId, {}, { idempotencyKey: 'heal-1' }));
    // As if the first try had stopped between writing the new job and linking it.
    await db.documentClient.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: { pk: `JOB#${originalId}`, sk: 'META' },
        UpdateExpression: 'REMOVE reruns, rerunCount',
      }),
    );
    const replay = await api.rerun(rerunEvent(caller, originalId, {}, { idempotencyKey: 'heal-1' }));
    expect(replay.body.jobId).toBe(first.body.jobId);
    expect((await api.get(getEvent(caller, originalId))).body).toMatchObject({
      reruns: [first.body.jobId],
      rerunCount: 1,
    });
  });

  it('a job not final yet is 409 naming its status; nothing is stored', async () => {
    const caller = iamCaller('rerun-not-final');
    const queued = (await api.submit(submitEvent(caller, sqlJob()))).body.jobId as string;
    const running = (await api.submit(submitEvent(caller, sqlJob()))).body.jobId as string;
    const at = new Date().toISOString();
    await store.transition(running, ['QUEUED'], 'SCHEDULED', { at });
    await store.transition(running, ['SCHEDULED'], 'RUNNING', { at });
    const before = await itemCount(db);
    for (const [jobId, status] of [
      [queued, 'QUEUED'],
      [running, 'RUNNING'],
    ] as const) {
      const answer = await api.rerun(rerunEvent(caller, jobId, { priority: 2 }));
      expect(answer.status).toBe(409);
      expect(answer.body.detail).toBe(`job ${jobId} is ${status}: only a finished job can be re-run`);
      expect(answer.body.errors).toEqual([
        { field: 'status', message: `${status} is not final; wait for it to end, or cancel it` },
      ]);
    }
    expect(await itemCount(db)).toBe(before);
  });

  it("someone else's job is the 404 a status read gives; an admin may re-run it, as the admin's job", async () => {
    const owner = iamCaller('rerun-owner');
    const stranger = iamCaller('rerun-stranger');
    const originalId = await finishedJob(owner);
    const read = await api.get(getEvent(stranger, originalId));
    const rerun = await api.rerun(rerunEvent(stranger, originalId));
    expect(read.status).toBe(404);
    expect(rerun.status).toBe(404);
    expect(rerun.body.detail).toBe(read.body.detail);
    expect(rerun.body.type).toBe(read.body.type);
    const missing = await api.rerun(rerunEvent(owner, 'job-00000000-0000-4000-8000-000000000000'));
    expect(missing.status).toBe(404);

    const byAdmin = await api.rerun(rerunEvent(ADMIN, originalId));
    expect(byAdmin.status).toBe(202);
    expect((await store.getJob(byAdmin.body.jobId))?.owner).toBe(ADMIN);
    expect((await api.get(getEvent(owner, originalId))).body.reruns).toEqual([byAdmin.body.jobId]);
  });

  it(`keeps the newest ${MAX_LINKED_RERUNS} re-runs on the original and counts them all, concurrent ones too`, async () => {
    const caller = iamCaller('rerun-many');
    const originalId = await finishedJob(caller);
    const ids: string[] = [];
    for (let i = 0; i < MAX_LINKED_RERUNS + 3; i++) {
      const answer = await api.rerun(rerunEvent(caller, originalId));
      expect(answer.status).toBe(202);
      ids.push(answer.body.jobId);
    }
    let status = (await api.get(getEvent(caller, originalId))).body;
    expect(status.rerunCount).toBe(MAX_LINKED_RERUNS + 3);
    expect(status.reruns).toEqual(ids.slice(-MAX_LINKED_RERUNS));

    const concurrent = await Promise.all(
      Array.from({ length: 6 }, () => api.rerun(rerunEvent(caller, originalId))),
    );
    status = (await api.get(getEvent(caller, originalId))).body;
    expect(status.rerunCount).toBe(MAX_LINKED_RERUNS + 9);
    expect(status.reruns).toHaveLength(MAX_LINKED_RERUNS);
    expect(status.reruns.slice(-6).sort()).toEqual(concurrent.map((answer) => answer.body.jobId).sort());
    // A re-run of a re-run links to its own original only.
    const last = ids.at(-1) as string;
    await api.cancel(cancelEvent(caller, last));
    const grandchild = await api.rerun(rerunEvent(caller, last));
    expect((await api.get(getEvent(caller, grandchild.body.jobId))).body.rerunOf).toBe(last);
    expect((await api.get(getEvent(caller, last))).body).toMatchObject({
      rerunOf: originalId,
      reruns: [grandchild.body.jobId],
    });
  });

  it('a job stored before requests were kept is 409, saying to submit it again', async () => {
    const caller = iamCaller('rerun-old');
    const originalId = await finishedJob(caller);
    await db.documentClient.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: { pk: `JOB#${originalId}`, sk: 'META' },
        UpdateExpression: 'REMOVE #request',
        ExpressionAttributeNames: { '#request': 'request' },
      }),
    );
    const answer = await api.rerun(rerunEvent(caller, originalId));
    expect(answer.status).toBe(409);
    expect(answer.body.errors).toEqual([
      { field: 'jobId', message: 'its request was not kept: submit it again instead' },
    ]);
  });

  it('a body that is not JSON is refused as a submit refuses it', async () => {
    const caller = iamCaller('rerun-body');
    const originalId = await finishedJob(caller);
    const notJson = await api.rerun(rerunEvent(caller, originalId, undefined, { rawBody: '{"priority": ' }));
    expect(notJson.status).toBe(400);
    const text = await api.rerun(
      rerunEvent(caller, originalId, undefined, { rawBody: 'priority=1', contentType: 'text/plain' }),
    );
    expect(text.status).toBe(415);
    // The original being gone between the read and the link does not fail the re-run.
    const gone = await finishedJob(caller);
    const rerun = await api.rerun(rerunEvent(caller, gone));
    expect(rerun.status).toBe(202);
    await db.documentClient.send(
      new DeleteCommand({ TableName: db.tableName, Key: { pk: `JOB#${gone}`, sk: 'META' } }),
    );
    expect(await store.setReruns(gone, 1, [], 2)).toBe(false);
  });
});
