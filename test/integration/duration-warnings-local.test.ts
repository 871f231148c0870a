import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobEventsSchema } from '#core/api-schemas.ts';
import { DURATION_WARNINGS_METRIC } from '#core/use-cases/duration-warnings.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.ts';
import { testConfig } from '../support/api.ts';
import { callApi, type Json, submitJob } from '../support/local-http.ts';
import { until } from '../support/workflow.ts';

/**
 * Duration warnings end to end in the local runtime, over HTTP: python3 jobs on the local engine
 * that run past `warnAfterMinutes: 1`, the runtime's tick finding them through the sparse index,
 * the history event, the signed webhook to a receiver on 127.0.0.1, the metric — once per attempt,
 * a retried job once for each. The runtime's minute is shortened (its `minuteMs`, the clock the
 * engine's execution timeout runs on too) so that one minute lasts two seconds here.
 */

const MINUTE_MS = 2_000;
const TICK_SECONDS = 0.25;

interface Delivery {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

let runtime: LocalRuntime;
let receiver: Server;
let hookUrl: string;
let scratch: string;
const deliveries: Delivery[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'libra-warn-'));
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      deliveries.push({ headers: request.headers, body });
      response.writeHead(204).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  runtime = await startLocalRuntime({
    config: testConfig({ pools: { default: { cpuCores: 64, memoryGb: 256, maxConcurrentJobs: 10 } } }),
    port: 0,
    logLevel: 'SILENT',
    tickSeconds: TICK_SECONDS,
    minuteMs: MINUTE_MS,
  });
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  receiver?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const call = (method: string, path: string, body?: unknown) => callApi(runtime.url, method, path, body);
const submit = (body: Record<string, unknown>) => submitJob(runtime.url, body);

/** The job's history, as the API answers it and its schema (the OpenAPI document's source) allows. */
async function history(jobId: string) {
  const answer = await call('GET', `/api/v1/spark/jobs/${jobId}/events`);
  expect(answer.status).toBe(200);
  return jobEventsSchema.parse(answer.body).events;
}

async function ended(jobId: string): Promise<Json> {
  return until(
    `job ${jobId} to end`,
    async () => {
      const job = (await call('GET', `/api/v1/spark/jobs/${jobId}`)).body;
      return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'].includes(job.status) && job;
    },
    60_000,
    100,
  );
}

/** Python that runs `seconds`, then fails the first time it runs and succeeds after (a marker file). */
function sleeper(seconds: number, failFirst: boolean): string {
  const marker = join(scratch, `ran-${Math.random().toString(36).slice(2)}`);
  return [
    'import os, sys, time',
    `time.sleep(${seconds})`,
    ...(failFirst
      ? [
          `if not os.path.exists(${JSON.stringify(marker)}):`,
          `    open(${JSON.stringify(marker)}, 'w').close()`,
          '    sys.exit(3)',
        ]
      : []),
    "print('done')",
  ].join('\n');
}

const warningsOf = (events: Awaited<ReturnType<typeof history>>) =>
  events.filter((event) => event.type === 'DURATION_WARNING');

describe('duration warnings in the local runtime', () => {
  it('a retried run gets one warning per attempt: history, signed webhook and metric, each at most a minute late', async () => {
    const metricBefore = runtime.metrics.counter(DURATION_WARNINGS_METRIC);
    // Runs of 3 "minutes" each, the first failing: two attempts past a one-minute warning.
    const warned = await submit({
      code: sleeper((3 * MINUTE_MS) / 1000, true),
      kind: 'python',
      warnAfterMinutes: 1,
      retryPolicy: { maxRetries: 1, initialDelaySeconds: 1 },
      notifications: { webhook: hookUrl, events: ['DURATION_WARNING', 'SUCCEEDED'] },
    });
    // The same run with no warning: no event, no webhook, no count.
    const plain = await submit({
      code: sleeper((3 * MINUTE_MS) / 1000, false),
      kind: 'python',
      notifications: { webhook: hookUrl, events: ['DURATION_WARNING', 'SUCCEEDED'] },
    });

    expect(await ended(warned)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(await ended(plain)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    // Ticks go on after the end: nothing more is given.
    await new Promise((resolve) => setTimeout(resolve, 4 * TICK_SECONDS * 1000));

    const events = await history(warned);
    const warnings = warningsOf(events);
    const runs = events.filter((event) => event.type === 'STATUS' && event.status === 'RUNNING');
    expect(warnings.map((w) => w.type === 'DURATION_WARNING' && w.detail.attempt)).toEqual([0, 1]);
    warnings.forEach((warning, attempt) => {
      if (warning.type !== 'DURATION_WARNING') throw new Error('not a warning');
      const started = Date.parse(warning.detail.runStartedAt);
      // Due one (shortened) minute after the attempt's start, which its RUNNING item follows closely.
      expect(Date.parse(warning.at) - started).toBe(MINUTE_MS);
      expect(Math.abs(started - Date.parse(runs[attempt]?.at ?? ''))).toBeLessThan(MINUTE_MS / 2);
      // Found at most a minute late, and while the attempt ran.
      const late = Date.parse(warning.detail.detectedAt) - Date.parse(warning.at);
      expect(late).toBeGreaterThanOrEqual(0);
      expect(late).toBeLessThanOrEqual(MINUTE_MS);
      expect(warning.detail.warnAfterMinutes).toBe(1);
    });
    expect(warningsOf(await history(plain))).toEqual([]);
    expect(runtime.metrics.counter(DURATION_WARNINGS_METRIC) - metricBefore).toBe(2);

    // The webhooks: two job.duration_warning messages, signed, one id each, delivered.
    const verifier = new Webhook(runtime.webhookSecret);
    const messages = deliveries
      .map((delivery) => ({
        id: String(delivery.headers['webhook-id']),
        payload: verifier.verify(delivery.body, {
          'webhook-id': String(delivery.headers['webhook-id']),
          'webhook-timestamp': String(delivery.headers['webhook-timestamp']),
          'webhook-signature': String(delivery.headers['webhook-signature']),
        }) as Json,
      }))
      .filter((message) => message.payload.data.jobId === warned || message.payload.data.jobId === plain);
    const warningMessages = messages.filter((message) => message.payload.type === 'job.duration_warning');
    expect(warningMessages.map((message) => message.payload.data.jobId)).toEqual([warned, warned]);
    expect(warningMessages.map((message) => message.payload.data.warning.attempt)).toEqual([0, 1]);
    expect(warningMessages.map((message) => message.payload.data.status)).toEqual(['RUNNING', 'RUNNING']);
    expect(new Set(warningMessages.map((message) => message.id)).size).toBe(2);
    expect(messages.filter((message) => message.payload.type === 'job.succeeded')).toHaveLength(2);
    const recorded = events.filter(
      (event) => event.type === 'WEBHOOK' && event.detail.eventType === 'job.duration_warning',
    );
    expect(recorded.map((event) => event.type === 'WEBHOOK' && event.detail.outcome)).toEqual([
      'delivered',
      'delivered',
    ]);
  }, 90_000);
});
