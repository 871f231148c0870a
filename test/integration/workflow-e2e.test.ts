import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { LocalRuntime } from '../../local/runtime.ts';
import { callApi, type Json, submitJob } from '../support/local-http.ts';
import { startRoomyRuntime } from '../support/local-runtime.ts';
import { until } from '../support/workflow.ts';

/**
 * The job workflow end to end over HTTP against the local runtime (in this process): submit,
 * admission, job.asl.json on the local interpreter, the local engine (DuckDB, python3), the
 * finalizer, webhooks to a receiver on 127.0.0.1. The tests run concurrently; the timeout test
 * sets the pace (timeoutMinutes 1 is the shortest a request may ask).
 */

let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startRoomyRuntime();
});

afterAll(async () => {
  await runtime?.stop();
});

const call = (method: string, path: string, body?: unknown) => callApi(runtime.url, method, path, body);
const submit = (body: Record<string, unknown>) => submitJob(runtime.url, body);

const status = async (jobId: string): Promise<Json> =>
  (await call('GET', `/api/v1/spark/jobs/${jobId}`)).body;

const events = async (jobId: string): Promise<Json[]> =>
  (await call('GET', `/api/v1/spark/jobs/${jobId}/events`)).body.events;

/** Polls the job's status until it is `wanted` (or any other final state, which fails the test). */
async function finalStatus(jobId: string, timeoutMs = 20_000): Promise<Json> {
  return until(
    `job ${jobId} to end`,
    async () => {
      const job = await status(jobId);
      return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'].includes(job.status) && job;
    },
    timeoutMs,
  );
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

interface Delivery {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

describe.concurrent('the job workflow end to end, over HTTP', () => {
  it('SELECT 1 → SUCCEEDED, its result linked from the status', async ({ expect }) => {
    const jobId = await submit({ code: 'SELECT 1', kind: 'sql' });
    const job = await finalStatus(jobId);
    expect(job).toMatchObject({ status: 'SUCCEEDED', attempts: 1, run: { state: 'SUCCESS' } });
    expect(job.reason).toBeUndefined();

    const result = await fetch(job.links.result);
    expect(result.status).toBe(200);
    expect(await result.json()).toEqual({ columns: ['1'], rows: [[1]], truncated: false });
    const stderr = await fetch(job.links.stderr);
    expect(stderr.status).toBe(200);
    expect((await events(jobId)).map((event: Json) => event.status)).toEqual([
      'QUEUED',
      'SCHEDULED',
      'RUNNING',
      'SUCCEEDED',
    ]);
  });

  it('a SQL syntax error with maxRetries 2 → FAILED after 3 attempts, the backoff in the events', async ({
    expect,
  }) => {
    const jobId = await submit({ code: 'SELEC 1', kind: 'sql', retryPolicy: { maxRetries: 2 } });
    const job = await finalStatus(jobId);
    expect(job).toMatchObject({ status: 'FAILED', attempts: 3, reason: { code: 'SPARK_JOB_FAILED' } });
    expect(job.reason.message).toMatch(/syntax error/i);
    expect(runtime.engine.runsOf(jobId).map((run) => [run.attempt, run.state])).toEqual([
      [0, 'FAILED'],
      [1, 'FAILED'],
      [2, 'FAILED'],
    ]);

    const history = (await events(jobId)).filter((event: Json) => event.type === 'STATUS');
    expect(history.map((event: Json) => event.status)).toEqual([
      'QUEUED',
      'SCHEDULED',
      'RUNNING',
      'RETRYING',
      'RUNNING',
      'RETRYING',
      'RUNNING',
      'FAILED',
    ]);
    const retrying = history.filter((event: Json) => event.status === 'RETRYING');
    expect(retrying.map((event: Json) => event.delaySeconds)).toEqual([1, 2]);
    // Each wait lasted at least its delay: the next RUNNING came that long after the RETRYING.
    for (const event of retrying) {
      const next = history[history.indexOf(event) + 1];
      expect(next.status).toBe('RUNNING');
      expect(Date.parse(next.at) - Date.parse(event.at)).toBeGreaterThanOrEqual(event.delaySeconds * 1000);
    }
  });

  it('a long job with timeoutMinutes 1 → TIMEOUT, RUN_TIMEOUT, its process stopped', async ({ expect }) => {
    const jobId = await submit({ code: 'import time; time.sleep(600)', kind: 'python', timeoutMinutes: 1 });
    const job = await finalStatus(jobId, 100_000);
    expect(job).toMatchObject({ status: 'TIMEOUT', attempts: 1, reason: { code: 'RUN_TIMEOUT' } });
    const [run] = runtime.engine.runsOf(jobId);
    expect(Date.parse(job.completedAt) - Date.parse(job.startedAt)).toBeGreaterThanOrEqual(60_000);
    expect(run?.pid).toBeDefined();
    await until('the timed-out run to be stopped', () => run?.state === 'CANCELLED');
    expect(processGone(run?.pid ?? 0)).toBe(true);
  }, 120_000);

  it('cancel of a running python job → CANCELLED and its process gone', async ({ expect }) => {
    const jobId = await submit({ code: 'import time; time.sleep(600)', kind: 'python' });
    const pid = await until('the run to have a process', async () => {
      const [run] = runtime.engine.runsOf(jobId);
      return run?.state === 'RUNNING' && (await status(jobId)).status === 'RUNNING' && run.pid;
    });
    expect(processGone(pid)).toBe(false);

    const answer = await call('DELETE', `/api/v1/spark/jobs/${jobId}`);
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ jobId, status: 'CANCELLING' });

    const job = await finalStatus(jobId);
    expect(job).toMatchObject({ status: 'CANCELLED', reason: { code: 'CANCELLED_BY_USER' } });
    expect(job.cancelledAt).toBeDefined();
    expect(runtime.engine.runsOf(jobId).map((run) => run.state)).toEqual(['CANCELLED']);
    expect(processGone(pid)).toBe(true);
    expect((await events(jobId)).map((event: Json) => event.status)).toEqual([
      'QUEUED',
      'SCHEDULED',
      'RUNNING',
      'CANCELLING',
      'CANCELLED',
    ]);
  });

  it("the seed's python job → SUCCEEDED with its output", async ({ expect }) => {
    const jobId = await submit({ code: 'print("Hello from async Spark!")', kind: 'python' });
    const job = await finalStatus(jobId);
    expect(job).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    const stdout = await fetch(job.links.stdout);
    expect(stdout.status).toBe(200);
    expect(await stdout.text()).toBe('Hello from async Spark!\n');
  });

  it('a webhook receiver verifies the signature of every delivery', async ({ expect }) => {
    const deliveries: Delivery[] = [];
    const server: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        deliveries.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(204).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const jobId = await submit({
        code: 'SELECT 42 AS answer',
        kind: 'sql',
        notifications: { webhook: `http://127.0.0.1:${port}/libra`, events: ['RUNNING', 'SUCCEEDED'] },
      });
      expect((await finalStatus(jobId)).status).toBe('SUCCEEDED');
      await until('both deliveries', () => deliveries.length >= 2);

      const receiver = new Webhook(runtime.webhookSecret);
      const payloads = deliveries.map(
        (delivery) => receiver.verify(delivery.body, delivery.headers as Record<string, string>) as Json,
      );
      expect(payloads.map((payload) => [payload.type, payload.data.jobId, payload.data.status])).toEqual([
        ['job.running', jobId, 'RUNNING'],
        ['job.succeeded', jobId, 'SUCCEEDED'],
      ]);
      // The check is real: another secret does not verify them.
      const stranger = new Webhook(Buffer.alloc(32, 7).toString('base64'));
      for (const delivery of deliveries) {
        expect(() => stranger.verify(delivery.body, delivery.headers as Record<string, string>)).toThrow();
      }
      const recorded = (await events(jobId)).filter((event: Json) => event.type === 'WEBHOOK');
      expect(
        recorded.map((event: Json) => [event.status, event.detail.outcome, event.detail.statusCode]),
      ).toEqual([
        ['RUNNING', 'delivered', 204],
        ['SUCCEEDED', 'delivered', 204],
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
