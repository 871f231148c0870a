import { createHash } from 'node:crypto';
import { awsRequestProblems, SUBMIT_LOCATIONS, submitTargets } from './aws-limits.ts';
import { retryDelaysSeconds } from './backoff.ts';
import { type LibraConfig, mayUsePool, type PoolConfig, poolNamed } from './config.ts';
import { type FieldProblem, ForbiddenError, ValidationError } from './errors.ts';
import type { JobRecord, JobSpec } from './job-record.ts';
import { type JobRequest, jobTypeOf, parseJobRequest } from './job-request.ts';
import { type Backend, placeJob } from './placement.ts';
import { type Sizing, sizeJob } from './sizing.ts';
import { sparkConfProblems } from './spark-conf-policy.ts';
import { workflowInput } from './workflow-input.ts';

/**
 * What a job request becomes before anything is stored: parsed, authorized for its pool, sized,
 * placed on a backend, and checked against what AWS would refuse once it starts.
 */

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
