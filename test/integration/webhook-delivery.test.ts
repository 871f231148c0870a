import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import {
  HttpWebhookSender,
  type HttpWebhookSenderOptions,
  localWebhookSecrets,
  WEBHOOK_USER_AGENT,
} from '#adapters/webhook-sender.ts';
import { type JobRecord, newJobId } from '#core/job-record.ts';
import { allowedSources, type JobStatus } from '#core/job-states.ts';
import { Notifier, statusOccurrence, WebhookDeliveryFailed, webhookPayload } from '#core/webhook.ts';
import { createNotifierHandler } from '#handlers/notifier.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { SMALL_RESOURCES, SQL_SPEC } from '../support/job-record.ts';

/**
 * The notifier in local mode against real receivers on 127.0.0.1 and the job store on dynalite:
 * what a developer running Libra locally gets.
 */

const logger = new Logger({ serviceName: 'libra-test', logLevel: 'SILENT' });
const { secret: SECRET, secrets } = localWebhookSecrets({});

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** The payload when the signature verified with the secret; undefined when it did not. */
  readonly verified: unknown;
}

interface Receiver {
  readonly url: string;
  readonly received: Received[];
  connections: number;
  close(): Promise<void>;
}

type Answer = (request: IncomingMessage, response: ServerResponse) => void;

/** A webhook receiver that verifies every delivery's signature, as a customer's would. */
async function startReceiver(answer: Answer = (_request, response) => response.end('ok')): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified: unknown;
      try {
        verified = new Webhook(SECRET).verify(body, request.headers as Record<string, string>);
      } catch {
        verified = undefined;
      }
      received.push({ headers: request.headers, body, verified });
      answer(request, response);
    });
  });
  const receiver: Receiver = {
    url: '',
    received,
    connections: 0,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', () => receiver.connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, { url: `http://127.0.0.1:${port}/hooks/libra?source=test` });
}

let db: TestDatabase;
let store: DynamoJobStore;
const receivers: Receiver[] = [];

beforeAll(async () => {
  db = await startTestDatabase();
  store = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 90 });
});
afterAll(async () => {
  await db?.stop();
});
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

async function receiver(answer?: Answer): Promise<Receiver> {
  const started = await startReceiver(answer);
  receivers.push(started);
  return started;
}

/** A job subscribed to `events` at `webhook`, moved through `path` with history items. */
async function jobAt(webhook: string, events: JobStatus[], path: JobStatus[]): Promise<string> {
  const jobId = newJobId();
  const now = new Date().toISOString();
  const record: JobRecord = {
    jobId,
    owner: 'arn:aws:iam::123456789012:user/alice',
    status: 'QUEUED',
    pool: 'default',
    backend: 'emr-serverless',
    priority: 5,
    name: 'webhook test',
    tags: {},
    spec: { ...SQL_SPEC, notifications: { webhook, events } },
    resources: SMALL_RESOURCES,
    reservation: { cpuCores: 2, memoryMiB: 2048 },
    attempts: 0,
    submittedAt: now,
    queuedAt: now,
    updatedAt: now,
    requestHash: 'test',
  };
  expect(await store.createJob(record)).toBe('created');
  for (const status of path) {
    await store.transition(jobId, allowedSources(status), status, {
      at: new Date().toISOString(),
      ...(status === 'RUNNING' && { set: { attempts: 1 } }),
    });
  }
  return jobId;
}

function notifier(options: HttpWebhookSenderOptions = {}): Notifier {
  return new Notifier({
    jobs: store,
    sender: new HttpWebhookSender({ allowPrivateTargets: true, ...options }),
    secrets,
    clock: () => new Date(),
    logger,
  });
}

async function deliveries(jobId: string) {
  return (await store.listEvents(jobId)).filter((event) => event.type === 'WEBHOOK');
}

describe('webhooks in local mode', () => {
  it('delivers each subscribed event to a loopback receiver, every delivery signed and verified', async () => {
    const hooks = await receiver();
    const jobId = await jobAt(hooks.url, ['RUNNING', 'SUCCEEDED'], ['SCHEDULED', 'RUNNING', 'SUCCEEDED']);
    const handler = createNotifierHandler({ notifier: notifier(), logger });

    await expect(handler({ jobId, status: 'SCHEDULED' })).resolves.toEqual({
      delivered: false,
      skipped: 'not-subscribed',
    });
    await expect(handler({ jobId, status: 'RUNNING' })).resolves.toEqual({
      delivered: true,
      statusCode: 200,
    });
    await expect(handler({ jobId, status: 'SUCCEEDED' })).resolves.toEqual({
      delivered: true,
      statusCode: 200,
    });

    expect(hooks.received).toHaveLength(2);
    for (const delivery of hooks.received) {
      expect(delivery.verified).toEqual(JSON.parse(delivery.body));
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(delivery.headers['user-agent']).toBe(WEBHOOK_USER_AGENT);
      expect(delivery.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    }
    const job = await store.getJob(jobId);
    const history = await store.listEvents(jobId);
    expect(hooks.received.map((delivery) => JSON.parse(delivery.body))).toEqual(
      (['RUNNING', 'SUCCEEDED'] as const).map((status) =>
        webhookPayload(job as JobRecord, status, statusOccurrence(job as JobRecord, status, history)),
      ),
    );
    expect(hooks.received.map((delivery) => JSON.parse(delivery.body).type)).toEqual([
      'job.running',
      'job.succeeded',
    ]);

    const recorded = await deliveries(jobId);
    expect(recorded.map((event) => [event.status, event.detail?.outcome, event.detail?.statusCode])).toEqual([
      ['RUNNING', 'delivered', 200],
      ['SUCCEEDED', 'delivered', 200],
    ]);
    expect(recorded.map((event) => event.detail?.webhookId)).toEqual(
      hooks.received.map((delivery) => delivery.headers['webhook-id']),
    );
  });

  it('records a 500 and throws WebhookDeliveryFailed; the redelivery has the same id and body', async () => {
    let answers = 0;
    const hooks = await receiver((_request, response) => {
      response.statusCode = answers++ === 0 ? 500 : 200;
      response.end();
    });
    const jobId = await jobAt(hooks.url, ['SUCCEEDED'], ['SCHEDULED', 'RUNNING', 'SUCCEEDED']);
    const use = notifier();

    const error = await use.notify(jobId, 'SUCCEEDED').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(WebhookDeliveryFailed);
    expect((error as Error).name).toBe('WebhookDeliveryFailed');
    expect(await deliveries(jobId)).toMatchObject([
      { status: 'SUCCEEDED', detail: { outcome: 'failed', statusCode: 500, attempt: 1 } },
    ]);

    await expect(use.notify(jobId, 'SUCCEEDED')).resolves.toMatchObject({ delivered: true, statusCode: 200 });
    const [first, second] = hooks.received;
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
    expect(second?.body).toBe(first?.body);
    expect(second?.verified).toBeDefined();
    expect((await deliveries(jobId)).map((event) => [event.detail?.attempt, event.detail?.outcome])).toEqual([
      [1, 'failed'],
      [2, 'delivered'],
    ]);
  });

  it('on 410 disables the subscription; later events are not sent', async () => {
    const hooks = await receiver((_request, response) => {
      response.statusCode = 410;
      response.end('gone');
    });
    const jobId = await jobAt(hooks.url, ['RUNNING', 'SUCCEEDED'], ['SCHEDULED', 'RUNNING']);
    const use = notifier();

    await expect(use.notify(jobId, 'RUNNING')).resolves.toMatchObject({
      delivered: false,
      statusCode: 410,
      disabled: true,
    });
    const disabled = (await store.getJob(jobId)) as JobRecord & { webhookDisabledAt?: string };
    expect(disabled.webhookDisabledAt).toEqual(expect.any(String));
    expect(disabled.status).toBe('RUNNING');

    await store.transition(jobId, ['RUNNING'], 'SUCCEEDED', { at: new Date().toISOString() });
    await expect(use.notify(jobId, 'SUCCEEDED')).resolves.toEqual({ delivered: false, skipped: 'disabled' });
    expect(hooks.received).toHaveLength(1);
    expect(await deliveries(jobId)).toMatchObject([
      { status: 'RUNNING', detail: { outcome: 'gone', statusCode: 410 } },
    ]);
  });

  it('does not follow a redirect: a 302 is a failure, and its target sees nothing', async () => {
    const target = await receiver();
    const hooks = await receiver((_request, response) => {
      response.writeHead(302, { location: target.url });
      response.end();
    });
    const jobId = await jobAt(hooks.url, ['SUCCEEDED'], ['SCHEDULED', 'RUNNING', 'SUCCEEDED']);

    await expect(notifier().notify(jobId, 'SUCCEEDED')).rejects.toMatchObject({
      name: 'WebhookDeliveryFailed',
      statusCode: 302,
    });
    expect(hooks.received).toHaveLength(1);
    expect(target.connections).toBe(0);
    expect(target.received).toEqual([]);
    expect(await deliveries(jobId)).toMatchObject([{ detail: { outcome: 'failed', statusCode: 302 } }]);
  });

  it('gives up on a receiver that never answers when the timeout passes, and records it', async () => {
    const hooks = await receiver(() => {
      // Never answers.
    });
    const jobId = await jobAt(hooks.url, ['SUCCEEDED'], ['SCHEDULED', 'RUNNING', 'SUCCEEDED']);

    const started = performance.now();
    await expect(notifier({ timeoutMs: 300 }).notify(jobId, 'SUCCEEDED')).rejects.toMatchObject({
      name: 'WebhookDeliveryFailed',
    });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3000);
    const [recorded] = await deliveries(jobId);
    expect(recorded?.detail).toMatchObject({ outcome: 'failed', error: 'no response within 300 ms' });
    expect(recorded?.detail?.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('counts a 2xx as soon as it has it, reading no more than a few KiB of an endless body', async () => {
    let written = 0;
    const hooks = await receiver((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const more = () => {
        while (!response.destroyed && written < 64 * 1024 * 1024 && response.write(chunk))
          written += chunk.length;
        if (!response.destroyed && written < 64 * 1024 * 1024) response.once('drain', more);
      };
      more();
    });
    const jobId = await jobAt(hooks.url, ['SUCCEEDED'], ['SCHEDULED', 'RUNNING', 'SUCCEEDED']);

    const started = performance.now();
    await expect(notifier({ timeoutMs: 5000 }).notify(jobId, 'SUCCEEDED')).resolves.toMatchObject({
      delivered: true,
      statusCode: 200,
    });
    expect(performance.now() - started).toBeLessThan(2000);
    // The sender hung up long before the receiver's 64 MiB were sent.
    expect(written).toBeLessThan(8 * 1024 * 1024);
  });

  it('records a refused connection as a failed attempt, with no address in it', async () => {
    const closed = await receiver();
    const url = closed.url;
    await closed.close();
    receivers.splice(receivers.indexOf(closed), 1);
    const jobId = await jobAt(url, ['SUCCEEDED'], ['SCHEDULED', 'RUNNING', 'SUCCEEDED']);

    await expect(notifier().notify(jobId, 'SUCCEEDED')).rejects.toMatchObject({
      name: 'WebhookDeliveryFailed',
    });
    const [recorded] = await deliveries(jobId);
    expect(recorded?.detail).toMatchObject({ outcome: 'failed', error: 'network error ECONNREFUSED' });
    expect(JSON.stringify(recorded)).not.toContain('127.0.0.1');
  });
});
