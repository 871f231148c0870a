import { createHash } from 'node:crypto';
import { awsRequestProblems, SUBMIT_LOCATIONS, submitTargets } from './aws-limits.ts';
import { retryDelaysSeconds } from './backoff.ts';
import { isAdmin, type LibraConfig, mayUsePool, type PoolConfig, poolNamed } from './config.ts';
import {
  ConflictError,
  type FieldProblem,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
  TransitionConflict,
  ValidationError,
} from './errors.ts';
import { tagStep } from './fair-share.ts';
import type { Finisher } from './finisher.ts';
import type { JobEvent, JobRecord, JobSpec } from './job-record.ts';
import { JOB_ID_PATTERN } from './job-record.ts';
import { type JobRequest, jobTypeOf, parseJobRequest } from './job-request.ts';
import { isTerminal, JOB_STATUSES, type JobStatus, type Reason } from './job-states.ts';
import { type Backend, placeJob } from './placement.ts';
import type {
  Clock,
  IntakeQueue,
  JobPage,
  JobStore,
  LogPort,
  MetricsSink,
  PoolStore,
  TagFilter,
  WorkflowControl,
} from './ports.ts';
import { EXACT_QUEUE_POSITIONS, estimateQueuePosition, type QueuePosition } from './queue-position.ts';
import { queueFullRetryAfter, TICK_SECONDS } from './retry-after.ts';
import { type Sizing, sizeJob } from './sizing.ts';
import { sparkConfProblems } from './spark-conf-policy.ts';
import { workflowInput } from './workflow-input.ts';

export interface JobServiceDeps {
  readonly store: JobStore;
  readonly pools: PoolStore;
  readonly workflows: WorkflowControl;
  /** Ends a cancelled queued job: the move, its place in the queue, the count, the webhook. */
  readonly finisher: Finisher;
  /** Ends a cancelled job whose workflow was not running (the finalizer, in-process). */
  readonly finalizeStopped: (jobId: string) => Promise<void>;
  readonly intake: IntakeQueue;
  readonly metrics: MetricsSink;
  readonly logger: LogPort;
  readonly config: LibraConfig;
  readonly clock: Clock;
  readonly newJobId: () => string;
  /** Local mode only: webhooks may be plain http. Deployed, they must be https. */
  readonly allowInsecureWebhooks: boolean;
  /** Queue positions up to this are counted exactly, later ones estimated (EXACT_QUEUE_POSITIONS when absent). */
  readonly exactQueuePositions?: number;
}

export interface SubmitResult {
  readonly job: JobRecord;
  /** True when an Idempotency-Key replay returned an existing job. */
  readonly replayed: boolean;
}

export interface StatusView {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly name?: string;
  readonly pool: string;
  readonly backend: Backend;
  readonly priority: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly attempts: number;
  readonly submittedAt: string;
  readonly queuedAt?: string;
  readonly scheduledAt?: string;
  readonly startedAt?: string;
  readonly completedAt?: string;
  readonly cancelledAt?: string;
  readonly reason?: JobRecord['reason'];
  readonly resources: JobRecord['resources'];
  readonly queuePosition?: number;
  /** Present with queuePosition: true when the position is estimated (past the counted head of the queue). */
  readonly queuePositionEstimated?: boolean;
  /** The backend's run: its id and EMR's own state of it. */
  readonly run?: { readonly id: string; readonly state?: string };
  /** Where to look at the run: Spark UI and logs; locally its stdout, stderr and SQL result. */
  readonly links?: Readonly<Record<string, string>>;
}

export interface CancelResult {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly cancelledAt?: string;
  readonly message: string;
}

export interface ListParams {
  readonly limit?: string;
  readonly nextToken?: string;
  readonly status?: string;
  readonly pool?: string;
  readonly tag?: string;
  readonly owner?: string;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** JSON with object keys sorted, so that the same body hashes the same however it was spaced or ordered. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function requestHash(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('base64url');
}

/** What a valid request becomes before anything is stored: its pool and its job record, for any id. */
export interface PreparedJob {
  readonly poolName: string;
  readonly pool: PoolConfig;
  readonly hash: string;
  jobWithId(jobId: string): JobRecord;
}

/** The request, or a 400 naming each invalid field. */
function parsedRequest(body: unknown): JobRequest {
  const parsed = parseJobRequest(body);
  if (!parsed.ok) throw new ValidationError('the job request has invalid fields', parsed.errors);
  return parsed.request;
}

/** The pool the request names (or `default`), if it exists and the caller may use it. */
function poolForCaller(
  config: LibraConfig,
  principal: string,
  request: JobRequest,
): { readonly poolName: string; readonly pool: PoolConfig } {
  const poolName = request.pool ?? 'default';
  const pool = poolNamed(config, poolName);
  if (pool === undefined) {
    throw new ValidationError(`unknown pool '${poolName}'`, [
      {
        field: 'pool',
        message: `no pool named '${poolName}'; pools: ${Object.keys(config.pools).join(', ')}`,
      },
    ]);
  }
  if (!mayUsePool(pool, principal)) {
    throw new ForbiddenError(`you may not submit to pool '${poolName}'`, [
      { field: 'pool', message: 'not allowed for this caller' },
    ]);
  }
  return { poolName, pool };
}

function refuseInsecureWebhook(request: JobRequest, allowInsecureWebhooks: boolean): void {
  if (
    request.notifications &&
    !allowInsecureWebhooks &&
    !request.notifications.webhook.startsWith('https:')
  ) {
    throw new ValidationError('webhooks must use https', [
      { field: 'notifications.webhook', message: 'must be https' },
    ]);
  }
}

/** What the request needs once sized, and the backend that fits it, with the conf allowed there. */
function sizeAndPlace(
  request: JobRequest,
  pool: PoolConfig,
  poolName: string,
): Sizing & { readonly backend: Backend } {
  const sized = sizeJob(request.sparkConf, { defaultMaxExecutors: pool.defaultMaxExecutors });
  if (!sized.ok) throw new ValidationError('the Spark conf cannot be sized', sized.errors);
  const placed = placeJob(request.executionMode, sized.sizing.resources, pool, poolName);
  if (!placed.ok) throw new ValidationError('the job does not fit its pool', placed.errors);
  // The request was checked against both backends' families; now the one it will run on is known.
  const onBackend = sparkConfProblems(request.sparkConf, placed.backend);
  if (onBackend.length > 0) {
    throw new ValidationError(
      `the Spark conf is not allowed on ${placed.backend}`,
      onBackend.map((problem) => ({ field: `sparkConf.${problem.key}`, message: problem.message })),
    );
  }
  return { ...sized.sizing, backend: placed.backend };
}

/** What the job runs, as Libra will submit it: the sized conf, the retry delays computed. */
function jobSpec(request: JobRequest, pool: PoolConfig, sparkConf: Record<string, string>): JobSpec {
  return {
    jobType: jobTypeOf(request),
    ...(request.code !== undefined && { code: request.code }),
    ...(request.entryPoint !== undefined && { entryPoint: request.entryPoint }),
    ...(request.entryPointArguments !== undefined && { entryPointArguments: request.entryPointArguments }),
    ...(request.mainClass !== undefined && { mainClass: request.mainClass }),
    sparkConf,
    retryPolicy: request.retryPolicy,
    retryDelaysSeconds: retryDelaysSeconds(request.retryPolicy),
    retryOnTimeout: request.retryOnTimeout,
    timeoutMinutes: request.timeoutMinutes ?? pool.defaultTimeoutMinutes,
    ...(request.notifications !== undefined && { notifications: request.notifications }),
  };
}

/**
 * Parses, authorizes, sizes and places a request: the job it would be, or the error that refuses
 * it. AWS's limits are checked apart (awsRefusals), on the job this builds.
 */
export function prepareJob(
  config: LibraConfig,
  principal: string,
  body: unknown,
  options: { readonly allowInsecureWebhooks: boolean; readonly now: string },
): PreparedJob {
  const request = parsedRequest(body);
  const { poolName, pool } = poolForCaller(config, principal, request);
  refuseInsecureWebhook(request, options.allowInsecureWebhooks);
  const { resources, sparkConf, backend } = sizeAndPlace(request, pool, poolName);
  const spec = jobSpec(request, pool, sparkConf);
  const hash = requestHash(body);
  const { now } = options;
  const jobWithId = (jobId: string): JobRecord => ({
    jobId,
    owner: principal,
    status: 'QUEUED',
    pool: poolName,
    backend,
    priority: request.priority,
    ...(request.name !== undefined && { name: request.name }),
    tags: request.tags,
    spec,
    resources,
    reservation: { cpuCores: resources.totalCores, memoryMiB: resources.totalMemoryMiB },
    attempts: 0,
    submittedAt: now,
    queuedAt: now,
    updatedAt: now,
    requestHash: hash,
  });
  return { poolName, pool, hash, jobWithId };
}

/**
 * What AWS would refuse of the calls the job makes once admitted (aws-limits.ts): measured on the
 * workflow input admission builds, with the pool's targets or, where the stack chooses them, the
 * longest the models allow, and the longest artifacts bucket name.
 */
export function awsRefusals(prepared: PreparedJob, jobId: string, config: LibraConfig): FieldProblem[] {
  return awsRequestProblems(
    workflowInput(
      prepared.jobWithId(jobId),
      submitTargets(prepared.pool),
      SUBMIT_LOCATIONS,
      config.retention.days,
    ),
  );
}

/** Inline code past the configured size is refused before the body is parsed any further. */
function refuseOversizedCode(body: unknown, maxCodeBytes: number): void {
  if (body === null || typeof body !== 'object' || !('code' in body) || typeof body.code !== 'string') return;
  const codeBytes = Buffer.byteLength(body.code, 'utf8');
  if (codeBytes > maxCodeBytes) {
    throw new PayloadTooLargeError(`code is ${codeBytes} bytes; the limit is ${maxCodeBytes}`, [
      { field: 'code', message: `at most ${maxCodeBytes} bytes` },
    ]);
  }
}

function checkIdempotencyKey(idempotencyKey: string): void {
  if (!IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
    throw new ValidationError('Idempotency-Key is not valid', [
      { field: 'Idempotency-Key', message: '1 to 255 visible ASCII characters' },
    ]);
  }
}

/** The job use cases behind the HTTP API: submit, status, list, history, cancel. */
export class JobService {
  readonly #deps: JobServiceDeps;

  constructor(deps: JobServiceDeps) {
    this.#deps = deps;
  }

  async submit(principal: string, body: unknown, idempotencyKey?: string): Promise<SubmitResult> {
    const { config } = this.#deps;
    refuseOversizedCode(body, config.limits.maxCodeBytes);
    if (idempotencyKey !== undefined) checkIdempotencyKey(idempotencyKey);
    const prepared = prepareJob(config, principal, body, {
      allowInsecureWebhooks: this.#deps.allowInsecureWebhooks,
      now: this.#deps.clock().toISOString(),
    });
    const newId = this.#deps.newJobId();
    // What AWS would refuse when the job starts is refused now, before anything is stored.
    const refused = awsRefusals(prepared, newId, config);
    if (refused.length > 0) throw new ValidationError('AWS would refuse to run this job', refused);

    const claim =
      idempotencyKey === undefined
        ? { jobId: newId }
        : await this.#claimKey(principal, idempotencyKey, newId, prepared.hash);
    if ('replayed' in claim) return claim;
    return this.#enqueue(prepared, prepared.jobWithId(claim.jobId));
  }

  /**
   * Ties the Idempotency-Key to the new job id, or finds what an earlier submit with it did: its
   * job (a replay), or the id it claimed and stopped before writing (this submit finishes it).
   */
  async #claimKey(
    principal: string,
    idempotencyKey: string,
    jobId: string,
    hash: string,
  ): Promise<SubmitResult | { readonly jobId: string }> {
    const claim = await this.#deps.store.claimIdempotencyKey(principal, idempotencyKey, jobId, hash);
    if (claim.claimed) return { jobId };
    if (claim.requestHash !== hash) {
      throw new ConflictError('this Idempotency-Key was used with another request body', [
        { field: 'Idempotency-Key', message: `already used for job ${claim.jobId}` },
      ]);
    }
    const existing = await this.#deps.store.getJob(claim.jobId);
    return existing ? { job: existing, replayed: true } : { jobId: claim.jobId };
  }

  /** Takes a queue slot, writes the job QUEUED and wakes admission for its pool. */
  async #enqueue(prepared: PreparedJob, job: JobRecord): Promise<SubmitResult> {
    const { store, pools, intake, metrics, logger } = this.#deps;
    const { poolName, pool } = prepared;
    const { jobId } = job;
    // Backpressure before the job is written: a full queue refuses, and nothing is stored.
    // The same write takes the job's fair-share tag among its owner's and the others' jobs.
    const slot = await pools.reserveQueueSlot(poolName, pool.maxQueueSize, job.priority, {
      owner: job.owner,
      step: tagStep(pool, job.owner),
    });
    if (slot === undefined) {
      metrics.count('rejected', poolName);
      const retryAfter = await this.#queueFullRetryAfter(poolName);
      throw new TooManyRequestsError(
        `pool '${poolName}' has ${pool.maxQueueSize} jobs waiting; try again in ${retryAfter} s`,
        [{ field: 'pool', message: `queue full (${pool.maxQueueSize})` }],
        retryAfter,
      );
    }
    const queued: JobRecord = { ...job, queueSeq: slot.queueSeq, fairTag: slot.fairTag };
    const outcome = await store.createJob(queued);
    if (outcome === 'exists') {
      await pools.freeQueueSlot(poolName, [job.priority]);
      const existing = await store.getJob(jobId);
      if (existing) return { job: existing, replayed: true };
    }
    metrics.count('queued', poolName);
    try {
      await intake.send({ kind: 'submitted', pool: poolName, jobId });
    } catch (error) {
      // The job is stored and waiting: the next tick's admission pass finds it without the message.
      logger.warn('intake message not sent; the tick will admit the job', { jobId, error: error as Error });
    }
    return { job: queued, replayed: false };
  }

  async status(principal: string, jobId: string): Promise<StatusView> {
    const job = await this.#visibleJob(principal, jobId);
    return toStatusView(job, job.status === 'QUEUED' ? await this.#queuePosition(job) : undefined);
  }

  /** At most two requests whatever the queue's depth: a bounded count, then the pool item if it did not reach the job. */
  async #queuePosition(job: JobRecord): Promise<QueuePosition> {
    const counted = await this.#deps.store.queuePosition(
      job,
      this.#deps.exactQueuePositions ?? EXACT_QUEUE_POSITIONS,
    );
    if (!counted.more) return { position: counted.ahead + 1, estimated: false };
    const usage = await this.#deps.pools.getPool(job.pool);
    return { position: estimateQueuePosition(job, counted, usage.queue, usage.waiting), estimated: true };
  }

  async events(principal: string, jobId: string): Promise<JobEvent[]> {
    const job = await this.#visibleJob(principal, jobId);
    // The submit is recorded by the job record itself (one write on the submit path); history items record moves.
    const submitted: JobEvent = { jobId, at: job.submittedAt, type: 'STATUS', status: 'QUEUED' };
    return [submitted, ...(await this.#deps.store.listEvents(jobId))];
  }

  async list(principal: string, params: ListParams): Promise<JobPage> {
    const errors: { field: string; message: string }[] = [];
    let limit = DEFAULT_PAGE_SIZE;
    if (params.limit !== undefined) {
      limit = Number(params.limit);
      if (!/^\d+$/.test(params.limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
        errors.push({ field: 'limit', message: `a whole number from 1 to ${MAX_PAGE_SIZE}` });
      }
    }
    let status: JobStatus | undefined;
    if (params.status !== undefined) {
      status = JOB_STATUSES.find((s) => s === params.status);
      if (!status) errors.push({ field: 'status', message: `one of ${JOB_STATUSES.join(', ')}` });
    }
    let tag: TagFilter | undefined;
    if (params.tag !== undefined) {
      const eq = params.tag.indexOf('=');
      tag = eq < 0 ? { key: params.tag } : { key: params.tag.slice(0, eq), value: params.tag.slice(eq + 1) };
      if (tag.key === '') errors.push({ field: 'tag', message: 'key or key=value' });
    }
    if (errors.length > 0) throw new ValidationError('the query has invalid parameters', errors);

    let owner = principal;
    if (params.owner !== undefined && params.owner !== principal) {
      if (!isAdmin(this.#deps.config, principal)) {
        throw new ForbiddenError("only admins may list another caller's jobs", [
          { field: 'owner', message: 'admins only' },
        ]);
      }
      owner = params.owner;
    }
    return this.#deps.store.listJobs({
      owner,
      limit,
      ...(params.nextToken !== undefined && { nextToken: params.nextToken }),
      ...(status !== undefined && { status }),
      ...(params.pool !== undefined && { pool: params.pool }),
      ...(tag !== undefined && { tag }),
    });
  }

  /**
   * Cancels a job that has not finished. A queued job is cancelled at once. A scheduled, running
   * or retrying one moves to CANCELLING and its workflow is stopped; the finalizer then stops
   * the Spark run, gives the capacity back and records CANCELLED (or what the run reached
   * first). With no execution running, the finalizer runs at once.
   */
  async cancel(principal: string, jobId: string, racesLeft = 3): Promise<CancelResult> {
    const job = await this.#visibleJob(principal, jobId);
    if (isTerminal(job.status)) {
      throw new ConflictError(`job ${jobId} is already ${job.status}`, [
        { field: 'status', message: `${job.status} is final` },
      ]);
    }
    if (job.status === 'CANCELLING') {
      return { jobId, status: 'CANCELLING', message: 'Cancellation in progress' };
    }
    const at = this.#deps.clock().toISOString();
    const reason = { code: 'CANCELLED_BY_USER' as const, message: `cancelled by ${principal}` };
    if (job.status === 'QUEUED') return this.#cancelQueued(principal, jobId, reason, racesLeft);
    let moved: JobRecord;
    try {
      moved = await this.#deps.store.transition(jobId, [job.status], 'CANCELLING', { at, reason });
    } catch (error) {
      if (!(error instanceof TransitionConflict)) throw error;
      return this.#cancelMoved(principal, jobId, error.actualStatus, racesLeft);
    }
    if (await this.#deps.workflows.stop(jobId, reason.message)) {
      return { jobId, status: 'CANCELLING', message: 'Cancellation in progress' };
    }
    await this.#deps.finalizeStopped(jobId);
    const now = (await this.#deps.store.getJob(jobId)) ?? moved;
    return {
      jobId,
      status: now.status,
      ...(now.cancelledAt !== undefined && { cancelledAt: now.cancelledAt }),
      message: now.status === 'CANCELLING' ? 'Cancellation in progress' : `Job ${now.status.toLowerCase()}`,
    };
  }

  /** A queued job ends at once, as every end outside the workflow does (Finisher.end). */
  async #cancelQueued(
    principal: string,
    jobId: string,
    reason: Reason,
    racesLeft: number,
  ): Promise<CancelResult> {
    const { job, moved } = await this.#deps.finisher.end(jobId, 'CANCELLED', reason, { from: ['QUEUED'] });
    if (!moved) return this.#cancelMoved(principal, jobId, job?.status, racesLeft);
    return {
      jobId,
      status: 'CANCELLED',
      ...(job?.cancelledAt !== undefined && { cancelledAt: job.cancelledAt }),
      message: 'Job cancelled successfully',
    };
  }

  /** The job moved while the cancel looked: cancel it where it is now, unless it ended. */
  async #cancelMoved(
    principal: string,
    jobId: string,
    actual: JobStatus | undefined,
    racesLeft: number,
  ): Promise<CancelResult> {
    if ((actual !== undefined && isTerminal(actual)) || racesLeft <= 0) {
      throw new ConflictError(`job ${jobId} is ${actual}; it moved before the cancel`, [
        { field: 'status', message: `${actual}` },
      ]);
    }
    // It moved on (admitted, started, retried) while we looked: cancel it where it is now.
    return this.cancel(principal, jobId, racesLeft - 1);
  }

  /** Read from the pool's state only when a submit is refused; a failed read still answers 429. */
  async #queueFullRetryAfter(poolName: string): Promise<number> {
    try {
      return queueFullRetryAfter(await this.#deps.pools.getPool(poolName), this.#deps.clock());
    } catch (error) {
      this.#deps.logger.warn('pool not read for Retry-After; answering with the tick period', {
        pool: poolName,
        error: error as Error,
      });
      return TICK_SECONDS;
    }
  }

  /** The job if the caller owns it or is an admin; otherwise it does not exist for them. */
  async #visibleJob(principal: string, jobId: string): Promise<JobRecord> {
    const job = JOB_ID_PATTERN.test(jobId) ? await this.#deps.store.getJob(jobId) : undefined;
    if (!job || (job.owner !== principal && !isAdmin(this.#deps.config, principal))) {
      throw new NotFoundError(`no job ${jobId}`);
    }
    return job;
  }
}

export function toStatusView(job: JobRecord, queued?: QueuePosition): StatusView {
  return {
    jobId: job.jobId,
    status: job.status,
    ...(job.name !== undefined && { name: job.name }),
    pool: job.pool,
    backend: job.backend,
    priority: job.priority,
    tags: job.tags,
    attempts: job.attempts,
    submittedAt: job.submittedAt,
    ...(job.queuedAt !== undefined && { queuedAt: job.queuedAt }),
    ...(job.scheduledAt !== undefined && { scheduledAt: job.scheduledAt }),
    ...(job.startedAt !== undefined && { startedAt: job.startedAt }),
    ...(job.completedAt !== undefined && { completedAt: job.completedAt }),
    ...(job.cancelledAt !== undefined && { cancelledAt: job.cancelledAt }),
    ...(job.reason !== undefined && { reason: job.reason }),
    resources: job.resources,
    ...(queued !== undefined && {
      queuePosition: queued.position,
      queuePositionEstimated: queued.estimated,
    }),
    ...(job.backendRunId !== undefined && {
      run: { id: job.backendRunId, ...(job.backendState !== undefined && { state: job.backendState }) },
    }),
    ...(job.links !== undefined && { links: job.links }),
  };
}
