import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { composeApi } from '#compose/api.ts';
import type { JobStore } from '#core/ports.ts';
import { InMemoryMetrics } from '../../local/metrics.ts';
import {
  type Api,
  apiOf,
  everyRoute,
  getEvent,
  iamCaller,
  NO_NOTIFIER,
  NO_RUNS,
  NO_WORKFLOWS,
  RecordingIntake,
  type Reply,
  serviceApi,
  silentLogger,
  sqlJob,
  submitEvent,
  testConfig,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

const CALLER = iamCaller('unlucky');
const JOB_ID = 'job-00000000-0000-4000-8000-000000000000';
const SECRET = 'arn:aws:dynamodb:eu-west-1:123456789012:table/libra-jobs is throttled (internal detail)';

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(async () => {
  await db?.stop();
});

/** Every method of the real store throws an error whose message must never reach the caller. */
function failingStore(): JobStore {
  const fail = async () => {
    throw new Error(SECRET);
  };
  return {
    createJob: fail,
    getJob: fail,
    transition: fail,
    listJobs: fail,
    listEvents: fail,
    queuePosition: fail,
    claimIdempotencyKey: fail,
    recordRun: fail,
    setReruns: fail,
  };
}

const requests = (api: Api) => everyRoute(api, CALLER, JOB_ID);

function expectMasked500(route: string, reply: Reply, requestId: string) {
  expect(reply.status, route).toBe(500);
  expect(reply.headers['content-type']).toBe('application/problem+json');
  expect(reply.body).toMatchObject({ status: 500, title: 'Internal Server Error', requestId });
  expect(reply.body.detail).toContain(requestId);
  expect(reply.body).not.toHaveProperty('errors.0');
  const text = JSON.stringify(reply.body);
  for (const leak of [
    'throttled',
    'arn:aws:dynamodb',
    'internal detail',
    'ProvisionedThroughput',
    '    at ',
  ]) {
    expect(text, route).not.toContain(leak);
  }
}

describe('5xx masking', () => {
  it('answers 500 with the request id and nothing of the error when the store throws', async () => {
    const api = serviceApi(db, { store: failingStore });
    const logged = vi.spyOn(api.deps.logger, 'error');

    for (const [route, send] of requests(api)) {
      expectMasked500(route, await send(), 'Ab1Cd2Ef3Gh4=');
    }
    // The operator gets what the caller does not: the error, under the request id.
    expect(logged).toHaveBeenCalledTimes(requests(api).length);
    expect(logged).toHaveBeenCalledWith(
      'request failed',
      expect.objectContaining({
        requestId: 'Ab1Cd2Ef3Gh4=',
        error: expect.objectContaining({ message: SECRET }),
      }),
    );
  });

  it('answers 500 the same way when the DynamoDB client itself fails', async () => {
    // Not a throttle: that is the caller's to retry, answered 429 (api-retry-after.test.ts).
    const broken = {
      send: async () => {
        throw Object.assign(new Error(SECRET), { name: 'InternalServerError', $fault: 'server' });
      },
    } as unknown as DynamoDBDocumentClient;
    const wiring = {
      documentClient: broken,
      tableName: db.tableName,
      config: testConfig(),
      logger: silentLogger(),
      metrics: new InMemoryMetrics(),
      intake: new RecordingIntake(),
      workflows: NO_WORKFLOWS,
      runs: NO_RUNS,
      notifier: NO_NOTIFIER,
      allowInsecureWebhooks: false,
    };
    const api = apiOf(composeApi(wiring));

    for (const [route, send] of requests(api)) {
      expectMasked500(route, await send(), 'Ab1Cd2Ef3Gh4=');
    }
  });

  it("quotes the Lambda request id when the event carries none of API Gateway's", async () => {
    const api = serviceApi(db, { store: failingStore });
    const event = getEvent(CALLER, JOB_ID);
    (event.requestContext as { requestId?: string }).requestId = undefined;

    const reply = await api.get(event);

    expect(reply.status).toBe(500);
    expect(reply.body.requestId).toMatch(/^c6af9ac6-/);
    expect(reply.body.detail).toContain(reply.body.requestId);
  });

  it('still answers 4xx in full: the problem is the request, not the server', async () => {
    const api = serviceApi(db, { store: failingStore });

    const reply = await api.submit(submitEvent(CALLER, sqlJob({ priority: 0 })));

    expect(reply.status).toBe(400);
    expect(reply.body.errors).toEqual([expect.objectContaining({ field: 'priority' })]);
  });
});
