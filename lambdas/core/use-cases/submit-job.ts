import { createHash } from 'node:crypto';
import { awsRequestProblems, SUBMIT_LOCATIONS, submitTargets } from '../aws-limits.ts';
import { retryDelaysSeconds } from '../backoff.ts';
import { type LibraConfig, mayUsePool, type PoolConfig, poolNamed } from '../config.ts';
import {
  ConflictError,
  type FieldProblem,
  ForbiddenError,
  PayloadTooLargeError,
  TooManyRequestsError,
  ValidationError,
} from '../errors.ts';
import { tagStep } from '../fair-share.ts';
import type { JobRecord, JobSpec } from '../job-record.ts';
import { type JobRequest, jobTypeOf, parseJobRequest, warnAfterMinutes } from '../job-request.ts';
import { keptRequest } from '../kept-request.ts';
import { type Backend, placeJob } from '../placement.ts';
import type { Clock, IntakeQueue, JobStore, LogPort, MetricsSink, PoolStore, UsageLedger } from '../ports.ts';
import { queueFullRetryAfter, TICK_SECONDS } from '../retry-after.ts';
import { type Sizing, sizeJob } from '../sizing.ts';
import { sparkConfProblems } from '../spark-conf-policy.ts';
import { workflowInput } from '../workflow-input.ts';
import { refuseOverBudget } from './pool-budget.ts';

/** What a submit calls: the job's writes, its pool's queue slots, the intake queue, and no more. */
export interface SubmitJobDeps {
  readonly jobs: Pick<JobStore, 'claimIdempotencyKey' | 'getJob' | 'createJob'>;
  readonly pools: Pick<PoolStore, 'reserveQueueSlot' | 'freeQueueSlot' | 'getPool'>;
  readonly intake: IntakeQueue;
  readonly metrics: MetricsSink;
  readonly logger: LogPort;
  readonly config: LibraConfig;
  readonly clock: Clock;
  readonly newJobId: () => string;
  /** Local mode only: webhooks may be plain http. Deployed, they must be https. */
  readonly allowInsecureWebhooks: boolean;
  /** Each pool's spend this month, for the pools with a monthly budget. */
  readonly spend: Pick<UsageLedger, 'monthSpend'>;
}

export interface SubmitResult {
  readonly job: JobRecord;
  /** True when an Idempotency-Key replay returned an existing job. */
  readonly replayed: boolean;
}

export interface SubmitOptions {
  /** The job this submit re-runs: the new record links it, and its Idempotency-Key hash names it. */
  readonly rerunOf?: string;
}

/** A submit as the use cases around it call it (a re-run submits again through it). */
export type Submit = (
  principal: string,
  body: unknown,
  idempotencyKey?: string,
  options?: SubmitOptions,
) => Promise<SubmitResult>;

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
  const timeoutMinutes = request.timeoutMinutes ?? pool.defaultTimeoutMinutes;
  const warnAfter = warnAfterMinutes(request, pool, timeoutMinutes);
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
    timeoutMinutes,
    ...(request.notifications !== undefined && { notifications: request.notifications }),
    ...(warnAfter !== undefined && { warnAfterMinutes: warnAfter }),
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
  options: { readonly allowInsecureWebhooks: boolean; readonly now: string; readonly rerunOf?: string },
): PreparedJob {
  const request = parsedRequest(body);
  const { poolName, pool } = poolForCaller(config, principal, request);
  refuseInsecureWebhook(request, options.allowInsecureWebhooks);
  const { resources, sparkConf, backend } = sizeAndPlace(request, pool, poolName);
  const spec = jobSpec(request, pool, sparkConf);
  // A re-run's key replays only a re-run of the same job with the same request.
  const hash = requestHash(
    options.rerunOf === undefined ? body : { rerunOf: options.rerunOf, request: body },
  );
  const { now, rerunOf } = options;
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
    request: keptRequest(request),
    ...(rerunOf !== undefined && { rerunOf }),
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

/**
 * Validates, sizes and places a job, stores it QUEUED and wakes admission for its pool.
 * `options.rerunOf`: the job this submit re-runs, linked from the new job's record.
 */
export async function submitJob(
  deps: SubmitJobDeps,
  principal: string,
  body: unknown,
  idempotencyKey?: string,
  options: SubmitOptions = {},
): Promise<SubmitResult> {
  const { config } = deps;
  refuseOversizedCode(body, config.limits.maxCodeBytes);
  if (idempotencyKey !== undefined) checkIdempotencyKey(idempotencyKey);
  const prepared = prepareJob(config, principal, body, {
    allowInsecureWebhooks: deps.allowInsecureWebhooks,
    now: deps.clock().toISOString(),
    ...(options.rerunOf !== undefined && { rerunOf: options.rerunOf }),
  });
  const newId = deps.newJobId();
  // What AWS would refuse when the job starts is refused now, before anything is stored.
  const refused = awsRefusals(prepared, newId, config);
  if (refused.length > 0) throw new ValidationError('AWS would refuse to run this job', refused);
  await refuseOverBudget(deps, prepared.poolName, prepared.pool);

  const claim =
    idempotencyKey === undefined
      ? { jobId: newId }
      : await claimKey(deps, principal, idempotencyKey, newId, prepared.hash);
  if ('replayed' in claim) return claim;
  return enqueue(deps, prepared, prepared.jobWithId(claim.jobId));
}

/**
 * Ties the Idempotency-Key to the new job id, or finds what an earlier submit with it did: its
 * job (a replay), or the id it claimed and stopped before writing (this submit finishes it).
 */
async function claimKey(
  deps: SubmitJobDeps,
  principal: string,
  idempotencyKey: string,
  jobId: string,
  hash: string,
): Promise<SubmitResult | { readonly jobId: string }> {
  const claim = await deps.jobs.claimIdempotencyKey(principal, idempotencyKey, jobId, hash);
  if (claim.claimed) return { jobId };
  if (claim.requestHash !== hash) {
    throw new ConflictError('this Idempotency-Key was used with another request body', [
      { field: 'Idempotency-Key', message: `already used for job ${claim.jobId}` },
    ]);
  }
  const existing = await deps.jobs.getJob(claim.jobId);
  return existing ? { job: existing, replayed: true } : { jobId: claim.jobId };
}

/** Takes a queue slot, writes the job QUEUED and wakes admission for its pool. */
async function enqueue(deps: SubmitJobDeps, prepared: PreparedJob, job: JobRecord): Promise<SubmitResult> {
  const { jobs, pools, intake, metrics, logger } = deps;
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
    const retryAfter = await retryAfterQueueFull(deps, poolName);
    throw new TooManyRequestsError(
      `pool '${poolName}' has ${pool.maxQueueSize} jobs waiting; try again in ${retryAfter} s`,
      [{ field: 'pool', message: `queue full (${pool.maxQueueSize})` }],
      retryAfter,
    );
  }
  const queued: JobRecord = { ...job, queueSeq: slot.queueSeq, fairTag: slot.fairTag };
  const outcome = await jobs.createJob(queued);
  if (outcome === 'exists') {
    await pools.freeQueueSlot(poolName, [job.priority]);
    const existing = await jobs.getJob(jobId);
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

/** Read from the pool's state only when a submit is refused; a failed read still answers 429. */
async function retryAfterQueueFull(deps: SubmitJobDeps, poolName: string): Promise<number> {
  try {
    return queueFullRetryAfter(await deps.pools.getPool(poolName), deps.clock());
  } catch (error) {
    deps.logger.warn('pool not read for Retry-After; answering with the tick period', {
      pool: poolName,
      error: error as Error,
    });
    return TICK_SECONDS;
  }
}
