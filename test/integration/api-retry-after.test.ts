import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoPoolStore } from '#adapters/dynamo-pool-store.ts';
import { documentClient } from '#adapters/table-stores.ts';
import { poolLimits } from '#core/admission.ts';
import { QUEUE_FULL_RETRY_AFTER, THROTTLED_RETRY_AFTER_SECONDS, TICK_SECONDS } from '#core/retry-after.ts';
import {
  type Api,
  composedApi,
  everyRoute,
  iamCaller,
  itemCount,
  type Reply,
  serviceApi,
  sqlJob,
  submitEvent,
  testConfig,
} from '../support/api.ts';
import { localDynamoDbClient, startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

/**
 * Every 429 the API answers carries Retry-After, in seconds, and the same number as the
 * problem's `retryAfter`: a full queue (estimated from the pool's running jobs) and AWS
 * throttling that outlasted the SDK's retries (DynamoDB's own error, parsed by the SDK from a
 * server that answers as DynamoDB does when it throttles).
 */

const CALLER = iamCaller('eager');
const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const config = testConfig({ pools: { narrow: { maxQueueSize: 2, maxConcurrentJobs: 3 } } });

let db: TestDatabase;
let api: Api;
let pools: DynamoPoolStore;

beforeAll(async () => {
  db = await startTestDatabase();
  api = serviceApi(db, { config, clock: () => new Date(NOW) });
  pools = new DynamoPoolStore({ client: db.documentClient, tableName: db.tableName });
});
afterAll(async () => {
  await db?.stop();
});

function expectRetryAfter(reply: Reply, type: string, seconds: number): void {
  expect(reply.status, JSON.stringify(reply.body)).toBe(429);
  expect(reply.headers['content-type']).toBe('application/problem+json');
  expect(reply.headers['retry-after']).toBe(String(seconds));
  expect(reply.body).toMatchObject({
    type: `urn:libra:problem:${type}`,
    title: 'Too many requests',
    status: 429,
    retryAfter: seconds,
    detail: expect.stringContaining(`try again in ${seconds} s`),
  });
}

describe('429 queue full', () => {
  const narrowJob = () => submitEvent(CALLER, sqlJob({ pool: 'narrow' }));
  const lease = (jobId: string, ageSeconds: number) =>
    pools.acquire(
      'narrow',
      poolLimits(config.pools.narrow ?? expect.fail('no pool narrow')),
      { jobId, reservation: { cpuCores: 1, memoryMiB: 1024 }, owner: CALLER, priority: 5 },
      new Date(NOW - ageSeconds * 1000).toISOString(),
    );

  it('answers with the tick period when nothing runs, then from the running jobs, and writes nothing', async () => {
    // Prepare: the queue of two fills up.
    for (let i = 0; i < 2; i++) expect((await api.submit(narrowJob())).status).toBe(202);
    const items = await itemCount(db);

    // Nothing running: nothing ending will free a slot; the next tick is when anything changes.
    expectRetryAfter(await api.submit(narrowJob()), 'queue-full', TICK_SECONDS);

    // One job running for 40 s: it runs about 80 s, so about 40 s to go.
    expect(await lease('job-10000000-0000-4000-8000-000000000001', 40)).toBe('acquired');
    expectRetryAfter(await api.submit(narrowJob()), 'queue-full', 40);

    // Three running, of mean age 40 s: one of them ends about every 20 s.
    expect(await lease('job-10000000-0000-4000-8000-000000000002', 10)).toBe('acquired');
    expect(await lease('job-10000000-0000-4000-8000-000000000003', 70)).toBe('acquired');
    expectRetryAfter(await api.submit(narrowJob()), 'queue-full', 20);

    expect(await itemCount(db)).toBe(items);
  });

  it('keeps the bounds: a job running for a day says five minutes, not a day', async () => {
    for (const jobId of Object.keys((await pools.getPool('narrow')).leases))
      await pools.release('narrow', jobId);
    expect(await lease('job-10000000-0000-4000-8000-000000000004', 24 * 3600)).toBe('acquired');

    expectRetryAfter(await api.submit(narrowJob()), 'queue-full', QUEUE_FULL_RETRY_AFTER.max);
  });

  it('still answers 429, with the tick period, when the pool cannot be read for the estimate', async () => {
    const read = vi.spyOn(api.deps.pools, 'getPool').mockRejectedValueOnce(new Error('pool read failed'));

    expectRetryAfter(await api.submit(narrowJob()), 'queue-full', TICK_SECONDS);
    expect(read).toHaveBeenCalledWith('narrow');
    read.mockRestore();
  });
});

/** A DynamoDB endpoint that throttles every request, answering as DynamoDB does. */
async function throttlingDynamoDb(errorType: string): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(
        JSON.stringify({
          __type: `com.amazonaws.dynamodb.v20120810#${errorType}`,
          message: 'Throughput exceeds the current capacity of your table or index (arn:aws:dynamodb:secret)',
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('429 throttled', () => {
  const JOB_ID = 'job-00000000-0000-4000-8000-000000000000';

  it.each(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'])(
    'answers every route 429 with Retry-After when DynamoDB throttles (%s)',
    async (errorType) => {
      const { server, endpoint } = await throttlingDynamoDb(errorType);
      // The SDK would retry a throttle with backoff first; one attempt keeps the test quick.
      const client = localDynamoDbClient(endpoint, { maxAttempts: 1 });
      try {
        const throttled = composedApi({ documentClient: documentClient(client), tableName: 'libra-jobs' });
        const warned = vi.spyOn(throttled.deps.logger, 'warn');
        for (const [route, send] of everyRoute(throttled, CALLER, JOB_ID)) {
          const reply = await send();
          expectRetryAfter(reply, 'throttled', THROTTLED_RETRY_AFTER_SECONDS);
          // What AWS said stays in the log, not in the answer.
          expect(JSON.stringify(reply.body), route).not.toContain('arn:aws:dynamodb');
          expect(JSON.stringify(reply.body), route).not.toContain(errorType);
        }
        expect(warned).toHaveBeenCalledWith(
          'AWS throttled a request',
          expect.objectContaining({ error: expect.objectContaining({ name: errorType }) }),
        );
      } finally {
        client.destroy();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );
});
