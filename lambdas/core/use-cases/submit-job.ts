import type { LibraConfig } from '../config.ts';
import { ConflictError, PayloadTooLargeError, TooManyRequestsError, ValidationError } from '../errors.ts';
import type { JobRecord } from '../job-record.ts';
import type { Clock, IntakeQueue, JobStore, LogPort, MetricsSink, PoolStore } from '../ports.ts';
import { awsRefusals, type PreparedJob, prepareJob } from '../prepare-job.ts';
import { queueFullRetryAfter, TICK_SECONDS } from '../retry-after.ts';

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
}

export interface SubmitResult {
  readonly job: JobRecord;
  /** True when an Idempotency-Key replay returned an existing job. */
  readonly replayed: boolean;
}

export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

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

/** Validates, sizes and places a job, stores it QUEUED and wakes admission for its pool. */
export async function submitJob(
  deps: SubmitJobDeps,
  principal: string,
  body: unknown,
  idempotencyKey?: string,
): Promise<SubmitResult> {
  const { config } = deps;
  refuseOversizedCode(body, config.limits.maxCodeBytes);
  if (idempotencyKey !== undefined) checkIdempotencyKey(idempotencyKey);
  const prepared = prepareJob(config, principal, body, {
    allowInsecureWebhooks: deps.allowInsecureWebhooks,
    now: deps.clock().toISOString(),
  });
  const newId = deps.newJobId();
  // What AWS would refuse when the job starts is refused now, before anything is stored.
  const refused = awsRefusals(prepared, newId, config);
  if (refused.length > 0) throw new ValidationError('AWS would refuse to run this job', refused);

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
  const queueSeq = await pools.reserveQueueSlot(poolName, pool.maxQueueSize, job.priority);
  if (queueSeq === undefined) {
    metrics.count('rejected', poolName);
    const retryAfter = await retryAfterQueueFull(deps, poolName);
    throw new TooManyRequestsError(
      `pool '${poolName}' has ${pool.maxQueueSize} jobs waiting; try again in ${retryAfter} s`,
      [{ field: 'pool', message: `queue full (${pool.maxQueueSize})` }],
      retryAfter,
    );
  }
  const queued: JobRecord = { ...job, queueSeq };
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
