import { DEFAULT_ORCHESTRATION, DEFAULT_PRICES } from './cost.ts';
import { keyedRecord } from './keyed-record.ts';
import * as z from './zod.ts';

/**
 * Libra's configuration: one schema, read by the CDK app from the `libra` key of cdk.json
 * context and by the local runtime from the file named by LIBRA_CONFIG. Defaults follow the
 * original Libra (16 cores, 64 GB, 10 concurrent jobs, queue of 1,000, 30 minutes wait).
 * Written with zod/mini (./zod.ts): the notifier and the other functions parse it at init.
 */
const arn = z
  .string()
  .check(z.regex(/^arn:aws[a-zA-Z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+$/, 'must be an ARN'));
const nonEmpty = () => z.string().check(z.minLength(1));
const positiveInt = () => z.number().check(z.int(), z.positive());
const nonNegative = () => z.number().check(z.nonnegative());

const emrServerlessBackend = z.strictObject({
  /** Use an existing application; when absent the stack creates one. */
  applicationId: z.optional(nonEmpty()),
  releaseLabel: z._default(
    z.string().check(z.regex(/^emr-\d+\.\d+\.\d+$/, 'must look like emr-7.5.0')),
    'emr-7.5.0',
  ),
  /** Role the job runs as; when absent the stack creates one. Callers never choose it. */
  executionRoleArn: z.optional(arn),
});

const s3ObjectUri = z
  .string()
  .check(z.regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+$/, 'must be an s3:// URI of an object'));

const eksBackend = z.strictObject({
  virtualClusterId: nonEmpty(),
  executionRoleArn: arn,
  releaseLabel: z._default(
    z.string().check(z.regex(/^emr-\d+\.\d+\.\d+(-latest)?$/, 'must look like emr-7.5.0-latest')),
    'emr-7.5.0-latest',
  ),
  /** The platform's EMR on EKS job template: every run of the pool starts with it. */
  jobTemplateId: z.optional(z.string().check(z.regex(/^[0-9a-z]{1,64}$/, 'must be a job template id'))),
  /** The platform's pod templates: Libra sets spark.kubernetes.*.podTemplateFile to them, callers never do. */
  podTemplate: z.optional(
    z
      .strictObject({ driver: z.optional(s3ObjectUri), executor: z.optional(s3ObjectUri) })
      .check(
        z.refine(
          (t) => t.driver !== undefined || t.executor !== undefined,
          'name a driver or an executor template',
        ),
      ),
  ),
});

/** Owner weights are kept within this range (core/fair-share.ts: a job's tag step is 10,000 / weight). */
export const MIN_OWNER_WEIGHT = 0.01;
export const MAX_OWNER_WEIGHT = 100;

/** A principal (IAM ARN or JWT subject, as in allowedPrincipals) → its share weight in the pool. */
const ownerWeights = keyedRecord(
  nonEmpty(),
  z
    .number()
    .check(
      z.minimum(MIN_OWNER_WEIGHT, `a weight is from ${MIN_OWNER_WEIGHT} to ${MAX_OWNER_WEIGHT}`),
      z.maximum(MAX_OWNER_WEIGHT, `a weight is from ${MIN_OWNER_WEIGHT} to ${MAX_OWNER_WEIGHT}`),
    ),
);

export const poolSchema = z
  .strictObject({
    cpuCores: z._default(z.number().check(z.positive()), 16),
    memoryGb: z._default(z.number().check(z.positive()), 64),
    maxConcurrentJobs: z._default(positiveInt(), 10),
    maxQueueSize: z._default(z.number().check(z.int(), z.nonnegative()), 1000),
    maxWaitMinutes: z._default(positiveInt(), 30),
    /** Admit smaller jobs past a head that does not fit. Off: the head blocks the pool. */
    backfill: z._default(z.boolean(), false),
    /** Executors counted for a dynamic-allocation job that names no maximum. */
    defaultMaxExecutors: z._default(positiveInt(), 10),
    /** Used when the request names no timeoutMinutes: EMR Serverless's own default of 12 hours. */
    defaultTimeoutMinutes: z._default(z.number().check(z.int(), z.positive(), z.maximum(10_080)), 720),
    /**
     * Used when the request names no warnAfterMinutes: a run still going after this many minutes gets
     * a DURATION_WARNING. Jobs whose timeout is not longer get none. Absent: no warning by default.
     */
    warnAfterMinutes: z.optional(z.number().check(z.int(), z.positive(), z.maximum(10_079))),
    backends: z
      ._default(
        z.strictObject({
          emrServerless: z.optional(emrServerlessBackend),
          eks: z.optional(eksBackend),
        }),
        { emrServerless: emrServerlessBackend.parse({}) },
      )
      .check(
        z.refine(
          (b) => b.emrServerless !== undefined || b.eks !== undefined,
          'a pool needs at least one backend',
        ),
      ),
    /** Principals (IAM ARNs or JWT subjects) that may submit to the pool; '*' is everyone. */
    allowedPrincipals: z._default(z.array(nonEmpty()).check(z.minLength(1)), ['*']),
    /**
     * USD per hour of the pool's compute, for each run's cost (docs/cost.md). Defaults: EMR
     * Serverless list prices in us-east-1; a pool on EMR on EKS may set its cluster's prices.
     */
    prices: z._default(
      z.strictObject({
        vcpuHour: z._default(nonNegative(), DEFAULT_PRICES.vcpuHour),
        memoryGbHour: z._default(nonNegative(), DEFAULT_PRICES.memoryGbHour),
        storageGbHour: z._default(nonNegative(), DEFAULT_PRICES.storageGbHour),
      }),
      DEFAULT_PRICES,
    ),
    /**
     * The most the pool's jobs may cost in a calendar month (UTC), in USD: once spent, submits are
     * refused (429 budget-exhausted) until the month ends, and an alarm fires at 80%. Absent: no budget.
     */
    monthlyBudgetUsd: z.optional(z.number().check(z.positive())),
    /**
     * Fair share within a priority (docs/fair-share.md): an owner of weight 2 is admitted twice as
     * often as one of weight 1 while both have jobs waiting. Owners not named weigh 1; a role ARN
     * names every session of the role.
     */
    ownerWeights: z._default(ownerWeights, {}),
    /** The most jobs one owner may have admitted at once in the pool; no cap when absent. */
    maxRunningPerOwner: z.optional(positiveInt()),
  })
  .check(
    z.refine(
      (pool) => pool.warnAfterMinutes === undefined || pool.warnAfterMinutes < pool.defaultTimeoutMinutes,
      {
        path: ['warnAfterMinutes'],
        message:
          'must be less than defaultTimeoutMinutes: a job with the default timeout would never be warned',
      },
    ),
    z.refine(
      (pool) => pool.maxRunningPerOwner === undefined || pool.maxRunningPerOwner <= pool.maxConcurrentJobs,
      {
        path: ['maxRunningPerOwner'],
        message: "must not be above the pool's maxConcurrentJobs",
      },
    ),
  );

export type PoolConfig = z.infer<typeof poolSchema>;

const poolName = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'pool names are lower-case letters, digits and dashes'));

export const libraConfigSchema = z.strictObject({
  pools: z.pipe(
    z._default(keyedRecord(poolName, poolSchema), {}),
    // `default` always exists: a configuration that leaves it out gets one with the defaults.
    z.transform(
      (pools): Record<string, PoolConfig> =>
        Object.assign(Object.create(null), { default: poolSchema.parse({}) }, pools),
    ),
  ),
  auth: z._default(
    z.discriminatedUnion('mode', [
      z.strictObject({ mode: z.literal('iam') }),
      z.strictObject({
        mode: z.literal('jwt'),
        issuer: z.url(),
        audience: z.array(nonEmpty()).check(z.minLength(1)),
      }),
    ]),
    { mode: 'iam' },
  ),
  /** Principals that see, list and cancel every job. */
  admins: z._default(z.array(nonEmpty()), []),
  retention: z._default(
    z.strictObject({ days: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(3650)), 90) }),
    { days: 90 },
  ),
  limits: z._default(
    z.strictObject({
      maxBodyBytes: z._default(positiveInt(), 256 * 1024),
      maxCodeBytes: z._default(positiveInt(), 128 * 1024),
    }),
    { maxBodyBytes: 256 * 1024, maxCodeBytes: 128 * 1024 },
  ),
  /**
   * Workflow starts that fail for a while (throttling, AWS 5xx, ExecutionLimitExceeded, the
   * network): the job keeps its lease and stays SCHEDULED, and the tick starts it again once
   * the delay after its last failed attempt has passed; after `maxAttempts` starts in all it
   * ends START_FAILED. Each attempt is itself one SDK call with its own quick retries. A start
   * AWS refuses for good (validation, access) ends the job at once. See docs/deploy.md.
   */
  startRetry: z._default(
    z.strictObject({
      maxAttempts: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(20)), 5),
      initialDelaySeconds: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(3600)), 30),
      backoffMultiplier: z._default(z.number().check(z.minimum(1), z.maximum(10)), 2),
      maxDelaySeconds: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(3600)), 300),
    }),
    { maxAttempts: 5, initialDelaySeconds: 30, backoffMultiplier: 2, maxDelaySeconds: 300 },
  ),
  alarmEmail: z.optional(z.email()),
  /**
   * Libra's own cost per job, added to each job's cost: Step Functions, Lambda, DynamoDB and SQS
   * at AWS list prices, as `npm run bench:cost` measured them (docs/benchmarks.md).
   */
  orchestration: z._default(
    z.strictObject({
      usdPerJob: z._default(nonNegative(), DEFAULT_ORCHESTRATION.usdPerJob),
      usdPerRetry: z._default(nonNegative(), DEFAULT_ORCHESTRATION.usdPerRetry),
    }),
    DEFAULT_ORCHESTRATION,
  ),
});

export type LibraConfig = z.infer<typeof libraConfigSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Parses configuration, naming every offending key from `root` (e.g.
 * `libra.pools.etl.cpuCores: Too small: expected number to be >0`).
 */
export function parseConfig(raw: unknown, root = 'libra'): LibraConfig {
  const result = libraConfigSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.flatMap((issue) => {
    const key = [root, ...issue.path.map(String)].join('.');
    // zod reports unknown keys on their parent, and a bad record key without its reason.
    if (issue.code === 'unrecognized_keys') return issue.keys.map((name) => `${key}.${name}: unknown key`);
    if (issue.code === 'invalid_key') return issue.issues.map((inner) => `${key}: ${inner.message}`);
    return [`${key}: ${issue.message}`];
  });
  throw new ConfigError(`invalid Libra configuration:\n  ${lines.join('\n  ')}`);
}

const ROLE_ARN = /^arn:([\w-]+):iam::(\d{12}):role\/(?:[^/]+\/)*([^/]+)$/;
const SESSION_ARN = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/;

/**
 * Whether a configured principal names the caller. A caller who assumed a role arrives as the
 * session (`arn:aws:sts::111122223333:assumed-role/Admin/alice`); a configured role ARN
 * (`arn:aws:iam::111122223333:role/Admin`, with or without a path) names every session of it.
 */
export function principalMatches(configured: string, caller: string): boolean {
  if (configured === caller) return true;
  const role = ROLE_ARN.exec(configured);
  const session = SESSION_ARN.exec(caller);
  return (
    role !== null &&
    session !== null &&
    role[1] === session[1] &&
    role[2] === session[2] &&
    role[3] === session[3]
  );
}

export function isAdmin(config: Pick<LibraConfig, 'admins'>, principal: string): boolean {
  return config.admins.some((admin) => principalMatches(admin, principal));
}

/** The pool of that name; undefined for any other name, `constructor` and `toString` included. */
export function poolNamed(config: LibraConfig, name: string): PoolConfig | undefined {
  return Object.hasOwn(config.pools, name) ? config.pools[name] : undefined;
}

export function mayUsePool(pool: PoolConfig, principal: string): boolean {
  return pool.allowedPrincipals.some((allowed) => allowed === '*' || principalMatches(allowed, principal));
}
