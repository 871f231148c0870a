import { type Answer, describeAnswer, type LibraClient, SmokeError } from './client.ts';
import type { Delivery, WebhookReceiver } from './receiver.ts';

export type Outcome = 'PASS' | 'FAIL' | 'SKIP';

/** One row of the smoke's table. */
export interface CheckResult {
  readonly check: string;
  readonly outcome: Outcome;
  readonly durationMs: number;
  readonly detail: string;
}

export const CHECKS = {
  api: 'api: list pools',
  sql: 'sql: SELECT 1',
  python: 'python: hello',
  cancel: 'cancel: long job',
  webhook: 'webhook: signed delivery',
} as const;

/** The seed's Python example, and what it prints. */
export const PYTHON_CODE = 'print("Hello from async Spark!")';
export const PYTHON_OUTPUT = 'Hello from async Spark!';
/** Sleeps far longer than any smoke waits; its run timeout bounds what a failed cancel would cost. */
export const LONG_CODE = 'import time\ntime.sleep(3600)';
const LONG_TIMEOUT_MINUTES = 30;

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
/** A run's own final states on EMR Serverless (SUCCESS), EMR on EKS (COMPLETED) and the local engine. */
const RUN_FINAL = new Set(['SUCCESS', 'COMPLETED', 'FAILED', 'CANCELLED']);
const WEBHOOK_EVENTS = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'];

export interface SmokeOptions {
  readonly client: LibraClient;
  /** The longest the smoke waits for any one thing: a job to end, a run to start, a delivery. */
  readonly timeoutMs: number;
  /** The pool the smoke's jobs go to; the default pool when absent. */
  readonly pool?: string;
  /** Where the smoke's SQL job delivers its webhook; the webhook check is skipped without it. */
  readonly receiver?: WebhookReceiver;
  /** First and longest pause between two status reads. */
  readonly poll?: { readonly firstMs: number; readonly maxMs: number };
  /** Told about each step as it happens: a deployed smoke takes minutes. */
  readonly progress?: (line: string) => void;
  /** Told each job the smoke submits, so that an interrupted smoke can cancel what it started. */
  readonly submitted?: (jobId: string) => void;
}

/** A check's failure, said in one line. */
class CheckFailed extends Error {}

// biome-ignore lint/suspicious/noExplicitAny: a job's status view, read field by field
type JobView = any;

/**
 * Runs every check against a Libra API and returns one row per check: the API answers, a SQL and a
 * Python job succeed with their output, a long job is cancelled and its run stopped, and (given a
 * receiver) a signed webhook arrives and verifies. The jobs run side by side.
 */
export async function runSmoke(options: SmokeOptions): Promise<CheckResult[]> {
  const smoke = new Smoke(options);
  const api = await timed(CHECKS.api, () => smoke.api());
  if (api.outcome === 'FAIL') {
    const notRun = (check: string): CheckResult => ({
      check,
      outcome: 'FAIL',
      durationMs: 0,
      detail: `not run: ${CHECKS.api} failed`,
    });
    return [
      api,
      notRun(CHECKS.sql),
      notRun(CHECKS.python),
      notRun(CHECKS.cancel),
      options.receiver ? notRun(CHECKS.webhook) : skipWebhook(),
    ];
  }
  let sqlJob: (jobId: string | undefined) => void = () => undefined;
  const sqlJobId = new Promise<string | undefined>((resolve) => {
    sqlJob = resolve;
  });
  const rows = await Promise.all([
    timed(CHECKS.sql, () => smoke.sql(sqlJob)).finally(() => sqlJob(undefined)),
    timed(CHECKS.python, () => smoke.python()),
    timed(CHECKS.cancel, () => smoke.cancel()),
    options.receiver
      ? timed(CHECKS.webhook, () => smoke.webhook(sqlJobId, options.receiver as WebhookReceiver))
      : Promise.resolve(skipWebhook()),
  ]);
  return [api, ...rows];
}

function skipWebhook(): CheckResult {
  return { check: CHECKS.webhook, outcome: 'SKIP', durationMs: 0, detail: 'no --webhook-receiver given' };
}

async function timed(check: string, run: () => Promise<string>): Promise<CheckResult> {
  const started = performance.now();
  try {
    const detail = await run();
    return { check, outcome: 'PASS', durationMs: performance.now() - started, detail };
  } catch (error) {
    const detail =
      error instanceof CheckFailed || error instanceof SmokeError
        ? error.message
        : `unexpected error: ${(error as Error).message}`;
    return { check, outcome: 'FAIL', durationMs: performance.now() - started, detail: oneLine(detail) };
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

class Smoke {
  readonly #client: LibraClient;
  readonly #options: SmokeOptions;
  readonly #tag = `smoke-${Date.now().toString(36)}`;

  constructor(options: SmokeOptions) {
    this.#client = options.client;
    this.#options = options;
  }

  async api(): Promise<string> {
    const answer = await this.#client.request('GET', '/api/v1/spark/pools');
    if (answer.status !== 200 || !Array.isArray(answer.body?.pools))
      throw new CheckFailed(`GET /api/v1/spark/pools: ${describeAnswer(answer)}${gatewayHint(answer)}`);
    const names = (answer.body.pools as { name: string }[]).map((pool) => pool.name);
    const pool = this.#options.pool ?? 'default';
    if (!names.includes(pool))
      throw new CheckFailed(`pool ${pool} is not among the caller's pools (${names.join(', ') || 'none'})`);
    return `pools: ${names.join(', ')}`;
  }

  async sql(submitted: (jobId: string) => void): Promise<string> {
    const receiver = this.#options.receiver;
    const jobId = await this.#submit({
      code: 'SELECT 1',
      kind: 'sql',
      name: 'libra-smoke-sql',
      ...(receiver && { notifications: { webhook: receiver.url, events: WEBHOOK_EVENTS } }),
    });
    submitted(jobId);
    const job = await this.#succeeded(jobId);
    const result = job.links?.result;
    if (typeof result === 'string' && this.#client.serves(result)) {
      const preview = await this.#read(result);
      const rows = (preview.body as { rows?: unknown[][] } | undefined)?.rows;
      const value = Array.isArray(rows) && rows.length === 1 && Array.isArray(rows[0]) ? rows[0] : undefined;
      if (value?.length !== 1 || value[0] !== 1)
        throw new CheckFailed(`${jobId} SUCCEEDED but its result is ${oneLine(preview.text).slice(0, 120)}`);
      return `${jobId} SUCCEEDED; result 1`;
    }
    return `${jobId} SUCCEEDED${this.#outputNote(job)}`;
  }

  async python(): Promise<string> {
    const jobId = await this.#submit({ code: PYTHON_CODE, kind: 'python', name: 'libra-smoke-python' });
    const job = await this.#succeeded(jobId);
    const stdout = job.links?.stdout;
    if (typeof stdout === 'string' && this.#client.serves(stdout)) {
      const output = await this.#read(stdout);
      if (output.text.trim() !== PYTHON_OUTPUT)
        throw new CheckFailed(`${jobId} SUCCEEDED but printed ${JSON.stringify(output.text.slice(0, 120))}`);
      return `${jobId} SUCCEEDED; printed "${PYTHON_OUTPUT}"`;
    }
    return `${jobId} SUCCEEDED${this.#outputNote(job)}`;
  }

  async cancel(): Promise<string> {
    const jobId = await this.#submit({
      code: LONG_CODE,
      kind: 'python',
      name: 'libra-smoke-cancel',
      timeoutMinutes: LONG_TIMEOUT_MINUTES,
    });
    // Cancelled once its run exists, so that the cancel has a run to stop, not just a queue entry.
    const running = await this.#waitFor(
      jobId,
      (job) => FINAL.has(job.status) || (job.status === 'RUNNING' && job.run?.id !== undefined),
      'to be RUNNING with a run',
    );
    if (FINAL.has(running.status))
      throw new CheckFailed(
        `${jobId} ended ${running.status} before it could be cancelled${reasonOf(running)}`,
      );
    this.#options.progress?.(`${CHECKS.cancel}: cancelling ${jobId} (run ${running.run.id})`);
    const answer = await this.#client.request('DELETE', `/api/v1/spark/jobs/${jobId}`);
    if (answer.status !== 202 || answer.body?.status !== 'CANCELLING')
      throw new CheckFailed(`DELETE ${jobId}: expected 202 CANCELLING, got ${describeAnswer(answer)}`);
    const ended = await this.#waitFor(jobId, (job) => FINAL.has(job.status), 'to end');
    if (ended.status !== 'CANCELLED' || ended.reason?.code !== 'CANCELLED_BY_USER')
      throw new CheckFailed(`${jobId} ended ${ended.status}${reasonOf(ended)}, not CANCELLED by the smoke`);
    // The job's end is Libra's word; the run's own final state says the backend really stopped it.
    const stopped = await this.#waitFor(jobId, (job) => RUN_FINAL.has(job.run?.state), "'s run to end");
    if (stopped.run.state !== 'CANCELLED')
      throw new CheckFailed(`${jobId} is CANCELLED but its run ${stopped.run.id} ended ${stopped.run.state}`);
    return `${jobId} CANCELLED; run ${stopped.run.id} CANCELLED`;
  }

  async webhook(sqlJobId: Promise<string | undefined>, receiver: WebhookReceiver): Promise<string> {
    const jobId = await sqlJobId;
    if (jobId === undefined) throw new CheckFailed(`not run: ${CHECKS.sql} submitted no job`);
    const delivery = await receiver.next((received) => jobIdOf(received) === jobId, this.#options.timeoutMs);
    if (!delivery)
      throw new CheckFailed(
        `no delivery for ${jobId} at ${receiver.url} within ${seconds(this.#options.timeoutMs)}` +
          (receiver.deliveries.length > 0 ? ` (${receiver.deliveries.length} other requests came)` : ''),
      );
    if (delivery.rejected !== undefined)
      throw new CheckFailed(`the delivery for ${jobId} did not verify with the secret: ${delivery.rejected}`);
    const payload = delivery.payload as { type?: string; data?: { status?: string } };
    const status = payload.data?.status ?? '';
    if (!FINAL.has(status) || payload.type !== `job.${status.toLowerCase()}`)
      throw new CheckFailed(`the delivery for ${jobId} is ${oneLine(delivery.body).slice(0, 120)}`);
    // The job's history records the same delivery, by its id, as delivered.
    const recorded = await this.#until(async () => {
      const answer = await this.#client.request('GET', `/api/v1/spark/jobs/${jobId}/events`);
      if (answer.status !== 200) throw new CheckFailed(`GET ${jobId}/events: ${describeAnswer(answer)}`);
      const events = (answer.body?.events ?? []) as {
        type?: string;
        detail?: { webhookId?: string; outcome?: string };
      }[];
      return events.find(
        (event) => event.type === 'WEBHOOK' && event.detail?.webhookId === delivery.webhookId,
      );
    }, `the history of ${jobId} to record webhook ${delivery.webhookId}`);
    if (recorded.detail?.outcome !== 'delivered')
      throw new CheckFailed(
        `the history of ${jobId} records webhook ${delivery.webhookId} as ${recorded.detail?.outcome}`,
      );
    return `${payload.type} for ${jobId}, signature verified, recorded delivered`;
  }

  async #submit(request: Record<string, unknown>): Promise<string> {
    const body = {
      ...request,
      tags: { 'libra-smoke': this.#tag },
      ...(this.#options.pool !== undefined && { pool: this.#options.pool }),
    };
    const answer = await this.#client.request('POST', '/api/v1/spark/jobs/submit', body);
    const jobId = answer.body?.jobId;
    if (answer.status !== 202 || typeof jobId !== 'string')
      throw new CheckFailed(`submit: expected 202 with a job id, got ${describeAnswer(answer)}`);
    this.#options.submitted?.(jobId);
    this.#options.progress?.(`${request.name}: submitted ${jobId}`);
    return jobId;
  }

  async #succeeded(jobId: string): Promise<JobView> {
    const job = await this.#waitFor(jobId, (view) => FINAL.has(view.status), 'to end');
    if (job.status !== 'SUCCEEDED') throw new CheckFailed(`${jobId} ended ${job.status}${reasonOf(job)}`);
    return job;
  }

  /** Reads the job's status until `done` holds; fails on an unexpected answer or after the timeout. */
  async #waitFor(jobId: string, done: (job: JobView) => boolean, what: string): Promise<JobView> {
    let last: JobView;
    try {
      return await this.#until(async () => {
        const answer = await this.#client.request('GET', `/api/v1/spark/jobs/${jobId}`);
        if (answer.status !== 200) throw new CheckFailed(`GET ${jobId}: ${describeAnswer(answer)}`);
        last = answer.body;
        return done(last) ? last : undefined;
      }, `${jobId} ${what}`);
    } catch (error) {
      if (error instanceof TimedOut && last !== undefined)
        throw new CheckFailed(
          `${error.message}; it is ${last.status}${last.run?.state ? ` (run ${last.run.state})` : ''}`,
        );
      throw error;
    }
  }

  /** Calls `read` until it returns something, pausing longer each time, for at most the timeout. */
  async #until<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
    const { firstMs, maxMs } = this.#options.poll ?? { firstMs: 200, maxMs: 5000 };
    const deadline = performance.now() + this.#options.timeoutMs;
    let pause = firstMs;
    for (;;) {
      const found = await read();
      if (found !== undefined) return found;
      const left = deadline - performance.now();
      if (left <= 0) throw new TimedOut(`waited ${seconds(this.#options.timeoutMs)} for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      pause = Math.min(maxMs, pause * 1.5);
    }
  }

  async #read(link: string): Promise<Answer> {
    const answer = await this.#client.request('GET', new URL(link));
    if (answer.status !== 200) throw new CheckFailed(`GET ${link}: ${describeAnswer(answer)}`);
    return answer;
  }

  /** Deployed, the output is in S3 and the EMR console, which the smoke does not read: it says where. */
  #outputNote(job: JobView): string {
    const where = job.links?.logs ?? job.links?.console;
    return typeof where === 'string' ? `; output not served by the API, logs at ${where}` : '';
  }
}

class TimedOut extends CheckFailed {}

/**
 * API Gateway answers a refused signature or token itself, with `{"message": …}` rather than
 * Libra's problem document: say what to look at.
 */
function gatewayHint(answer: Answer): string {
  if (answer.body?.type !== undefined || typeof answer.body?.message !== 'string') return '';
  if (answer.status === 403)
    return ' (API Gateway refused the signature: check the region, the credentials and execute-api:Invoke)';
  if (answer.status === 401)
    return " (API Gateway refused the token: check it is the issuer's, for the configured audience, not expired)";
  return '';
}

function reasonOf(job: JobView): string {
  return job.reason ? ` (${job.reason.code}: ${job.reason.message})` : '';
}

function jobIdOf(delivery: Delivery): string | undefined {
  try {
    const body = JSON.parse(delivery.body) as { data?: { jobId?: unknown } };
    return typeof body.data?.jobId === 'string' ? body.data.jobId : undefined;
  } catch {
    return undefined;
  }
}
