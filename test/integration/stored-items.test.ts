import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { DynamoPoolStore } from '#adapters/dynamo-pool-store.ts';
import { StoredItemInvalid } from '#adapters/stored-items.ts';
import { TransitionConflict } from '#core/errors.ts';
import { ownerKey } from '#core/fair-share.ts';
import { newJobId } from '#core/job-record.ts';
import type { JobStatus } from '#core/job-states.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { jobRecord } from '../support/job-record.ts';

/**
 * Items read back from the job table are parsed into the core's types: on dynalite, an item
 * written by hand that is not what its key says fails the read with StoredItemInvalid, naming the
 * item and the field, and a valid one reads back as exactly the record that was written.
 */

let db: TestDatabase;
let jobs: DynamoJobStore;
let pools: DynamoPoolStore;

beforeAll(async () => {
  db = await startTestDatabase('stored-items');
  jobs = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 1 });
  pools = new DynamoPoolStore({ client: db.documentClient, tableName: db.tableName });
});

afterAll(async () => {
  await db?.stop();
});

const record = jobRecord;

/** Overwrites attributes of a stored item behind the store's back. */
async function corrupt(key: { pk: string; sk: string }, attributes: Record<string, unknown>): Promise<void> {
  const names = Object.keys(attributes);
  await db.documentClient.send(
    new UpdateCommand({
      TableName: db.tableName,
      Key: key,
      UpdateExpression: `SET ${names.map((_, i) => `#a${i} = :v${i}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#a${i}`, name])),
      ExpressionAttributeValues: Object.fromEntries(names.map((name, i) => [`:v${i}`, attributes[name]])),
    }),
  );
}

/** The error a read failed with, to look at its item and fields. */
async function failure(read: Promise<unknown>): Promise<StoredItemInvalid> {
  const error = await read.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(StoredItemInvalid);
  return error as StoredItemInvalid;
}

const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'META' });

describe('job items read back through the store', () => {
  it('a valid record reads back as written, without the table’s own attributes', async () => {
    const job = record({ name: 'nightly', links: { ui: 'https://example.com' } });
    await jobs.createJob(job);
    expect(await jobs.getJob(job.jobId)).toEqual(job);
  });

  it('a status that is no JobStatus fails the read, naming the item and the field', async () => {
    const job = record();
    await jobs.createJob(job);
    await corrupt(jobKey(job.jobId), { status: 'DONE' });
    const error = await failure(jobs.getJob(job.jobId));
    expect(error.item).toBe(`JOB#${job.jobId}/META`);
    expect(error.fields.map((f) => f.field)).toEqual(['status']);
    expect(error.message).toMatch(
      new RegExp(`^stored item JOB#${job.jobId}/META is not a valid job record: status: `),
    );
  });

  it('a nested field of the wrong type is named by its path', async () => {
    const job = record();
    await jobs.createJob(job);
    await corrupt(jobKey(job.jobId), { reservation: { cpuCores: '2', memoryMiB: 2816 } });
    const error = await failure(jobs.getJob(job.jobId));
    expect(error.fields.map((f) => f.field)).toEqual(['reservation.cpuCores']);
  });

  it('a missing required field is named, each one when several are', async () => {
    const job = record();
    await jobs.createJob(job);
    await db.documentClient.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: jobKey(job.jobId),
        UpdateExpression: 'REMOVE #owner, spec.retryPolicy',
        ExpressionAttributeNames: { '#owner': 'owner' },
      }),
    );
    const error = await failure(jobs.getJob(job.jobId));
    expect(error.fields.map((f) => f.field).sort()).toEqual(['owner', 'spec.retryPolicy']);
  });

  it('a move over a malformed item is made and recorded, then fails naming the field', async () => {
    const job = record();
    await jobs.createJob(job);
    await corrupt(jobKey(job.jobId), { reason: { code: 'NO_SUCH_CODE', message: 'x' } });
    const at = new Date().toISOString();
    const error = await failure(jobs.transition(job.jobId, ['QUEUED'], 'SCHEDULED', { at }));
    expect(error.fields.map((f) => f.field)).toEqual(['reason.code']);
    // The move happened: its history item is there, and the record stands at SCHEDULED.
    expect(await jobs.listEvents(job.jobId)).toMatchObject([{ status: 'SCHEDULED', from: 'QUEUED', at }]);
    const raw = await failure(jobs.getJob(job.jobId));
    expect(raw.fields.map((f) => f.field)).toEqual(['reason.code']);
  });

  it('a listing row of the owner index is parsed too', async () => {
    const owner = `owner-${newJobId()}`;
    const job = record({ owner });
    await jobs.createJob(job);
    expect((await jobs.listJobs({ owner, limit: 10 })).jobs).toEqual([
      {
        jobId: job.jobId,
        status: 'QUEUED',
        pool: 'default',
        backend: 'emr-serverless',
        priority: 5,
        tags: { team: 'data' },
        attempts: 0,
        submittedAt: job.submittedAt,
        queuedAt: job.queuedAt,
        updatedAt: job.updatedAt,
      },
    ]);
    await corrupt(jobKey(job.jobId), { priority: 'high' });
    const error = await failure(jobs.listJobs({ owner, limit: 10 }));
    expect(error.item).toBe(`JOB#${job.jobId}/META`);
    expect(error.fields.map((f) => f.field)).toEqual(['priority']);
  });

  it('a waiting-index row is parsed: a reservation that is not one fails admission’s read', async () => {
    const pool = `pool-${newJobId()}`;
    const job = record({ pool });
    await jobs.createJob(job);
    expect((await jobs.listWaiting(pool, 10)).jobs).toEqual([
      {
        jobId: job.jobId,
        owner: 'alice',
        priority: 5,
        submittedAt: job.submittedAt,
        reservation: job.reservation,
      },
    ]);
    await corrupt(jobKey(job.jobId), { reservation: { cpuCores: 2 } });
    const error = await failure(jobs.listWaiting(pool, 10));
    expect(error.fields.map((f) => f.field)).toEqual(['reservation.memoryMiB']);
  });
});

describe('history, pool and idempotency items', () => {
  it('a history item with a status that is no JobStatus fails the history read, naming the item', async () => {
    const job = record();
    await jobs.createJob(job);
    const sk = `EVT#${job.submittedAt}#bad`;
    await db.documentClient.send(
      new PutCommand({
        TableName: db.tableName,
        Item: {
          pk: `JOB#${job.jobId}`,
          sk,
          jobId: job.jobId,
          at: job.submittedAt,
          type: 'STATUS',
          status: 'PAUSED',
        },
      }),
    );
    const error = await failure(jobs.listEvents(job.jobId));
    expect(error.item).toBe(`JOB#${job.jobId}/${sk}`);
    expect(error.fields.map((f) => f.field)).toEqual(['status']);
  });

  it('attributes a move adds to its history item are kept as written', async () => {
    const job = record({ status: 'RUNNING', attempts: 1 });
    await jobs.createJob(job);
    const error = { name: 'States.TaskFailed', cause: 'boom' };
    await jobs.transition(job.jobId, ['RUNNING'], 'RETRYING', {
      at: new Date().toISOString(),
      set: { lastError: error },
      event: { attempt: 2, error },
    });
    expect(await jobs.listEvents(job.jobId)).toMatchObject([{ status: 'RETRYING', attempt: 2, error }]);
    expect((await jobs.getJob(job.jobId))?.lastError).toEqual(error);
  });

  it('a pool item whose lease is not a reservation fails the pool read, naming the lease', async () => {
    const pool = `pool-${newJobId()}`;
    const limits = { cpuCores: 100, memoryMiB: 100_000, maxConcurrentJobs: 10 };
    const job = {
      jobId: 'job-a',
      reservation: { cpuCores: 1, memoryMiB: 1024 },
      owner: 'alice',
      priority: 5,
    };
    expect(await pools.acquire(pool, limits, job, 'now')).toBe('acquired');
    expect((await pools.getPool(pool)).leases).toEqual({
      'job-a': { cpuCores: 1, memoryMiB: 1024, at: 'now', owner: ownerKey('alice') },
    });
    await corrupt({ pk: `POOL#${pool}`, sk: 'POOL' }, { leases: { 'job-a': { cpuCores: 1, at: 'now' } } });
    const error = await failure(pools.getPool(pool));
    expect(error.item).toBe(`POOL#${pool}/POOL`);
    expect(error.fields.map((f) => f.field)).toEqual(['leases.job-a.memoryMiB']);
    // Releasing without the amounts reads the lease, and so refuses too rather than guess them.
    await failure(pools.release(pool, 'job-a'));
  });

  it('a pool never written to reads as empty', async () => {
    expect(await pools.getPool(`pool-${newJobId()}`)).toMatchObject({
      cpuUsed: 0,
      memoryUsedMiB: 0,
      running: 0,
      waiting: 0,
      leases: {},
    });
  });

  it('an idempotency item without its request hash fails the claim, naming the field', async () => {
    const key = `key-${newJobId()}`;
    expect(await jobs.claimIdempotencyKey('alice', key, 'job-1', 'hash')).toEqual({ claimed: true });
    expect(await jobs.claimIdempotencyKey('alice', key, 'job-2', 'other')).toEqual({
      claimed: false,
      jobId: 'job-1',
      requestHash: 'hash',
    });
    await db.documentClient.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: { pk: `IDEM#alice#${key}`, sk: 'IDEM' },
        UpdateExpression: 'REMOVE requestHash',
      }),
    );
    const error = await failure(jobs.claimIdempotencyKey('alice', key, 'job-3', 'hash'));
    expect(error.item).toBe(`IDEM#alice#${key}/IDEM`);
    expect(error.fields.map((f) => f.field)).toEqual(['requestHash']);
  });
});

describe('conflict statuses are JobStatus', () => {
  it('a refused move names, as JobStatus values, where the job stood and where the move expected it', async () => {
    expectTypeOf<TransitionConflict['actualStatus']>().toEqualTypeOf<JobStatus | undefined>();
    expectTypeOf<TransitionConflict['expected']>().toEqualTypeOf<readonly JobStatus[]>();
    const job = record();
    await jobs.createJob(job);
    const at = new Date().toISOString();
    await jobs.transition(job.jobId, ['QUEUED'], 'SCHEDULED', { at });
    const error = await jobs.transition(job.jobId, ['QUEUED'], 'CANCELLED', { at }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransitionConflict);
    const conflict = error as TransitionConflict;
    expect(conflict.actualStatus).toBe('SCHEDULED');
    expect(conflict.expected).toEqual(['QUEUED']);
    const missing = await jobs
      .transition(newJobId(), ['QUEUED'], 'CANCELLED', { at })
      .catch((e: unknown) => e);
    expect((missing as TransitionConflict).actualStatus).toBeUndefined();
  });
});
