import { randomUUID } from 'node:crypto';
import { regionOfEndpoint, type SigningCredentials } from './sigv4.ts';
import { type Auth, authorize, describeRefusal, networkError } from './transport.ts';
import type {
  ApiJobEvent,
  CancelResult,
  EventsAnswer,
  JobPage,
  JobRequestInput,
  JobStatus,
  ListQuery,
  PoolsAnswer,
  Problem,
  Progress,
  Reason,
  RerunAnswer,
  RerunOverrides,
  StatusView,
  SubmitAnswer,
  UsageQuery,
  UsageReport,
} from './types.ts';

export { regionOfEndpoint, type SigningCredentials } from './sigv4.ts';
export type { Auth } from './transport.ts';
export type * from './types.ts';

export const JOBS_PATH = '/api/v1/spark/jobs';
export const TERMINAL: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT'];

/** The API refused a request (4xx, or a 5xx left after retries): its problem, said in one line. */
export class LibraApiError extends Error {
  override readonly name = 'LibraApiError';
  readonly status: number;
  readonly problem: Problem | undefined;
  readonly body: string;

  constructor(method: string, path: string, status: number, body: string, retryAfter?: string | null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    const wait = retryAfter ? ` (Retry-After: ${retryAfter} s)` : '';
    super(`${method} ${path}: ${describeRefusal(status, parsed, body)}${wait}`);
    this.status = status;
    this.problem = parsed !== null && typeof parsed === 'object' ? (parsed as Problem) : undefined;
    this.body = body;
  }
}

/** No answer came: the endpoint cannot be reached, or did not answer in time (after retries where safe). */
export class LibraConnectionError extends Error {
  override readonly name = 'LibraConnectionError';
}

/** The auth a client is built with: the IAM mode's region and credentials may be left to AWS's defaults. */
export type AuthOptions =
  | { readonly mode: 'local'; readonly user?: string }
  | { readonly mode: 'jwt'; readonly token: string }
  | {
      readonly mode: 'iam';
      /** Default: the endpoint's own region (`<id>.execute-api.<region>.amazonaws.com`), then AWS_REGION. */
      readonly region?: string;
      /** Default: the AWS SDK's default credential chain (env, AWS_PROFILE/`profile`, SSO, IMDS, …). */
      readonly credentials?: () => Promise<SigningCredentials>;
      readonly profile?: string;
    };

export interface RetryOptions {
  /** Retries after the first try. */
  readonly retries: number;
  /** The first backoff; doubled each retry, with full jitter. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** The longest `Retry-After` honoured; longer ones give up at once. */
  readonly maxRetryAfterMs: number;
}

export interface LibraClientOptions {
  /** The API's base URL: the stack's `ApiUrl` output, or the local runtime's `http://127.0.0.1:8080`. */
  readonly endpoint: string | URL;
  readonly auth?: AuthOptions;
  readonly retry?: Partial<RetryOptions>;
  /** The longest one request may take. */
  readonly requestTimeoutMs?: number;
  readonly fetch?: typeof fetch;
}

const DEFAULT_RETRY: RetryOptions = {
  retries: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
};

/**
 * What may be sent again when no answer, a 5xx or a 429 came: reads always; a submit, because it
 * carries an Idempotency-Key; a cancel only on 429 (nothing was done), since it is not a read.
 */
type RetryClass = 'read' | 'submit' | 'once';

export interface SubmitOptions {
  /** The key of this logical submit; generated when absent, and the same on every retry of it. */
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

/** One step of a job's progress while it is waited for. */
export interface JobMove {
  /**
   * `status`: the job moved (one per history item); `queue`: its place in the queue changed;
   * `progress`: its progress changed (stages, tasks or fraction) while it runs.
   */
  readonly kind: 'status' | 'queue' | 'progress';
  readonly status: JobStatus;
  readonly from?: JobStatus;
  /** When the move happened (server time). */
  readonly at: string;
  /** From the submit to this move. */
  readonly elapsedMs: number;
  readonly attempt?: number;
  readonly reason?: Reason;
  /** While QUEUED: 1 is next. */
  readonly queuePosition?: number;
  /** How far the run has got, when its driver reports it (on every move the job carries it). */
  readonly progress?: Progress;
  /** The job as last read: on the final move, its reason and output links. */
  readonly job: StatusView;
  /** True on the move to SUCCEEDED, FAILED, CANCELLED or TIMEOUT: the iterator ends after it. */
  readonly final: boolean;
}

export interface WaitOptions {
  /** Between two reads of the job's status. */
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/**
 * The Libra API, typed: every route, the three auth modes, retries where they are safe, and
 * `waitFor` to follow a job to its end.
 */
export class LibraClient {
  readonly endpoint: URL;
  readonly #auth: Auth;
  readonly #retry: RetryOptions;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: LibraClientOptions) {
    this.endpoint = new URL(options.endpoint);
    if (this.endpoint.protocol !== 'http:' && this.endpoint.protocol !== 'https:') {
      throw new TypeError(`the endpoint must be an http(s) URL, not ${this.endpoint.href}`);
    }
    this.#auth = resolveAuth(options.auth ?? { mode: 'local' }, this.endpoint);
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    // Called as a method of this client, the browser's own fetch throws "Illegal invocation".
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Submits a job: 202 at once, with its id. Retried safely: the same Idempotency-Key goes with every try. */
  async submit(request: JobRequestInput, options: SubmitOptions = {}): Promise<SubmitAnswer> {
    const key = options.idempotencyKey ?? `libra-${randomUUID()}`;
    return this.#json<SubmitAnswer>('POST', `${JOBS_PATH}/submit`, 'submit', {
      body: JSON.stringify(request),
      headers: { 'idempotency-key': key },
      signal: options.signal,
    });
  }

  /**
   * Re-runs a finished job: a new job with its request, the fields of `overrides` changed. Retried
   * safely as a submit is: the same Idempotency-Key goes with every try.
   */
  async rerun(
    jobId: string,
    overrides: RerunOverrides = {},
    options: SubmitOptions = {},
  ): Promise<RerunAnswer> {
    const key = options.idempotencyKey ?? `libra-${randomUUID()}`;
    return this.#json<RerunAnswer>('POST', `${JOBS_PATH}/${encodeURIComponent(jobId)}/rerun`, 'submit', {
      body: JSON.stringify(overrides),
      headers: { 'idempotency-key': key },
      signal: options.signal,
    });
  }

  async status(jobId: string, options: CallOptions = {}): Promise<StatusView> {
    return this.#json('GET', `${JOBS_PATH}/${encodeURIComponent(jobId)}`, 'read', options);
  }

  async events(jobId: string, options: CallOptions = {}): Promise<EventsAnswer> {
    return this.#json('GET', `${JOBS_PATH}/${encodeURIComponent(jobId)}/events`, 'read', options);
  }

  /** One page of the caller's jobs, newest first. */
  async list(query: ListQuery = {}, options: CallOptions = {}): Promise<JobPage> {
    return this.#json('GET', `${JOBS_PATH}${queryString(query)}`, 'read', options);
  }

  /** Every page of the caller's jobs, following `nextToken`. */
  async *pages(query: ListQuery = {}, options: CallOptions = {}): AsyncGenerator<JobPage> {
    let nextToken = query.nextToken;
    do {
      const page = await this.list({ ...query, ...(nextToken !== undefined && { nextToken }) }, options);
      yield page;
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
  }

  async cancel(jobId: string, options: CallOptions = {}): Promise<CancelResult> {
    return this.#json('DELETE', `${JOBS_PATH}/${encodeURIComponent(jobId)}`, 'once', options);
  }

  async pools(options: CallOptions = {}): Promise<PoolsAnswer> {
    return this.#json('GET', '/api/v1/spark/pools', 'read', options);
  }

  /** Usage and cost totals of the runs that ended in a period, by owner, pool or tag (admins: everyone's). */
  async usage(query: UsageQuery = {}, options: CallOptions = {}): Promise<UsageReport> {
    return this.#json('GET', `/api/v1/spark/usage${queryString(query)}`, 'read', options);
  }

  /** The API's OpenAPI document, as the deployment serves it. */
  async openapi(options: CallOptions = {}): Promise<unknown> {
    return this.#json('GET', '/api/v1/openapi.json', 'read', options);
  }

  /**
   * The text behind a link of a job's status (locally its stdout and stderr). This client's auth
   * goes only to its own endpoint: a link elsewhere (another host, or the runtime behind a proxy)
   * is read without it.
   */
  async fetchLink(link: string, options: CallOptions = {}): Promise<string> {
    const url = new URL(link);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new LibraConnectionError(`cannot read ${link}: not an http(s) link`);
    }
    const answer = await this.#send('GET', url, 'read', {
      signal: options.signal,
      anonymous: url.origin !== this.endpoint.origin,
    });
    if (answer.status !== 200) throw new LibraApiError('GET', url.pathname, answer.status, answer.text);
    return answer.text;
  }

  /**
   * The job's progress, as it happens: each status move from its history in order (with the
   * elapsed time since the submit), and its queue position whenever that changes. Ends after the
   * final move, which carries the job's reason and links. Aborting the signal ends the iteration
   * with the signal's reason; the job itself is left as it is.
   */
  async *waitFor(jobId: string, options: WaitOptions = {}): AsyncGenerator<JobMove> {
    const interval = options.intervalMs ?? 1_000;
    const signal = options.signal;
    let seen = 0;
    let lastStatus: JobStatus | undefined;
    let lastPosition: number | undefined;
    let lastProgress: Progress | undefined;
    let terminalWithoutHistory = 0;
    for (;;) {
      let job = await this.status(jobId, { signal });
      if (job.status !== lastStatus) {
        const moves = (await this.events(jobId, { signal })).events.filter(
          (event): event is ApiJobEvent & { status: JobStatus } =>
            event.type === 'STATUS' && event.status !== undefined,
        );
        for (const event of moves.slice(seen)) {
          seen++;
          const final = TERMINAL.includes(event.status);
          // History may be ahead of the status read just before it: the final move carries the final view.
          if (final && !TERMINAL.includes(job.status)) job = await this.status(jobId, { signal });
          lastStatus = event.status;
          yield {
            kind: 'status',
            status: event.status,
            ...(event.from !== undefined && { from: event.from }),
            at: event.at,
            elapsedMs: elapsedSince(job.submittedAt, event.at),
            ...(event.attempt !== undefined && { attempt: event.attempt }),
            ...(event.reason !== undefined && { reason: event.reason }),
            ...(event.status === 'QUEUED' &&
              job.status === 'QUEUED' &&
              job.queuePosition !== undefined && { queuePosition: job.queuePosition }),
            ...(job.progress !== undefined && { progress: job.progress }),
            job,
            final,
          };
          lastProgress = job.progress;
          if (event.status === 'QUEUED') lastPosition = job.queuePosition;
          if (final) return;
        }
        // A final record whose history item never came (a crash between the two writes): end on the record.
        if (TERMINAL.includes(job.status) && ++terminalWithoutHistory >= 3) {
          const at = job.completedAt ?? job.cancelledAt ?? new Date().toISOString();
          yield {
            kind: 'status',
            status: job.status,
            ...(lastStatus !== undefined && { from: lastStatus }),
            at,
            elapsedMs: elapsedSince(job.submittedAt, at),
            ...(job.reason !== undefined && { reason: job.reason }),
            ...(job.progress !== undefined && { progress: job.progress }),
            job,
            final: true,
          };
          return;
        }
      }
      if (
        job.progress !== undefined &&
        !TERMINAL.includes(job.status) &&
        progressChanged(lastProgress, job.progress)
      ) {
        lastProgress = job.progress;
        yield {
          kind: 'progress',
          status: job.status,
          at: job.progress.updatedAt,
          elapsedMs: elapsedSince(job.submittedAt, job.progress.updatedAt),
          progress: job.progress,
          job,
          final: false,
        };
      }
      if (job.status === 'QUEUED' && lastStatus === 'QUEUED' && job.queuePosition !== lastPosition) {
        lastPosition = job.queuePosition;
        const at = new Date().toISOString();
        yield {
          kind: 'queue',
          status: 'QUEUED',
          at,
          elapsedMs: elapsedSince(job.submittedAt, at),
          ...(job.queuePosition !== undefined && { queuePosition: job.queuePosition }),
          job,
          final: false,
        };
      }
      await sleep(interval, signal);
    }
  }

  async #json<T>(
    method: string,
    path: string,
    retry: RetryClass,
    options: { body?: string; headers?: Record<string, string>; signal?: AbortSignal | undefined },
  ): Promise<T> {
    const url = this.#url(path);
    const answer = await this.#send(method, url, retry, options);
    if (answer.status >= 400) {
      const retryAfter = answer.status === 429 ? answer.headers.get('retry-after') : undefined;
      throw new LibraApiError(method, url.pathname, answer.status, answer.text, retryAfter);
    }
    try {
      return JSON.parse(answer.text) as T;
    } catch {
      throw new LibraApiError(method, url.pathname, answer.status, answer.text);
    }
  }

  /** `path` is taken below the endpoint's own path (an API stage has one). */
  #url(path: string): URL {
    const base = this.endpoint.href.endsWith('/') ? this.endpoint.href : `${this.endpoint.href}/`;
    return new URL(path.replace(/^\//, ''), base);
  }

  async #send(
    method: string,
    url: URL,
    retry: RetryClass,
    options: {
      body?: string;
      headers?: Record<string, string>;
      signal?: AbortSignal | undefined;
      anonymous?: boolean;
    },
  ): Promise<Answer> {
    const { body, signal } = options;
    for (let attempt = 0; ; attempt++) {
      const retriesLeft = attempt < this.#retry.retries;
      const plain: Record<string, string> = {
        accept: 'application/json',
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...options.headers,
      };
      // Signed again on every try: a SigV4 signature holds its time.
      const headers = options.anonymous
        ? plain
        : await authorize({ method, url, headers: plain, ...(body !== undefined && { body }) }, this.#auth);
      let response: Response;
      try {
        const timeout = AbortSignal.timeout(this.#timeoutMs);
        response = await this.#fetch(url, {
          method,
          headers,
          ...(body !== undefined && { body }),
          redirect: 'manual',
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (retry !== 'once' && retriesLeft) {
          await sleep(this.#backoff(attempt), signal);
          continue;
        }
        throw new LibraConnectionError(
          `${method} ${url.pathname}: ${networkError(error, url, this.#timeoutMs)}`,
        );
      }
      const text = await response.text();
      const status = response.status;
      const retryable = status === 429 || (retry !== 'once' && status >= 500);
      if (retryable && retriesLeft) {
        const wait = retryAfterMs(response.headers.get('retry-after'));
        if (wait === undefined || wait <= this.#retry.maxRetryAfterMs) {
          await sleep(wait ?? this.#backoff(attempt), signal);
          continue;
        }
      }
      return { status, headers: response.headers, text };
    }
  }

  /** Exponential backoff with full jitter. */
  #backoff(attempt: number): number {
    const ceiling = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** attempt);
    return Math.round(Math.random() * ceiling);
  }
}

function resolveAuth(options: AuthOptions, endpoint: URL): Auth {
  switch (options.mode) {
    case 'local':
      return { mode: 'local', user: options.user ?? 'local-user' };
    case 'jwt':
      if (!options.token) throw new TypeError('jwt auth needs a token');
      return { mode: 'jwt', token: options.token };
    case 'iam': {
      const region =
        options.region ??
        regionOfEndpoint(endpoint) ??
        process.env.AWS_REGION ??
        process.env.AWS_DEFAULT_REGION;
      if (!region) {
        throw new TypeError(
          `iam auth needs a region: ${endpoint.host} names none; give one, or set AWS_REGION`,
        );
      }
      return { mode: 'iam', region, credentials: options.credentials ?? defaultCredentials(options.profile) };
    }
  }
}

/** The AWS SDK's default credential chain, loaded only when IAM auth is used, resolved and refreshed by the SDK. */
function defaultCredentials(profile: string | undefined): () => Promise<SigningCredentials> {
  let provider: Promise<() => Promise<SigningCredentials>> | undefined;
  return async () => {
    provider ??= import('@aws-sdk/credential-provider-node').then(({ defaultProvider }) =>
      defaultProvider(profile !== undefined ? { profile } : {}),
    );
    return (await provider)();
  };
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
/** `?name=value&…` of the query's defined fields, or '' when it has none. */
function queryString(query: object): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) params.set(name, String(value));
  }
  return params.size > 0 ? `?${params}` : '';
}

export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Whether the counts or the fraction moved; a new report of the same values is no change. */
function progressChanged(before: Progress | undefined, now: Progress): boolean {
  return (
    before === undefined ||
    before.stagesDone !== now.stagesDone ||
    before.stagesTotal !== now.stagesTotal ||
    before.tasksDone !== now.tasksDone ||
    before.tasksTotal !== now.tasksTotal ||
    before.fraction !== now.fraction
  );
}

function elapsedSince(from: string, to: string): number {
  return Math.max(0, Date.parse(to) - Date.parse(from));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
