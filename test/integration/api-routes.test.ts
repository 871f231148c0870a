import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import {
  type Api,
  cancelEvent,
  composedApi,
  eventsEvent,
  fixture,
  getEvent,
  iamCaller,
  listEvent,
  serviceApi,
  sqlJob,
  steppingClock,
  submitEvent,
  testConfig,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

const JOB_ID = /^job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let db: TestDatabase;
let api: Api;
let store: DynamoJobStore;

beforeAll(async () => {
  db = await startTestDatabase();
  api = composedApi(db);
  store = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 90 });
});
afterAll(async () => {
  await db?.stop();
});

async function submitted(api: Api, caller: string, body: Record<string, unknown> = sqlJob()) {
  const reply = await api.submit(submitEvent(caller, body));
  expect(reply.status).toBe(202);
  return reply.body.jobId as string;
}

describe('POST /api/v1/spark/jobs/submit', () => {
  it('answers 202 with a job-<uuid v4> id, QUEUED, submittedAt and a Location header', async () => {
    const caller = iamCaller('submitter');

    const reply = await api.submit(submitEvent(caller, sqlJob({ name: 'daily' })));

    expect(reply.status).toBe(202);
    expect(reply.body).toEqual({
      jobId: expect.stringMatching(JOB_ID),
      status: 'QUEUED',
      submittedAt: expect.stringMatching(ISO),
    });
    expect(reply.headers.location).toBe(`/api/v1/spark/jobs/${reply.body.jobId}`);
    expect(reply.headers['content-type']).toBe('application/json');
  });

  it('takes the fixture as API Gateway sends it, with a JWT subject as the owner', async () => {
    const reply = await api.submit(fixture('submit-job-jwt'));

    expect(reply.status).toBe(202);
    const mine = await api.get(getEvent({ jwtSub: 'user-7d1f0c' }, reply.body.jobId));
    expect(mine.status).toBe(200);
    expect(mine.body.name).toBe('daily-report');
  });

  it('answers 401 when the authorizer names no caller', async () => {
    const event = submitEvent(iamCaller('nobody'), sqlJob());
    delete event.requestContext.authorizer;

    const reply = await api.submit(event);

    expect(reply.status).toBe(401);
    expect(reply.headers['content-type']).toBe('application/problem+json');
  });
  it("keeps tags that are also names of an object's members, and names such a Spark conf key when refusing it", async () => {
    const caller = iamCaller('odd-keys');
    const tags = { constructor: 'c', toString: 't', valueOf: 'v', hasOwnProperty: 'h' };

    // No Spark conf family has such a key: it is refused by name, not dropped.
    const refused = await api.submit(
      submitEvent(caller, sqlJob({ tags, sparkConf: { constructor: 'x', 'spark.executor.instances': '1' } })),
    );
    expect(refused.status).toBe(400);
    expect(refused.body.errors.map((e: { field: string }) => e.field)).toEqual(['sparkConf.constructor']);

    const reply = await api.submit(
      submitEvent(caller, sqlJob({ tags, sparkConf: { 'spark.executor.instances': '1' } })),
    );

    expect(reply.status).toBe(202);
    expect((await api.get(getEvent(caller, reply.body.jobId))).body.tags).toEqual(tags);
    const listed = await api.list(listEvent(caller, { tag: 'constructor=c' }));
    expect(listed.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([reply.body.jobId]);
  });
});

describe('GET /api/v1/spark/jobs/{jobId}', () => {
  it('shows status, timestamps, attempts, resources, backend, pool, priority, name, tags and queue position', async () => {
    const caller = iamCaller('reader');
    const jobId = await submitted(
      api,
      caller,
      sqlJob({
        name: 'nightly',
        priority: 7,
        tags: { team: 'bi', env: 'test' },
        sparkConf: { 'spark.executor.instances': '3' },
      }),
    );

    const reply = await api.get(getEvent(caller, jobId));

    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      jobId,
      status: 'QUEUED',
      name: 'nightly',
      pool: 'default',
      backend: 'emr-serverless',
      priority: 7,
      tags: { team: 'bi', env: 'test' },
      attempts: 0,
      submittedAt: expect.stringMatching(ISO),
      queuedAt: expect.stringMatching(ISO),
      queuePosition: expect.any(Number),
    });
    expect(reply.body.resources).toMatchObject({ executors: 3, dynamicAllocation: false });
    expect(reply.body.resources.totalCores).toBeGreaterThanOrEqual(4);
    for (const absent of [
      'scheduledAt',
      'startedAt',
      'completedAt',
      'cancelledAt',
      'reason',
      'owner',
      'spec',
      'requestHash',
    ]) {
      expect(reply.body).not.toHaveProperty(absent);
    }
  });

  it('numbers the queue by priority, then by submit order', async () => {
    const ordered = serviceApi(db, {
      clock: steppingClock(),
      config: testConfig({ pools: { queue: {} } }),
    });
    const caller = iamCaller('queuer');
    const pool = { pool: 'queue' };
    const low1 = await submitted(ordered, caller, sqlJob({ ...pool, priority: 2 }));
    const mid1 = await submitted(ordered, caller, sqlJob({ ...pool, priority: 5 }));
    const high = await submitted(ordered, caller, sqlJob({ ...pool, priority: 9 }));
    const mid2 = await submitted(ordered, caller, sqlJob({ ...pool, priority: 5 }));
    const low2 = await submitted(ordered, caller, sqlJob({ ...pool, priority: 2 }));

    const positions = [];
    for (const jobId of [high, mid1, mid2, low1, low2]) {
      positions.push((await ordered.get(getEvent(caller, jobId))).body.queuePosition);
    }
    expect(positions).toEqual([1, 2, 3, 4, 5]);

    await ordered.cancel(cancelEvent(caller, mid1));
    const after = await ordered.get(getEvent(caller, low2));
    expect(after.body.queuePosition).toBe(4);
    expect((await ordered.get(getEvent(caller, mid1))).body).not.toHaveProperty('queuePosition');
  });

  it('answers 404 for an unknown id and for something that is not a job id', async () => {
    const caller = iamCaller('reader');
    for (const jobId of ['job-00000000-0000-4000-8000-000000000000', 'not-a-job', 'JOB#x']) {
      const reply = await api.get(getEvent(caller, jobId));
      expect(reply.status).toBe(404);
      expect(reply.headers['content-type']).toBe('application/problem+json');
      expect(reply.body).toMatchObject({ status: 404, type: 'urn:libra:problem:not-found' });
    }
  });
});

describe('GET /api/v1/spark/jobs', () => {
  it("lists the caller's jobs newest first, with filters on status, pool and tag", async () => {
    const config = testConfig({ pools: { etl: {} } });
    const ordered = serviceApi(db, { clock: steppingClock(Date.parse('2025-02-01T00:00:00Z')), config });
    const caller = iamCaller('lister');
    const a = await submitted(ordered, caller, sqlJob({ tags: { team: 'bi' } }));
    const b = await submitted(ordered, caller, sqlJob({ pool: 'etl', tags: { team: 'ops' } }));
    const c = await submitted(ordered, caller, sqlJob({ pool: 'etl' }));
    await ordered.cancel(cancelEvent(caller, b));
    await submitted(ordered, iamCaller('someone-else'), sqlJob());

    const all = await ordered.list(listEvent(caller));
    expect(all.status).toBe(200);
    expect(all.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([c, b, a]);
    expect(all.body).not.toHaveProperty('nextToken');
    expect(all.body.jobs[1]).toMatchObject({ status: 'CANCELLED', pool: 'etl', tags: { team: 'ops' } });

    const ids = async (query: Record<string, string>) =>
      (await ordered.list(listEvent(caller, query))).body.jobs.map((j: { jobId: string }) => j.jobId);
    expect(await ids({ status: 'QUEUED' })).toEqual([c, a]);
    expect(await ids({ status: 'CANCELLED' })).toEqual([b]);
    expect(await ids({ pool: 'etl' })).toEqual([c, b]);
    expect(await ids({ pool: 'etl', status: 'QUEUED' })).toEqual([c]);
    expect(await ids({ tag: 'team' })).toEqual([b, a]);
    expect(await ids({ tag: 'team=bi' })).toEqual([a]);
    expect(await ids({ tag: 'team=nobody' })).toEqual([]);
  });

  it('refuses a limit outside 1..100 and an unknown status with 400 naming the parameter', async () => {
    const caller = iamCaller('lister');
    for (const limit of ['0', '101', '-1', '2.5', 'ten', '']) {
      const reply = await api.list(listEvent(caller, { limit }));
      expect(reply.status, `limit=${limit}`).toBe(400);
      expect(reply.body.errors).toEqual([expect.objectContaining({ field: 'limit' })]);
    }
    for (const limit of ['1', '100']) {
      expect((await api.list(listEvent(caller, { limit }))).status).toBe(200);
    }
    const status = await api.list(listEvent(caller, { status: 'DONE' }));
    expect(status.status).toBe(400);
    expect(status.body.errors).toEqual([expect.objectContaining({ field: 'status' })]);
  });
});

describe('GET /api/v1/spark/jobs/{jobId}/events', () => {
  it('shows the history oldest first: QUEUED, then CANCELLED after a cancel', async () => {
    const caller = iamCaller('historian');
    const jobId = await submitted(api, caller);

    const before = await api.events(eventsEvent(caller, jobId));
    expect(before.status).toBe(200);
    expect(before.body).toEqual({
      jobId,
      events: [{ jobId, type: 'STATUS', status: 'QUEUED', at: expect.stringMatching(ISO) }],
    });

    await api.cancel(cancelEvent(caller, jobId));
    const after = await api.events(eventsEvent(caller, jobId));

    expect(after.body.events.map((e: { status: string }) => e.status)).toEqual(['QUEUED', 'CANCELLED']);
    expect(after.body.events[1]).toMatchObject({
      from: 'QUEUED',
      reason: { code: 'CANCELLED_BY_USER' },
    });
    expect(after.body.events[1].at >= after.body.events[0].at).toBe(true);
  });

  it('answers 404 for an unknown job', async () => {
    const reply = await api.events(
      eventsEvent(iamCaller('historian'), 'job-00000000-0000-4000-8000-000000000000'),
    );
    expect(reply.status).toBe(404);
  });
});

describe('DELETE /api/v1/spark/jobs/{jobId}', () => {
  it('cancels a queued job: 200 with jobId, CANCELLED, cancelledAt and a message; the record shows it', async () => {
    const caller = iamCaller('canceller');
    const jobId = await submitted(api, caller);

    const reply = await api.cancel(cancelEvent(caller, jobId));

    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      jobId,
      status: 'CANCELLED',
      cancelledAt: expect.stringMatching(ISO),
      message: expect.any(String),
    });
    const view = (await api.get(getEvent(caller, jobId))).body;
    expect(view).toMatchObject({
      status: 'CANCELLED',
      cancelledAt: reply.body.cancelledAt,
      reason: { code: 'CANCELLED_BY_USER' },
    });
    expect(view).not.toHaveProperty('queuePosition');
  });

  it('answers 409 naming the status for a job that already ended', async () => {
    const caller = iamCaller('canceller');
    const cancelled = await submitted(api, caller);
    await api.cancel(cancelEvent(caller, cancelled));
    const timedOut = await submitted(api, caller);
    await store.transition(timedOut, ['QUEUED'], 'TIMEOUT', {
      at: new Date().toISOString(),
      reason: { code: 'QUEUE_WAIT_EXCEEDED', message: 'waited too long' },
    });

    for (const [jobId, status] of [
      [cancelled, 'CANCELLED'],
      [timedOut, 'TIMEOUT'],
    ] as const) {
      const reply = await api.cancel(cancelEvent(caller, jobId));
      expect(reply.status).toBe(409);
      expect(reply.headers['content-type']).toBe('application/problem+json');
      expect(reply.body.detail).toContain(status);
      expect((await api.get(getEvent(caller, jobId))).body.status).toBe(status);
    }
  });

  it('cancels a scheduled job whose workflow is not running at once, through CANCELLING', async () => {
    const caller = iamCaller('canceller');
    const jobId = await submitted(api, caller);
    await store.transition(jobId, ['QUEUED'], 'SCHEDULED', { at: new Date().toISOString() });

    const reply = await api.cancel(cancelEvent(caller, jobId));

    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ jobId, status: 'CANCELLED' });
    const events = (await api.events(eventsEvent(caller, jobId))).body.events as { status: string }[];
    expect(events.map((e) => e.status)).toEqual(['QUEUED', 'SCHEDULED', 'CANCELLING', 'CANCELLED']);
  });

  it('answers 404 for an unknown job', async () => {
    const reply = await api.cancel(
      cancelEvent(iamCaller('canceller'), 'job-00000000-0000-4000-8000-000000000000'),
    );
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ status: 404, title: 'Not found' });
  });
});
