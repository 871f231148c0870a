import { createHash } from 'node:crypto';
import type { JobEvent, JobRecord } from './job-record.ts';
import { DURATION_WARNING, type NotificationEvent } from './job-request.ts';
import { type JobStatus, type Reason, STATUS_TIMESTAMP } from './job-states.ts';
import type { Clock, JobStore, LogPort, WebhookLog } from './ports.ts';

/**
 * Webhooks (DESIGN §6): one Standard Webhooks message per subscribed status move, sent by the
 * notifier task of the job's workflow, and one per duration warning, sent on the tick's call. The workflow's `Retry` redelivers on
 * WebhookDeliveryFailed and its `Catch` carries on, so a webhook can never fail a job.
 */

export type WebhookEventType = `job.${Lowercase<NotificationEvent>}`;

export interface WebhookData {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly name?: string;
  readonly pool: string;
  readonly attempts: number;
  readonly submittedAt: string;
  readonly startedAt?: string;
  readonly completedAt?: string;
  readonly cancelledAt?: string;
  readonly reason?: Reason;
  /** A `job.duration_warning`: which attempt ran past its warning, and since when it runs. */
  readonly warning?: {
    readonly attempt: number;
    readonly warnAfterMinutes: number;
    readonly runStartedAt: string;
  };
}

/** The JSON body, in the Standard Webhooks shape: type, when it happened, what happened. */
export interface WebhookPayload {
  readonly type: WebhookEventType;
  readonly timestamp: string;
  readonly data: WebhookData;
}

/** One message to send. `timestamp` is the send time (the `webhook-timestamp` header). */
export interface WebhookRequest {
  readonly url: string;
  readonly id: string;
  readonly timestamp: Date;
  readonly body: string;
  /** The pool's signing secret, `whsec_` + base64. */
  readonly secret: string;
}

/**
 * What became of a send: the receiver's status code, a network failure or timeout (worth
 * another try), or a destination the sender refused to connect to (never worth one).
 */
export type WebhookResponse =
  | { readonly outcome: 'response'; readonly statusCode: number; readonly durationMs: number }
  | { readonly outcome: 'failed'; readonly error: string; readonly durationMs: number }
  | { readonly outcome: 'refused'; readonly error: string; readonly durationMs: number };

/** Signs and sends one message; never throws for what the receiver or the network did. */
export interface WebhookSender {
  send(request: WebhookRequest): Promise<WebhookResponse>;
}

/** The signing secret of each pool (Secrets Manager in AWS, LIBRA_WEBHOOK_SECRET locally). */
export interface WebhookSecrets {
  secretFor(pool: string): Promise<string>;
}

/** The job record as the notifier reads it: the store adds `webhookDisabledAt` after a 410. */
export type WebhookJob = JobRecord & { readonly webhookDisabledAt?: string };

/** Non-2xx, network error or timeout: the attempt is recorded; the workflow's `Retry` tries again. */
export class WebhookDeliveryFailed extends Error {
  readonly webhookId: string;
  readonly statusCode: number | undefined;
  constructor(jobId: string, webhookId: string, detail: string, statusCode?: number) {
    super(`webhook ${webhookId} of job ${jobId} was not delivered: ${detail}`);
    this.name = 'WebhookDeliveryFailed';
    this.webhookId = webhookId;
    this.statusCode = statusCode;
  }
}

/** The destination is not allowed (SSRF guard, not https when deployed): recorded, never retried. */
export class WebhookBlocked extends Error {
  readonly webhookId: string;
  constructor(jobId: string, webhookId: string, detail: string) {
    super(`webhook ${webhookId} of job ${jobId} was refused: ${detail}`);
    this.name = 'WebhookBlocked';
    this.webhookId = webhookId;
  }
}

export function webhookEventType(event: NotificationEvent): WebhookEventType {
  return `job.${event.toLowerCase()}` as WebhookEventType;
}

/**
 * The message id, the same for every redelivery of one event so that receivers can drop
 * duplicates: the job, the status, and which time the job reached that status (a job that
 * retries is RUNNING more than once, and each is its own event).
 */
export function webhookId(jobId: string, status: NotificationEvent, occurrence: number): string {
  const digest = createHash('sha256').update(`${jobId}\n${status}\n${occurrence}`).digest('hex');
  return `msg_${digest.slice(0, 32)}`;
}

/** True when the job asked for this event and its receiver has not answered 410. */
export function isSubscribed(job: WebhookJob, status: NotificationEvent): boolean {
  const notifications = job.spec.notifications;
  return notifications?.events.includes(status) === true && job.webhookDisabledAt === undefined;
}

/** The status move being announced, as the history recorded it. */
export interface StatusOccurrence {
  /** 1 for the first time the job reached the status; 0 when the history holds no such move. */
  readonly occurrence: number;
  readonly at: string;
  readonly reason?: Reason;
  readonly warning?: WebhookData['warning'];
}

/**
 * The latest duration warning in the history: each attempt has at most one, so its occurrence
 * (the count so far) names the attempt's message. 0 when the history holds none.
 */
export function warningOccurrence(job: JobRecord, events: readonly JobEvent[]): StatusOccurrence {
  const warnings = events.filter((event) => event.type === DURATION_WARNING);
  const latest = warnings.at(-1);
  if (!latest) return { occurrence: 0, at: job.updatedAt };
  const detail = latest.detail ?? {};
  return {
    occurrence: warnings.length,
    at: latest.at,
    warning: {
      attempt: Number(detail.attempt),
      warnAfterMinutes: Number(detail.warnAfterMinutes),
      runStartedAt: String(detail.runStartedAt),
    },
  };
}

/**
 * The latest move to `status` in the history. The submit (QUEUED) has no history item: its
 * time is the record's. Without a history item, the record's time for the status is used.
 */
export function statusOccurrence(
  job: JobRecord,
  status: JobStatus,
  events: readonly JobEvent[],
): StatusOccurrence {
  const moves = events.filter((event) => event.type === 'STATUS' && event.status === status);
  const latest = moves.at(-1);
  if (latest) {
    return { occurrence: moves.length, at: latest.at, ...(latest.reason && { reason: latest.reason }) };
  }
  const attribute = STATUS_TIMESTAMP[status];
  const recorded = attribute ? job[attribute] : undefined;
  return {
    occurrence: 0,
    at: recorded ?? job.updatedAt,
    ...(job.status === status && job.reason && { reason: job.reason }),
  };
}

/** The message of a status move (`status` is the status reached) or of a duration warning (the job's status). */
export function webhookPayload(
  job: JobRecord,
  event: NotificationEvent,
  occurred: StatusOccurrence,
): WebhookPayload {
  return {
    type: webhookEventType(event),
    timestamp: occurred.at,
    data: {
      jobId: job.jobId,
      status: event === DURATION_WARNING ? job.status : event,
      ...(job.name !== undefined && { name: job.name }),
      pool: job.pool,
      attempts: job.attempts,
      submittedAt: job.submittedAt,
      ...(job.startedAt !== undefined && { startedAt: job.startedAt }),
      ...(job.completedAt !== undefined && { completedAt: job.completedAt }),
      ...(job.cancelledAt !== undefined && { cancelledAt: job.cancelledAt }),
      ...(occurred.reason && { reason: occurred.reason }),
      ...(occurred.warning && { warning: occurred.warning }),
    },
  };
}

export type NotifyResult =
  | { readonly delivered: true; readonly statusCode: number; readonly webhookId: string }
  | { readonly delivered: false; readonly skipped: 'unknown-job' | 'not-subscribed' | 'disabled' }
  | {
      readonly delivered: false;
      readonly statusCode: 410;
      readonly webhookId: string;
      readonly disabled: true;
    };

export interface NotifierDeps {
  readonly jobs: Pick<JobStore, 'getJob' | 'listEvents'> & WebhookLog;
  readonly sender: WebhookSender;
  readonly secrets: WebhookSecrets;
  readonly clock: Clock;
  readonly logger: LogPort;
}

type DeliveryOutcome = 'delivered' | 'gone' | 'failed' | 'blocked';

/**
 * Sends one job event to the job's webhook and records the attempt in the job's history.
 * Only 2xx is delivered; 410 disables the subscription; anything else throws after the
 * attempt is recorded: WebhookDeliveryFailed (retried) or WebhookBlocked (not).
 */
export class Notifier {
  readonly #deps: NotifierDeps;

  constructor(deps: NotifierDeps) {
    this.#deps = deps;
  }

  async notify(jobId: string, event: NotificationEvent): Promise<NotifyResult> {
    const { jobs, clock } = this.#deps;
    const subscribed = await this.#subscribedJob(jobId, event);
    if ('skipped' in subscribed) return subscribed;
    const { job, url } = subscribed;
    const events = await jobs.listEvents(jobId);
    const occurred =
      event === DURATION_WARNING ? warningOccurrence(job, events) : statusOccurrence(job, event, events);
    // A warning's delivery is recorded under the status the job was in.
    const status = event === DURATION_WARNING ? job.status : event;
    const id = webhookId(jobId, event, occurred.occurrence);
    const attempt =
      1 + events.filter((item) => item.type === 'WEBHOOK' && item.detail?.webhookId === id).length;
    const body = JSON.stringify(webhookPayload(job, event, occurred));
    const sentAt = clock();
    const response = await this.#send(job, event, { url, id, body, sentAt });
    const outcome = deliveryOutcome(response);
    await jobs.recordDelivery({
      jobId,
      at: sentAt.toISOString(),
      type: 'WEBHOOK',
      status,
      detail: {
        webhookId: id,
        eventType: webhookEventType(event),
        attempt,
        outcome,
        durationMs: Math.round(response.durationMs),
        ...(response.outcome === 'response'
          ? { statusCode: response.statusCode }
          : { error: response.error }),
      },
    });
    return this.#settle(response, outcome, { jobId, status: event, webhookId: id, attempt, sentAt });
  }

  /** The job and its webhook, when its owner subscribed to the status and the receiver has not answered 410. */
  async #subscribedJob(
    jobId: string,
    status: NotificationEvent,
  ): Promise<
    { readonly job: WebhookJob; readonly url: string } | Extract<NotifyResult, { skipped: unknown }>
  > {
    const { jobs, logger } = this.#deps;
    const job: WebhookJob | undefined = await jobs.getJob(jobId);
    if (!job) {
      logger.warn('webhook for an unknown job', { jobId, status });
      return { delivered: false, skipped: 'unknown-job' };
    }
    const notifications = job.spec.notifications;
    if (!notifications?.events.includes(status)) {
      return { delivered: false, skipped: 'not-subscribed' };
    }
    if (!isSubscribed(job, status)) {
      logger.info('webhook disabled by a 410; not sent', {
        jobId,
        status,
        disabledAt: job.webhookDisabledAt,
      });
      return { delivered: false, skipped: 'disabled' };
    }
    return { job, url: notifications.webhook };
  }

  async #send(
    job: WebhookJob,
    status: NotificationEvent,
    message: { readonly url: string; readonly id: string; readonly body: string; readonly sentAt: Date },
  ): Promise<WebhookResponse> {
    const { sender, secrets, logger } = this.#deps;
    const { url, id, body, sentAt } = message;
    try {
      const secret = await secrets.secretFor(job.pool);
      return await sender.send({ url, id, timestamp: sentAt, body, secret });
    } catch (error) {
      // Nothing was sent (the pool's secret could not be read): a failed attempt, tried again later.
      logger.error('webhook not sent', { jobId: job.jobId, status, webhookId: id, error: error as Error });
      return { outcome: 'failed', error: 'the signing secret could not be read', durationMs: 0 };
    }
  }

  /** What the attempt comes to once recorded: a result, a disabled subscription, or the error to retry. */
  async #settle(
    response: WebhookResponse,
    outcome: DeliveryOutcome,
    attempt: {
      readonly jobId: string;
      readonly status: NotificationEvent;
      readonly webhookId: string;
      readonly attempt: number;
      readonly sentAt: Date;
    },
  ): Promise<NotifyResult> {
    const { jobs, logger } = this.#deps;
    const { jobId, webhookId: id, sentAt } = attempt;
    const logged = { jobId, status: attempt.status, webhookId: id, attempt: attempt.attempt, outcome };
    if (response.outcome === 'refused') {
      logger.warn('webhook destination refused', { ...logged, error: response.error });
      throw new WebhookBlocked(jobId, id, response.error);
    }
    if (response.outcome === 'failed') {
      logger.warn('webhook not delivered', { ...logged, error: response.error });
      throw new WebhookDeliveryFailed(jobId, id, response.error);
    }
    if (outcome === 'delivered') {
      logger.info('webhook delivered', { ...logged, statusCode: response.statusCode });
      return { delivered: true, statusCode: response.statusCode, webhookId: id };
    }
    if (outcome === 'gone') {
      await jobs.disableWebhook(jobId, sentAt.toISOString());
      logger.info('webhook answered 410; later events are not sent', logged);
      return { delivered: false, statusCode: 410, webhookId: id, disabled: true };
    }
    logger.warn('webhook not delivered', { ...logged, statusCode: response.statusCode });
    throw new WebhookDeliveryFailed(jobId, id, `HTTP ${response.statusCode}`, response.statusCode);
  }
}

/** Only 2xx is delivered; 410 is gone; a destination the guard refused is blocked. */
function deliveryOutcome(response: WebhookResponse): DeliveryOutcome {
  if (response.outcome === 'refused') return 'blocked';
  if (response.outcome === 'failed') return 'failed';
  if (response.statusCode >= 200 && response.statusCode < 300) return 'delivered';
  if (response.statusCode === 410) return 'gone';
  return 'failed';
}
