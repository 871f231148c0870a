import { Logger } from '@aws-lambda-powertools/logger';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { DynamoPoolStore } from '#adapters/dynamo-pool-store.ts';
import { createJobTableInput } from '#adapters/table-definition.ts';
import { Admission, type AdmissionDeps, poolLimits } from '#core/admission.ts';
import type { LibraConfig } from '#core/config.ts';
import { ownerKey } from '#core/fair-share.ts';
import { JobEnder } from '#core/job-ender.ts';
import type { JobRecord } from '#core/job-record.ts';
import type { NotificationEvent } from '#core/job-request.ts';
import { isTerminal, type JobStatus } from '#core/job-states.ts';
import type { IntakeMessage, JobNotifier, PoolUsage, StartResult, WaitingJob } from '#core/ports.ts';
import { Reconciler } from '#core/reconciler.ts';
import { DurationWarnings } from '#core/use-cases/duration-warnings.ts';
import { createAdmissionHandler } from '#handlers/admission.ts';
import { createTickHandler } from '#handlers/tick.ts';
import { InMemoryMetrics } from '../../local/metrics.ts';
import { RecordingStarter } from '../../local/recording-starter.ts';
import { type Api, iamCaller, RecordingIntake, serviceApi, sqlJob, submitEvent } from './api.ts';
import type { TestDatabase } from './dynalite.ts';
import { FaultInjector, transitionTo } from './faults.ts';

/**
 * Admission, reconciler, job ender and the API wired as lambdas/compose wires them, over one
 * DynamoDB document client, intake queue and workflow starter that go through a
 * FaultInjector, with a clock the test moves.
 */

/** A clock the test moves; every reading is one millisecond later, so submit order is time order. */
export class TestClock {
  #now: number;

  constructor(startIso = '2025-01-01T00:00:00.000Z') {
    this.#now = Date.parse(startIso);
  }

  readonly now = (): Date => {
    const reading = new Date(this.#now);
    this.#now += 1;
    return reading;
  };

  advance(ms: number): void {
    this.#now += ms;
  }
}

/**
 * Step Functions' naming rule (a second start of a name is a no-op) from the local
 * RecordingStarter, plus every call counted and the status of the record each call was given.
 */
export class CountingStarter extends RecordingStarter {
  readonly calls = new Map<string, number>();
  /** Starts asked for a job whose record was not SCHEDULED. */
  readonly notScheduled: { jobId: string; status: JobStatus }[] = [];
  /** Jobs whose every start is refused for good, with what Step Functions answers (StartRefused). */
  readonly refused = new Map<string, () => Error>();

  override async start(job: JobRecord): Promise<StartResult> {
    this.calls.set(job.jobId, (this.calls.get(job.jobId) ?? 0) + 1);
    if (job.status !== 'SCHEDULED') this.notScheduled.push({ jobId: job.jobId, status: job.status });
    const refusal = this.refused.get(job.jobId);
    if (refusal) throw refusal();
    return super.start(job);
  }
}

export const OWNER = iamCaller('admission-tests');

export interface Notified {
  readonly jobId: string;
  readonly status: NotificationEvent;
}

export interface Harness {
  readonly config: LibraConfig;
  readonly tableName: string;
  readonly clock: TestClock;
  readonly faults: FaultInjector;
  /** The intake queue as a list: what was sent and not yet delivered. */
  readonly intake: RecordingIntake;
  readonly starter: CountingStarter;
  /** The webhooks asked for by admission and the reconciler (the notifier function's invocations). */
  readonly notified: Notified[];
  readonly metrics: InMemoryMetrics;
  readonly api: Api;
  readonly jobs: DynamoJobStore;
  readonly pools: DynamoPoolStore;
  readonly admission: Admission;
  readonly reconciler: Reconciler;
  readonly jobEnder: JobEnder;
  /** The admission Lambda, given a batch of intake messages. */
  deliver(messages: readonly IntakeMessage[]): Promise<{ failed: IntakeMessage[] }>;
  /** The tick Lambda: one reconciler pass over every pool, then an admission pass. */
  tick(): Promise<{ reconciled: number; admitted: number }>;
  /** Submits through the API handler; returns the job id (202) or the status code. */
  submit(body: Record<string, unknown>): Promise<{ status: number; jobId?: string }>;
}

export interface HarnessOptions {
  readonly config: LibraConfig;
  /** A fresh table on `db` (same definition); `db.tableName` when absent. */
  readonly tableName?: string;
  readonly clock?: TestClock;
  /** Queue positions counted exactly before they are estimated (the service's default when absent). */
  readonly exactQueuePositions?: number;
}

let tableCount = 0;

/**
 * Leases a waiting job outside any pass of the harness's admission, as another admission, or a
 * pass that stopped before it moved the job, leaves it: the lease held, the job still QUEUED.
 */
export async function leaseOutsideAdmission(h: Harness, jobId: string): Promise<void> {
  const job = await h.jobs.getJob(jobId);
  const pool = job && h.config.pools[job.pool];
  if (!job || !pool) throw new Error(`${jobId} was not written, or its pool is not configured`);
  const at = h.clock.now().toISOString();
  expectTrue(
    (await h.pools.acquire(job.pool, poolLimits(pool), job, at)) === 'acquired',
    `${jobId} could not be leased`,
  );
}

/** Waits for something a runtime does in the background (its intake queue, a tick); 5 s at most. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`still not true: ${what}`);
}

/** A new empty job table on the test database, named uniquely. */
export async function freshTable(db: TestDatabase): Promise<string> {
  const name = `admission-${++tableCount}`;
  await db.client.send(new CreateTableCommand(createJobTableInput(name)));
  return name;
}

const silent = () => new Logger({ serviceName: 'libra-test', logLevel: 'SILENT' });

export function createHarness(db: TestDatabase, options: HarnessOptions): Harness {
  const { config } = options;
  const tableName = options.tableName ?? db.tableName;
  const clock = options.clock ?? new TestClock();
  const faults = new FaultInjector();
  const client = faults.wrapDynamo(db.documentClient);
  const intake = new RecordingIntake();
  const faultyIntake = faults.wrapIntake(intake);
  const starter = new CountingStarter();
  const metrics = new InMemoryMetrics();
  const logger = silent();

  const notified: Notified[] = [];
  const notifier: JobNotifier = {
    notify: (jobId, status) =>
      faults.run({ service: 'lambda', operation: 'Invoke', input: { jobId, status } }, async () => {
        notified.push({ jobId, status });
      }),
  };

  // As composeAdmission builds them, with the injected clock.
  const jobs = new DynamoJobStore({ client, tableName, retentionDays: config.retention.days });
  const pools = new DynamoPoolStore({ client, tableName });
  const jobEnder = new JobEnder({
    jobs,
    pools,
    intake: faultyIntake,
    notifier,
    clock: clock.now,
    logger,
    metrics,
  });
  const deps: AdmissionDeps = {
    jobs,
    pools,
    starter: faults.wrapStarter(starter),
    jobEnder,
    config,
    metrics,
    logger,
    clock: clock.now,
  };
  const admission = new Admission(deps);
  const reconciler = new Reconciler(deps, admission);
  const admissionHandler = createAdmissionHandler({ admission, metrics, logger });
  const warnings = new DurationWarnings({ config, jobs, notifier, metrics, clock: clock.now, logger });
  const tickHandler = createTickHandler({ admission, reconciler, warnings, metrics, logger });
  // As composeApi builds it (serviceApi), over the same faulty client and intake.
  const api = serviceApi(
    { ...db, tableName, documentClient: client },
    {
      config,
      clock: clock.now,
      intake: faultyIntake,
      ...(options.exactQueuePositions !== undefined && { exactQueuePositions: options.exactQueuePositions }),
    },
  );

  let messageCount = 0;
  return {
    config,
    tableName,
    clock,
    faults,
    intake,
    starter,
    notified,
    metrics,
    api,
    jobs,
    pools,
    admission,
    reconciler,
    jobEnder,
    async deliver(messages) {
      const records = messages.map((message) => sqsRecord(JSON.stringify(message), `m-${++messageCount}`));
      const response = await admissionHandler({ Records: records } satisfies SQSEvent);
      const failedIds = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
      return { failed: messages.filter((_, i) => failedIds.has(records[i]?.messageId ?? '')) };
    },
    tick: () => tickHandler(),
    async submit(body) {
      const reply = await api.submit(submitEvent(OWNER, body));
      return reply.status === 202
        ? { status: 202, jobId: reply.body.jobId as string }
        : { status: reply.status };
    },
  };
}

export function sqsRecord(body: string, messageId: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:libra-intake',
    awsRegion: 'us-east-1',
  };
}

/** A SQL job sized to `executors` executors: (executors + 1) cores and (executors + 1) × 1408 MiB. */
export function sizedJob(pool: string, executors: number, priority = 5): Record<string, unknown> {
  return sqlJob({ pool, priority, sparkConf: { 'spark.executor.instances': String(executors) } });
}

/** Every waiting job of a pool, in the waiting index's (admission) order. */
export async function waitingJobs(h: Pick<Harness, 'jobs'>, pool: string): Promise<WaitingJob[]> {
  const all: WaitingJob[] = [];
  let start: Readonly<Record<string, unknown>> | undefined;
  do {
    const page = await h.jobs.listWaiting(pool, 100, start);
    all.push(...page.jobs);
    start = page.next;
  } while (start);
  return all;
}

/**
 * Admission order, computed independently of the index: priority desc, then the fair-share tag the
 * job was given (none first: docs/fair-share.md), then submittedAt, then id. With one owner the tags
 * follow the order in which submits took their queue slots.
 */
export function aheadOf(
  a: Pick<WaitingJob, 'priority' | 'submittedAt' | 'jobId' | 'fairTag'>,
  b: typeof a,
): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if ((a.fairTag ?? -1) !== (b.fairTag ?? -1)) return (a.fairTag ?? -1) < (b.fairTag ?? -1);
  if (a.submittedAt !== b.submittedAt) return a.submittedAt < b.submittedAt;
  return a.jobId < b.jobId;
}

function inAdmissionOrder(a: WaitingJob, b: WaitingJob): number {
  return aheadOf(a, b) ? -1 : aheadOf(b, a) ? 1 : 0;
}

export interface PoolState {
  readonly usage: PoolUsage;
  /** Its waiting jobs, in admission order. */
  readonly waiting: WaitingJob[];
}

/**
 * What must hold after every step, whatever failed: the pool item's counters never pass the
 * limits and always equal the sum of its leases; no job was moved to SCHEDULED twice; the
 * queue never holds more jobs than maxQueueSize nor than the counter that guards it.
 */
export async function checkStepInvariants(h: Harness): Promise<Map<string, PoolState>> {
  const states = new Map<string, PoolState>();
  for (const [name, pool] of Object.entries(h.config.pools)) {
    const [usage, queued] = await Promise.all([h.pools.getPool(name), waitingJobs(h, name)]);
    states.set(name, { usage, waiting: queued });
    const limits = poolLimits(pool);
    const leases = Object.values(usage.leases);
    const where = `pool ${name}: ${JSON.stringify({ ...usage, leases: Object.keys(usage.leases) })}`;
    expectTrue(usage.cpuUsed <= limits.cpuCores, `cpu above the limit, ${where}`);
    expectTrue(usage.memoryUsedMiB <= limits.memoryMiB, `memory above the limit, ${where}`);
    expectTrue(usage.running <= limits.maxConcurrentJobs, `running above the limit, ${where}`);
    expectTrue(
      usage.cpuUsed === sum(leases.map((l) => l.cpuCores)),
      `cpuUsed is not the sum of leases, ${where}`,
    );
    expectTrue(
      usage.memoryUsedMiB === sum(leases.map((l) => l.memoryMiB)),
      `memoryUsed is not the sum of leases, ${where}`,
    );
    expectTrue(usage.running === leases.length, `running is not the number of leases, ${where}`);
    expectTrue(
      queued.length <= pool.maxQueueSize,
      `${queued.length} jobs wait, above maxQueueSize, ${where}`,
    );
    expectTrue(
      queued.length <= usage.waiting,
      `${queued.length} jobs wait but the counter guarding the queue says ${usage.waiting}, ${where}`,
    );
  }
  const scheduled = new Map<string, number>();
  for (const call of h.faults.committed) {
    if (!transitionTo('SCHEDULED')(call)) continue;
    const jobId = String(call.input.Key.pk).slice('JOB#'.length);
    scheduled.set(jobId, (scheduled.get(jobId) ?? 0) + 1);
  }
  for (const [jobId, times] of scheduled) {
    expectTrue(times === 1, `${jobId} moved to SCHEDULED ${times} times`);
  }
  return states;
}

export interface ConvergedOptions {
  /**
   * The waiting counter equals the waiting jobs. A recount lowers a counter that a crash left
   * high only after a tick with no submit (DynamoPoolStore.setWaiting), so this holds after the
   * second quiet tick; before, the counter is only never below the waiting jobs.
   */
  readonly exactWaitingCounter?: boolean;
}

/**
 * What must hold once a tick (reconciler pass + admission pass) ran after the faults, besides
 * the step invariants: every lease belongs to an admitted, unfinished job and every such job
 * holds one; every job that was admitted was started, once, and no other job was (but one that
 * ended START_FAILED, never started); no waiting
 * job that could be admitted still waits.
 */
export async function checkConverged(
  h: Harness,
  jobIds: readonly string[],
  options: ConvergedOptions = {},
): Promise<void> {
  const states = await checkStepInvariants(h);
  const records = new Map<string, JobRecord>();
  for (const job of await Promise.all(jobIds.map((jobId) => h.jobs.getJob(jobId)))) {
    if (job) records.set(job.jobId, job);
  }
  for (const [name, pool] of Object.entries(h.config.pools)) {
    const { usage, waiting: queued } = states.get(name) as PoolState;
    for (const jobId of Object.keys(usage.leases)) {
      const job = records.get(jobId) ?? (await h.jobs.getJob(jobId));
      expectTrue(job !== undefined, `pool ${name} holds a lease of a job that does not exist: ${jobId}`);
      expectTrue(
        job !== undefined && !isTerminal(job.status) && job.status !== 'QUEUED',
        `pool ${name} holds a lease of ${jobId}, which is ${job?.status}`,
      );
    }
    // Jobs parked for their owner's cap wait too (docs/fair-share.md).
    const parked: WaitingJob[] = [];
    for (const key of Object.keys(usage.fair.parked)) {
      parked.push(...(await h.jobs.listParked(name, key, 100)).jobs);
    }
    const waitingCount = queued.length + parked.length;
    expectTrue(
      !options.exactWaitingCounter || usage.waiting === waitingCount,
      `pool ${name}: waiting counter ${usage.waiting}, ${waitingCount} jobs waiting`,
    );
    const limits = poolLimits(pool);
    const free = {
      cpu: limits.cpuCores - usage.cpuUsed,
      memoryMiB: limits.memoryMiB - usage.memoryUsedMiB,
      jobs: limits.maxConcurrentJobs - usage.running,
    };
    const fits = (w: WaitingJob) =>
      free.jobs >= 1 && w.reservation.cpuCores <= free.cpu && w.reservation.memoryMiB <= free.memoryMiB;
    // A job whose owner is at the pool's maxRunningPerOwner is not a head: it waits for its owner.
    // The parked jobs of owners below the cap are heads as any other (docs/fair-share.md).
    const cap = pool.maxRunningPerOwner;
    const belowCap = (w: WaitingJob) =>
      cap === undefined ||
      Object.values(usage.leases).filter((lease) => lease.owner === ownerKey(w.owner)).length < cap;
    const eligible = [...queued, ...parked].filter(belowCap).sort(inAdmissionOrder);
    const candidates = pool.backfill ? eligible : eligible.slice(0, 1);
    for (const w of candidates) {
      expectTrue(!fits(w), `pool ${name}: ${w.jobId} waits though it fits (${JSON.stringify(free)})`);
    }
  }
  for (const [jobId, job] of records) {
    const started = h.starter.started.has(jobId);
    const admitted = job.scheduledAt !== undefined;
    if (admitted && !isTerminal(job.status) && job.status !== 'QUEUED') {
      const lease = states.get(job.pool)?.usage.leases[jobId];
      expectTrue(lease !== undefined, `${jobId} is ${job.status} and holds no lease`);
    }
    // A job whose workflow could not start was admitted, and ended START_FAILED unstarted.
    const startFailed = job.status === 'FAILED' && job.reason?.code === 'START_FAILED';
    expectTrue(
      startFailed ? admitted && !started : admitted === started,
      `${jobId} is ${job.status}${startFailed ? ' (START_FAILED)' : ''}, admitted=${admitted} but started=${started}`,
    );
  }
  expectTrue(
    h.starter.notScheduled.length === 0,
    `starts asked for jobs that were not SCHEDULED: ${JSON.stringify(h.starter.notScheduled)}`,
  );
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

function expectTrue(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}
