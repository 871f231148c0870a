import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { DynamoPoolStore } from '#adapters/dynamo-pool-store.ts';
import { DynamoUsageLedger } from '#adapters/dynamo-usage-ledger.ts';
import { composeApi } from '#compose/api.ts';
import { finalizeStoppedBy } from '#compose/cancel.ts';
import { composeRerun } from '#compose/rerun.ts';
import { type LibraConfig, parseConfig } from '#core/config.ts';
import { Finalizer } from '#core/finalizer.ts';
import { JobEnder } from '#core/job-ender.ts';
import { newJobId } from '#core/job-record.ts';
import type {
  Clock,
  IntakeMessage,
  IntakeQueue,
  JobNotifier,
  JobStore,
  SparkRunControl,
  WorkflowControl,
} from '#core/ports.ts';
import type { ApiDeps } from '#handlers/api-deps.ts';
import { createCancelJobHandler } from '#handlers/cancel-job.ts';
import { createGetJobHandler } from '#handlers/get-job.ts';
import { createGetUsageHandler } from '#handlers/get-usage.ts';
import type { HttpEvent, HttpResult } from '#handlers/http.ts';
import { createListJobEventsHandler } from '#handlers/list-job-events.ts';
import { createListJobsHandler } from '#handlers/list-jobs.ts';
import { createRerunJobHandler } from '#handlers/rerun-job.ts';
import { createSubmitJobHandler } from '#handlers/submit-job.ts';
import { InMemoryMetrics } from '../../local/metrics.ts';
import { checkAnswer } from './contract.ts';
import type { TestDatabase } from './dynalite.ts';
import { lambdaContext } from './lambda-entries.ts';

/**
 * Drives the real API handlers (middy and all) with API Gateway HTTP API v2 events built
 * from the JSON fixtures in test/fixtures/events, each copied before a test changes it.
 */

export type FixtureName =
  | 'submit-job'
  | 'submit-job-jwt'
  | 'get-job'
  | 'list-jobs'
  | 'list-job-events'
  | 'cancel-job';

const fixtures = new Map<FixtureName, string>();

/** A fresh copy of a fixture event: tests may change it freely. */
export function fixture(name: FixtureName): HttpEvent {
  let text = fixtures.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`../fixtures/events/${name}.json`, import.meta.url), 'utf8');
    fixtures.set(name, text);
  }
  return JSON.parse(text) as HttpEvent;
}

/** A caller as the authorizer names it: an IAM principal ARN, or a JWT subject. */
export type Caller = string | { readonly jwtSub: string };

export function asCaller<E extends HttpEvent>(event: E, caller: Caller): E {
  event.requestContext.authorizer =
    typeof caller === 'string' ? { iam: { userArn: caller } } : { jwt: { claims: { sub: caller.jwtSub } } };
  return event;
}

export const iamCaller = (name: string) => `arn:aws:sts::123456789012:assumed-role/libra-test/${name}`;

export interface SubmitOptions {
  readonly idempotencyKey?: string;
  /** Sent as is instead of JSON.stringify(body). */
  readonly rawBody?: string;
  readonly contentType?: string | null;
  readonly base64?: boolean;
}

export function submitEvent(caller: Caller, body: unknown, options: SubmitOptions = {}): HttpEvent {
  const event = asCaller(fixture('submit-job'), caller);
  const text = options.rawBody ?? JSON.stringify(body);
  event.body = options.base64 ? Buffer.from(text, 'utf8').toString('base64') : text;
  event.isBase64Encoded = options.base64 ?? false;
  event.headers['content-length'] = String(Buffer.byteLength(event.body, 'utf8'));
  if (options.contentType === null) delete event.headers['content-type'];
  else if (options.contentType !== undefined) event.headers['content-type'] = options.contentType;
  if (options.idempotencyKey !== undefined) event.headers['Idempotency-Key'] = options.idempotencyKey;
  return event;
}

function jobEvent(name: 'get-job' | 'list-job-events' | 'cancel-job', caller: Caller, jobId: string) {
  const event = asCaller(fixture(name), caller);
  const template = event.pathParameters?.jobId ?? '';
  event.pathParameters = { jobId };
  event.rawPath = event.rawPath.replace(template, jobId);
  event.requestContext.http.path = event.rawPath;
  return event;
}

export const getEvent = (caller: Caller, jobId: string) => jobEvent('get-job', caller, jobId);
export const eventsEvent = (caller: Caller, jobId: string) => jobEvent('list-job-events', caller, jobId);
export const cancelEvent = (caller: Caller, jobId: string) => jobEvent('cancel-job', caller, jobId);

/** POST /api/v1/spark/jobs/{jobId}/rerun; no `body`: the request carries none. */
export function rerunEvent(
  caller: Caller,
  jobId: string,
  body?: unknown,
  options: SubmitOptions = {},
): HttpEvent {
  const event = submitEvent(caller, body ?? {}, options);
  if (body === undefined && options.rawBody === undefined) {
    delete event.body;
    delete event.headers['content-type'];
    delete event.headers['content-length'];
  }
  event.routeKey = 'POST /api/v1/spark/jobs/{jobId}/rerun';
  event.requestContext.routeKey = event.routeKey;
  event.rawPath = `/api/v1/spark/jobs/${jobId}/rerun`;
  event.requestContext.http.path = event.rawPath;
  event.pathParameters = { jobId };
  return event;
}

/** GET /api/v1/openapi.json, as API Gateway hands it on. */
export function openApiEvent(caller: Caller): HttpEvent {
  const event = listEvent(caller);
  event.routeKey = 'GET /api/v1/openapi.json';
  event.requestContext.routeKey = event.routeKey;
  event.rawPath = '/api/v1/openapi.json';
  event.requestContext.http.path = event.rawPath;
  return event;
}

/** GET /usage with its query, as API Gateway passes it. */
export function usageEvent(caller: Caller, query: Readonly<Record<string, string>> = {}): HttpEvent {
  const event = listEvent(caller, query);
  event.routeKey = 'GET /api/v1/spark/usage';
  event.requestContext.routeKey = event.routeKey;
  event.rawPath = '/api/v1/spark/usage';
  event.requestContext.http.path = event.rawPath;
  return event;
}

export function listEvent(caller: Caller, query: Readonly<Record<string, string>> = {}): HttpEvent {
  const event = asCaller(fixture('list-jobs'), caller);
  const params = new URLSearchParams(query);
  event.rawQueryString = params.toString();
  if (Object.keys(query).length === 0) delete event.queryStringParameters;
  else event.queryStringParameters = { ...query };
  return event;
}

/** A handler's answer with its JSON body parsed. */
export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  // biome-ignore lint/suspicious/noExplicitAny: a test reads whichever fields the route returns
  readonly body: any;
}

type Handler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

async function call(handler: Handler, functionName: string, event: HttpEvent): Promise<Reply> {
  const result = await handler(event, lambdaContext(functionName));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  // Every answer a test sees is one the OpenAPI document allows.
  checkAnswer({
    method: event.requestContext.http.method,
    path: event.rawPath,
    status: result.statusCode ?? 0,
    headers,
    body: result.body ?? '',
  });
  return {
    status: result.statusCode ?? 0,
    headers,
    body: result.body === undefined || result.body === '' ? undefined : JSON.parse(result.body),
  };
}

/** The five route handlers, each called the way Lambda calls it. */
export interface Api {
  readonly deps: ApiDeps;
  submit(event: HttpEvent): Promise<Reply>;
  get(event: HttpEvent): Promise<Reply>;
  list(event: HttpEvent): Promise<Reply>;
  events(event: HttpEvent): Promise<Reply>;
  cancel(event: HttpEvent): Promise<Reply>;
  rerun(event: HttpEvent): Promise<Reply>;
  usage(event: HttpEvent): Promise<Reply>;
}

export function apiOf(deps: ApiDeps): Api {
  const submit = createSubmitJobHandler(deps);
  const get = createGetJobHandler(deps);
  const list = createListJobsHandler(deps);
  const events = createListJobEventsHandler(deps);
  const cancel = createCancelJobHandler(deps);
  const rerun = createRerunJobHandler({ ...deps, ...composeRerun(deps) });
  const usage = createGetUsageHandler(deps);
  return {
    deps,
    submit: (event) => call(submit, 'libra-submit-job', event),
    get: (event) => call(get, 'libra-get-job', event),
    list: (event) => call(list, 'libra-list-jobs', event),
    events: (event) => call(events, 'libra-list-job-events', event),
    cancel: (event) => call(cancel, 'libra-cancel-job', event),
    rerun: (event) => call(rerun, 'libra-rerun-job', event),
    usage: (event) => call(usage, 'libra-get-usage', event),
  };
}

export const silentLogger = () => new Logger({ serviceName: 'libra-test', logLevel: 'SILENT' });

export function testConfig(raw: unknown = {}): LibraConfig {
  return parseConfig(raw);
}

/** An intake queue that keeps what it was sent. */
export class RecordingIntake implements IntakeQueue {
  readonly messages: IntakeMessage[] = [];

  async send(message: IntakeMessage): Promise<void> {
    this.messages.push(message);
  }
}

/**
 * No workflow runs in the API tests: a stop finds no execution, so a cancelled running job is
 * finalized at once, as it is in AWS when its execution is gone.
 */
export const NO_WORKFLOWS: WorkflowControl = { stop: async () => false, state: async () => undefined };
export const NO_RUNS: SparkRunControl = { cancelRun: async () => undefined };
export const NO_NOTIFIER: JobNotifier = { notify: async () => undefined };

/** The deployed wiring (composeApi) over the test database. */
export function composedApi(
  db: Pick<TestDatabase, 'documentClient' | 'tableName'>,
  config: LibraConfig = testConfig(),
  intake: IntakeQueue = new RecordingIntake(),
): Api {
  return apiOf(
    composeApi({
      documentClient: db.documentClient,
      tableName: db.tableName,
      config,
      logger: silentLogger(),
      metrics: new InMemoryMetrics(),
      intake,
      workflows: NO_WORKFLOWS,
      runs: NO_RUNS,
      notifier: NO_NOTIFIER,
      allowInsecureWebhooks: false,
    }),
  );
}

export interface ServiceApiOptions {
  readonly config?: LibraConfig;
  readonly clock?: Clock;
  /** Replaces the job store over `db`, e.g. with one that fails. */
  readonly store?: (store: JobStore) => JobStore;
  readonly intake?: IntakeQueue;
  /** Queue positions counted exactly before they are estimated (the service's default when absent). */
  readonly exactQueuePositions?: number;
}

/** The same handlers over use cases composed by hand, for a controlled clock or a failing store. */
export function serviceApi(db: TestDatabase, options: ServiceApiOptions = {}): Api {
  const config = options.config ?? testConfig();
  const store = new DynamoJobStore({
    client: db.documentClient,
    tableName: db.tableName,
    retentionDays: config.retention.days,
  });
  const pools = new DynamoPoolStore({ client: db.documentClient, tableName: db.tableName });
  const logger = silentLogger();
  const clock = options.clock ?? (() => new Date());
  const ledger = new DynamoUsageLedger({ client: db.documentClient, tableName: db.tableName, clock });
  const intake = options.intake ?? new RecordingIntake();
  const jobStore = options.store ? options.store(store) : store;
  const metrics = new InMemoryMetrics();
  const jobEnder = new JobEnder({
    jobs: jobStore,
    pools,
    intake,
    notifier: NO_NOTIFIER,
    clock,
    logger,
    metrics,
  });
  const finalizer = new Finalizer({ jobs: jobStore, jobEnder, runs: NO_RUNS, clock, logger });
  return apiOf({
    jobs: jobStore,
    pools,
    spend: ledger,
    usage: ledger,
    workflows: NO_WORKFLOWS,
    jobEnder,
    finalizeStopped: finalizeStoppedBy(finalizer),
    intake,
    metrics,
    logger,
    config,
    clock,
    newJobId,
    allowInsecureWebhooks: false,
    ...(options.exactQueuePositions !== undefined && { exactQueuePositions: options.exactQueuePositions }),
  });
}

/** A clock that moves one second on every reading, so that submit order is time order. */
export function steppingClock(start = Date.parse('2025-01-01T00:00:00.000Z')): Clock {
  let now = start;
  return () => {
    const reading = new Date(now);
    now += 1000;
    return reading;
  };
}

/** Every item in the table: jobs, history, idempotency keys. */
export async function scanTable(db: TestDatabase): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.documentClient.send(
      new ScanCommand({ TableName: db.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

export async function itemCount(db: TestDatabase): Promise<number> {
  return (await scanTable(db)).length;
}

/** Every job route, each with a request that would succeed against a working store. */
export function everyRoute(api: Api, caller: Caller, jobId: string): [string, () => Promise<Reply>][] {
  return [
    ['submit', () => api.submit(submitEvent(caller, sqlJob()))],
    ['submit with a key', () => api.submit(submitEvent(caller, sqlJob(), { idempotencyKey: 'k-1' }))],
    ['get', () => api.get(getEvent(caller, jobId))],
    ['list', () => api.list(listEvent(caller))],
    ['events', () => api.events(eventsEvent(caller, jobId))],
    ['cancel', () => api.cancel(cancelEvent(caller, jobId))],
    ['rerun', () => api.rerun(rerunEvent(caller, jobId, { priority: 7 }))],
  ];
}

/** A valid job request: inline SQL, fits the default pool. */
export function sqlJob(overrides: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  return { code: 'SELECT 1', kind: 'sql', ...overrides };
}
