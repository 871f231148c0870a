import { Logger } from '@aws-lambda-powertools/logger';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JobEvent, JobRecord } from '#core/job-record.ts';
import { JOB_STATUSES, type JobStatus } from '#core/job-states.ts';
import type { WebhookLog } from '#core/ports.ts';
import {
  isSubscribed,
  Notifier,
  statusOccurrence,
  WebhookBlocked,
  WebhookDeliveryFailed,
  type WebhookJob,
  type WebhookRequest,
  type WebhookResponse,
  webhookId,
  webhookPayload,
} from '#core/webhook.ts';
import { createNotifierHandler, NotifierInputInvalid } from '#handlers/notifier.ts';

const JOB_ID = 'job-0b7c7c8e-1f1e-4b55-9a53-6f1d2a3b4c5d';
const HOOK = 'https://hooks.example.com/libra';

function job(overrides: Partial<WebhookJob> = {}): WebhookJob {
  return {
    jobId: JOB_ID,
    owner: 'arn:aws:iam::123456789012:user/alice',
    status: 'SUCCEEDED',
    pool: 'analytics',
    backend: 'emr-serverless',
    priority: 5,
    name: 'nightly',
    tags: {},
    spec: {
      jobType: 'sql',
      code: 'SELECT 1',
      sparkConf: {},
      retryPolicy: { maxRetries: 3, backoffMultiplier: 2, initialDelaySeconds: 1, maxDelaySeconds: 60 },
      retryDelaysSeconds: [1, 2, 4],
      retryOnTimeout: false,
      timeoutMinutes: 60,
      notifications: { webhook: HOOK, events: ['RUNNING', 'SUCCEEDED', 'FAILED'] },
    },
    resources: {} as JobRecord['resources'],
    reservation: { cpuCores: 4, memoryMiB: 8192 },
    attempts: 1,
    submittedAt: '2025-01-01T00:00:00.000Z',
    queuedAt: '2025-01-01T00:00:00.000Z',
    scheduledAt: '2025-01-01T00:00:01.000Z',
    startedAt: '2025-01-01T00:00:02.000Z',
    completedAt: '2025-01-01T00:05:00.000Z',
    updatedAt: '2025-01-01T00:05:00.000Z',
    requestHash: 'hash',
    ...overrides,
  };
}

const moves = (...steps: [JobStatus, string][]): JobEvent[] =>
  steps.map(([status, at]) => ({ jobId: JOB_ID, at, type: 'STATUS', status }));

const HISTORY = moves(
  ['SCHEDULED', '2025-01-01T00:00:01.000Z'],
  ['RUNNING', '2025-01-01T00:00:02.000Z'],
  ['SUCCEEDED', '2025-01-01T00:05:00.000Z'],
);

/** The job store's webhook side, in memory: what the notifier reads and writes. */
class MemoryJobs implements WebhookLog {
  readonly records = new Map<string, WebhookJob>();
  readonly history = new Map<string, JobEvent[]>();
  disableCalls = 0;

  constructor(record: WebhookJob | undefined, events: JobEvent[] = HISTORY) {
    if (record) {
      this.records.set(record.jobId, record);
      this.history.set(record.jobId, [...events]);
    }
  }
  async getJob(jobId: string): Promise<JobRecord | undefined> {
    return this.records.get(jobId);
  }
  async listEvents(jobId: string): Promise<JobEvent[]> {
    return [...(this.history.get(jobId) ?? [])];
  }
  async recordDelivery(event: JobEvent & { type: 'WEBHOOK' }): Promise<void> {
    this.history.get(event.jobId)?.push(event);
  }
  async disableWebhook(jobId: string, at: string): Promise<boolean> {
    this.disableCalls++;
    const record = this.records.get(jobId);
    if (!record) return false;
    this.records.set(jobId, { ...record, webhookDisabledAt: record.webhookDisabledAt ?? at });
    return true;
  }
  deliveries(jobId = JOB_ID): JobEvent[] {
    return (this.history.get(jobId) ?? []).filter((event) => event.type === 'WEBHOOK');
  }
}

/** Answers each send with the next scripted response (the last one repeats). */
class ScriptedSender {
  readonly sent: WebhookRequest[] = [];
  readonly #script: WebhookResponse[];
  constructor(...script: WebhookResponse[]) {
    this.#script = script;
  }
  async send(request: WebhookRequest): Promise<WebhookResponse> {
    this.sent.push(request);
    const next = this.#script.length > 1 ? this.#script.shift() : this.#script[0];
    if (!next) throw new Error('no scripted response');
    return next;
  }
}

const status = (statusCode: number): WebhookResponse => ({ outcome: 'response', statusCode, durationMs: 12 });
const SECRETS = { secretFor: async (pool: string) => `secret-of-${pool}` };
const SENT_AT = new Date('2025-01-01T00:05:01.000Z');

function notifier(jobs: MemoryJobs, sender: ScriptedSender): Notifier {
  return new Notifier({
    jobs,
    sender,
    secrets: SECRETS,
    clock: () => SENT_AT,
    logger: new Logger({ serviceName: 'libra-test', logLevel: 'SILENT' }),
  });
}

describe('webhook payload', () => {
  it('is the Standard Webhooks shape: job.<status>, when it happened, the job', () => {
    const record = job();
    const payload = webhookPayload(record, 'SUCCEEDED', statusOccurrence(record, 'SUCCEEDED', HISTORY));
    expect(payload).toEqual({
      type: 'job.succeeded',
      timestamp: '2025-01-01T00:05:00.000Z',
      data: {
        jobId: JOB_ID,
        status: 'SUCCEEDED',
        name: 'nightly',
        pool: 'analytics',
        attempts: 1,
        submittedAt: '2025-01-01T00:00:00.000Z',
        startedAt: '2025-01-01T00:00:02.000Z',
        completedAt: '2025-01-01T00:05:00.000Z',
      },
    });
  });

  it('carries the reason of the move it announces, and leaves out what the job does not have', () => {
    const reason = { code: 'SPARK_JOB_FAILED', message: 'exit 1' } as const;
    const record = job({
      status: 'FAILED',
      name: undefined,
      startedAt: undefined,
      completedAt: '2025-01-01T00:01:00.000Z',
      reason,
    });
    const history: JobEvent[] = [
      { jobId: JOB_ID, at: '2025-01-01T00:01:00.000Z', type: 'STATUS', status: 'FAILED', reason },
    ];
    const payload = webhookPayload(record, 'FAILED', statusOccurrence(record, 'FAILED', history));
    expect(payload.type).toBe('job.failed');
    expect(payload.data.reason).toEqual(reason);
    expect(Object.keys(payload.data).sort()).toEqual(
      ['attempts', 'completedAt', 'jobId', 'pool', 'reason', 'status', 'submittedAt'].sort(),
    );
  });

  it('does not carry a reason the job got after the move it announces', () => {
    const record = job({ status: 'RETRYING', reason: { code: 'SPARK_JOB_FAILED', message: 'exit 1' } });
    const occurred = statusOccurrence(record, 'RUNNING', HISTORY);
    expect(webhookPayload(record, 'RUNNING', occurred).data).not.toHaveProperty('reason');
    expect(webhookPayload(record, 'RUNNING', occurred).timestamp).toBe('2025-01-01T00:00:02.000Z');
  });

  it('dates the submit (no history item) by the record', () => {
    const record = job({ status: 'QUEUED' });
    expect(statusOccurrence(record, 'QUEUED', [])).toEqual({ occurrence: 0, at: '2025-01-01T00:00:00.000Z' });
  });
});

describe('webhook id', () => {
  it('is msg_ and a hash, the same for the same job, status and occurrence, different otherwise', () => {
    fc.assert(
      fc.property(
        fc.uuid({ version: 4 }),
        fc.constantFrom(...JOB_STATUSES),
        fc.nat(20),
        (uuid, status, occurrence) => {
          const id = webhookId(`job-${uuid}`, status, occurrence);
          expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
          expect(webhookId(`job-${uuid}`, status, occurrence)).toBe(id);
          expect(webhookId(`job-${uuid}`, status, occurrence + 1)).not.toBe(id);
          const other = JOB_STATUSES.find((s) => s !== status) ?? 'FAILED';
          expect(webhookId(`job-${uuid}`, other, occurrence)).not.toBe(id);
        },
      ),
    );
  });

  it('is the same on every redelivery, with the same body, and each attempt is numbered', async () => {
    const jobs = new MemoryJobs(job());
    const sender = new ScriptedSender(status(500), status(503), status(204));
    const use = notifier(jobs, sender);
    await expect(use.notify(JOB_ID, 'SUCCEEDED')).rejects.toThrow(WebhookDeliveryFailed);
    await expect(use.notify(JOB_ID, 'SUCCEEDED')).rejects.toThrow(WebhookDeliveryFailed);
    await expect(use.notify(JOB_ID, 'SUCCEEDED')).resolves.toMatchObject({
      delivered: true,
      statusCode: 204,
    });

    expect(sender.sent).toHaveLength(3);
    expect(new Set(sender.sent.map((request) => request.id)).size).toBe(1);
    expect(new Set(sender.sent.map((request) => request.body)).size).toBe(1);
    expect(sender.sent[0]?.id).toBe(webhookId(JOB_ID, 'SUCCEEDED', 1));
    expect(jobs.deliveries().map((event) => event.detail?.attempt)).toEqual([1, 2, 3]);
    expect(jobs.deliveries().map((event) => event.detail?.outcome)).toEqual([
      'failed',
      'failed',
      'delivered',
    ]);
  });

  it('differs for the second run of a job that retried, whose RUNNING is a new event', async () => {
    const jobs = new MemoryJobs(job({ status: 'RUNNING', attempts: 1 }), HISTORY.slice(0, 2));
    const sender = new ScriptedSender(status(200));
    const use = notifier(jobs, sender);
    await use.notify(JOB_ID, 'RUNNING');
    jobs.history
      .get(JOB_ID)
      ?.push(...moves(['RETRYING', '2025-01-01T00:01:00.000Z'], ['RUNNING', '2025-01-01T00:01:02.000Z']));
    await use.notify(JOB_ID, 'RUNNING');
    const [first, second] = sender.sent;
    expect(first?.id).not.toBe(second?.id);
    expect(JSON.parse(second?.body ?? '{}').timestamp).toBe('2025-01-01T00:01:02.000Z');
    expect(jobs.deliveries().map((event) => event.detail?.attempt)).toEqual([1, 1]);
  });
});

describe('Notifier', () => {
  it('sends the payload to the job webhook, signed with its pool secret, and records the delivery', async () => {
    const jobs = new MemoryJobs(job());
    const sender = new ScriptedSender(status(200));
    const result = await notifier(jobs, sender).notify(JOB_ID, 'SUCCEEDED');

    const id = webhookId(JOB_ID, 'SUCCEEDED', 1);
    expect(result).toEqual({ delivered: true, statusCode: 200, webhookId: id });
    expect(sender.sent).toEqual([
      {
        url: HOOK,
        id,
        timestamp: SENT_AT,
        body: JSON.stringify(
          webhookPayload(job(), 'SUCCEEDED', statusOccurrence(job(), 'SUCCEEDED', HISTORY)),
        ),
        secret: 'secret-of-analytics',
      },
    ]);
    expect(jobs.deliveries()).toEqual([
      {
        jobId: JOB_ID,
        at: SENT_AT.toISOString(),
        type: 'WEBHOOK',
        status: 'SUCCEEDED',
        detail: {
          webhookId: id,
          eventType: 'job.succeeded',
          attempt: 1,
          outcome: 'delivered',
          statusCode: 200,
          durationMs: 12,
        },
      },
    ]);
  });

  it('sends only the events the job subscribed to', async () => {
    for (const [record, event] of [
      [job(), 'CANCELLED'],
      [job({ spec: { ...job().spec, notifications: undefined } }), 'SUCCEEDED'],
    ] as const) {
      const jobs = new MemoryJobs(record);
      const sender = new ScriptedSender(status(200));
      await expect(notifier(jobs, sender).notify(JOB_ID, event)).resolves.toEqual({
        delivered: false,
        skipped: 'not-subscribed',
      });
      expect(sender.sent).toEqual([]);
      expect(jobs.deliveries()).toEqual([]);
    }
    expect(isSubscribed(job(), 'RUNNING')).toBe(true);
    expect(isSubscribed(job(), 'QUEUED')).toBe(false);
    expect(isSubscribed(job({ webhookDisabledAt: '2025-01-01T00:00:00.000Z' }), 'RUNNING')).toBe(false);
  });

  it('skips an unknown job', async () => {
    const sender = new ScriptedSender(status(200));
    await expect(notifier(new MemoryJobs(undefined), sender).notify(JOB_ID, 'SUCCEEDED')).resolves.toEqual({
      delivered: false,
      skipped: 'unknown-job',
    });
    expect(sender.sent).toEqual([]);
  });

  it('on 410 disables the subscription, and later events are not sent', async () => {
    const jobs = new MemoryJobs(job({ status: 'RUNNING' }), HISTORY.slice(0, 2));
    const sender = new ScriptedSender(status(410), status(200));
    const use = notifier(jobs, sender);
    await expect(use.notify(JOB_ID, 'RUNNING')).resolves.toMatchObject({
      delivered: false,
      statusCode: 410,
      disabled: true,
    });
    expect(jobs.records.get(JOB_ID)?.webhookDisabledAt).toBe(SENT_AT.toISOString());
    expect(jobs.deliveries()[0]?.detail).toMatchObject({ outcome: 'gone', statusCode: 410 });

    await expect(use.notify(JOB_ID, 'SUCCEEDED')).resolves.toEqual({ delivered: false, skipped: 'disabled' });
    expect(sender.sent).toHaveLength(1);
    expect(jobs.deliveries()).toHaveLength(1);
  });

  it.each([
    [301, 'a redirect'],
    [302, 'a redirect'],
    [400, 'a client error'],
    [404, 'a client error'],
    [429, 'throttling'],
    [500, 'a server error'],
    [199, 'an informational code'],
  ])('throws WebhookDeliveryFailed on %i (%s), after recording the attempt', async (statusCode) => {
    const jobs = new MemoryJobs(job());
    const error = await notifier(jobs, new ScriptedSender(status(statusCode)))
      .notify(JOB_ID, 'SUCCEEDED')
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(WebhookDeliveryFailed);
    expect((error as Error).name).toBe('WebhookDeliveryFailed');
    expect((error as WebhookDeliveryFailed).statusCode).toBe(statusCode);
    expect(jobs.deliveries()).toHaveLength(1);
    expect(jobs.deliveries()[0]?.detail).toMatchObject({ outcome: 'failed', statusCode, attempt: 1 });
    expect(jobs.records.get(JOB_ID)?.webhookDisabledAt).toBeUndefined();
  });

  it('throws WebhookDeliveryFailed on a network error or timeout, after recording it', async () => {
    const jobs = new MemoryJobs(job());
    const sender = new ScriptedSender({
      outcome: 'failed',
      error: 'no response within 10000 ms',
      durationMs: 10_000,
    });
    const error = await notifier(jobs, sender)
      .notify(JOB_ID, 'SUCCEEDED')
      .catch((thrown: unknown) => thrown);
    expect((error as Error).name).toBe('WebhookDeliveryFailed');
    expect(jobs.deliveries()[0]?.detail).toMatchObject({
      outcome: 'failed',
      error: 'no response within 10000 ms',
      durationMs: 10_000,
    });
    expect(jobs.deliveries()[0]?.detail).not.toHaveProperty('statusCode');
  });

  it('records a failed attempt and throws WebhookDeliveryFailed when the pool secret cannot be read', async () => {
    const jobs = new MemoryJobs(job());
    const sender = new ScriptedSender(status(200));
    const error = await new Notifier({
      jobs,
      sender,
      secrets: {
        secretFor: async () => {
          throw new Error('ResourceNotFoundException: libra/webhooks/analytics');
        },
      },
      clock: () => SENT_AT,
      logger: new Logger({ serviceName: 'libra-test', logLevel: 'SILENT' }),
    })
      .notify(JOB_ID, 'SUCCEEDED')
      .catch((thrown: unknown) => thrown);
    expect((error as Error).name).toBe('WebhookDeliveryFailed');
    expect(sender.sent).toEqual([]);
    expect(jobs.deliveries()[0]?.detail).toMatchObject({
      outcome: 'failed',
      error: 'the signing secret could not be read',
    });
  });

  it('throws WebhookBlocked, which the workflow does not retry, for a refused destination', async () => {
    const jobs = new MemoryJobs(job());
    const sender = new ScriptedSender({
      outcome: 'refused',
      error: 'the destination is not a public address',
      durationMs: 1,
    });
    const error = await notifier(jobs, sender)
      .notify(JOB_ID, 'SUCCEEDED')
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(WebhookBlocked);
    expect((error as Error).name).toBe('WebhookBlocked');
    expect(error).not.toBeInstanceOf(WebhookDeliveryFailed);
    expect(jobs.deliveries()[0]?.detail).toMatchObject({
      outcome: 'blocked',
      error: 'the destination is not a public address',
    });
  });
});

describe('notifier Lambda handler', () => {
  const logger = new Logger({ serviceName: 'libra-test', logLevel: 'SILENT' });

  it('answers { delivered, statusCode } and passes the named errors through', async () => {
    const jobs = new MemoryJobs(job());
    const handler = createNotifierHandler({
      notifier: notifier(jobs, new ScriptedSender(status(202), status(500))),
      logger,
    });
    await expect(handler({ jobId: JOB_ID, status: 'SUCCEEDED' })).resolves.toEqual({
      delivered: true,
      statusCode: 202,
    });
    await expect(handler({ jobId: JOB_ID, status: 'SUCCEEDED' })).rejects.toMatchObject({
      name: 'WebhookDeliveryFailed',
    });
    await expect(handler({ jobId: JOB_ID, status: 'CANCELLED' })).resolves.toEqual({
      delivered: false,
      skipped: 'not-subscribed',
    });
  });

  it("takes the tick's { jobId, status: 'DURATION_WARNING' }: one message per attempt's warning, recorded under the job's status", async () => {
    const running = job({
      status: 'RUNNING',
      attempts: 2,
      spec: {
        ...job().spec,
        warnAfterMinutes: 1,
        notifications: { webhook: HOOK, events: ['DURATION_WARNING'] },
      },
    });
    const warning = (attempt: number, at: string): JobEvent => ({
      jobId: JOB_ID,
      at,
      type: 'DURATION_WARNING',
      status: 'RUNNING',
      detail: { attempt, warnAfterMinutes: 1, runStartedAt: '2025-01-01T00:00:02.000Z', detectedAt: at },
    });
    const jobs = new MemoryJobs(running, [...HISTORY.slice(0, 2), warning(0, '2025-01-01T00:01:02.000Z')]);
    const sender = new ScriptedSender(status(204));
    const handler = createNotifierHandler({ notifier: notifier(jobs, sender), logger });

    await expect(handler({ jobId: JOB_ID, status: 'DURATION_WARNING' })).resolves.toEqual({
      delivered: true,
      statusCode: 204,
    });
    jobs.history.get(JOB_ID)?.push(warning(1, '2025-01-01T00:03:02.000Z'));
    await handler({ jobId: JOB_ID, status: 'DURATION_WARNING' });

    const bodies = sender.sent.map((sent) => JSON.parse(sent.body));
    expect(
      bodies.map((body) => [body.type, body.timestamp, body.data.status, body.data.warning.attempt]),
    ).toEqual([
      ['job.duration_warning', '2025-01-01T00:01:02.000Z', 'RUNNING', 0],
      ['job.duration_warning', '2025-01-01T00:03:02.000Z', 'RUNNING', 1],
    ]);
    expect(new Set(sender.sent.map((sent) => sent.id)).size).toBe(2);
    expect(jobs.deliveries().map((event) => [event.status, event.detail?.eventType])).toEqual([
      ['RUNNING', 'job.duration_warning'],
      ['RUNNING', 'job.duration_warning'],
    ]);
    // Not subscribed: nothing sent.
    const quiet = new MemoryJobs({ ...running, spec: job().spec });
    const none = new ScriptedSender(status(204));
    await expect(notifier(quiet, none).notify(JOB_ID, 'DURATION_WARNING')).resolves.toEqual({
      delivered: false,
      skipped: 'not-subscribed',
    });
    expect(none.sent).toEqual([]);
  });

  it('refuses input that is not { jobId, status } with NotifierInputInvalid, sending nothing', async () => {
    const sender = new ScriptedSender(status(200));
    const handler = createNotifierHandler({ notifier: notifier(new MemoryJobs(job()), sender), logger });
    for (const input of [
      {},
      { jobId: JOB_ID },
      { jobId: 'job-1', status: 'SUCCEEDED' },
      { jobId: JOB_ID, status: 'DONE' },
      null,
      'SUCCEEDED',
    ]) {
      await expect(handler(input)).rejects.toBeInstanceOf(NotifierInputInvalid);
    }
    expect(sender.sent).toEqual([]);
  });
});
