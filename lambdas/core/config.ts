import { z } from 'zod';

/**
 * Libra's configuration: one schema, read by the CDK app from the `libra` key of cdk.json
 * context and by the local runtime from the file named by LIBRA_CONFIG. Defaults follow the
 * original Libra (16 cores, 64 GB, 10 concurrent jobs, queue of 1,000, 30 minutes wait).
 */
const arn = z.string().regex(/^arn:aws[a-zA-Z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+$/, 'must be an ARN');

const emrServerlessBackend = z.strictObject({
  /** Use an existing application; when absent the stack creates one. */
  applicationId: z.string().min(1).optional(),
  releaseLabel: z
    .string()
    .regex(/^emr-\d+\.\d+\.\d+$/, 'must look like emr-7.5.0')
    .default('emr-7.5.0'),
  /** Role the job runs as; when absent the stack creates one. Callers never choose it. */
  executionRoleArn: arn.optional(),
});

const eksBackend = z.strictObject({
  virtualClusterId: z.string().min(1),
  executionRoleArn: arn,
  releaseLabel: z
    .string()
    .regex(/^emr-\d+\.\d+\.\d+(-latest)?$/, 'must look like emr-7.5.0-latest')
    .default('emr-7.5.0-latest'),
});

export const poolSchema = z.strictObject({
  cpuCores: z.number().positive().default(16),
  memoryGb: z.number().positive().default(64),
  maxConcurrentJobs: z.number().int().positive().default(10),
  maxQueueSize: z.number().int().nonnegative().default(1000),
  maxWaitMinutes: z.number().int().positive().default(30),
  /** Admit smaller jobs past a head that does not fit. Off: the head blocks the pool. */
  backfill: z.boolean().default(false),
  /** Executors counted for a dynamic-allocation job that names no maximum. */
  defaultMaxExecutors: z.number().int().positive().default(10),
  /** Used when the request names no timeoutMinutes: EMR Serverless's own default of 12 hours. */
  defaultTimeoutMinutes: z.number().int().positive().max(10_080).default(720),
  backends: z
    .strictObject({
      emrServerless: emrServerlessBackend.optional(),
      eks: eksBackend.optional(),
    })
    .default({ emrServerless: emrServerlessBackend.parse({}) })
    .refine((b) => b.emrServerless !== undefined || b.eks !== undefined, 'a pool needs at least one backend'),
  /** Principals (IAM ARNs or JWT subjects) that may submit to the pool; '*' is everyone. */
  allowedPrincipals: z.array(z.string().min(1)).min(1).default(['*']),
});

export type PoolConfig = z.infer<typeof poolSchema>;

const poolName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'pool names are lower-case letters, digits and dashes');

export const libraConfigSchema = z.strictObject({
  pools: z
    .record(poolName, poolSchema)
    .default({})
    // `default` always exists: a configuration that leaves it out gets one with the defaults.
    .transform((pools): Record<string, PoolConfig> => ({ default: poolSchema.parse({}), ...pools })),
  auth: z
    .discriminatedUnion('mode', [
      z.strictObject({ mode: z.literal('iam') }),
      z.strictObject({
        mode: z.literal('jwt'),
        issuer: z.url(),
        audience: z.array(z.string().min(1)).min(1),
      }),
    ])
    .default({ mode: 'iam' }),
  /** Principals that see, list and cancel every job. */
  admins: z.array(z.string().min(1)).default([]),
  retention: z.strictObject({ days: z.number().int().min(1).max(3650).default(90) }).default({ days: 90 }),
  limits: z
    .strictObject({
      maxBodyBytes: z
        .number()
        .int()
        .positive()
        .default(256 * 1024),
      maxCodeBytes: z
        .number()
        .int()
        .positive()
        .default(128 * 1024),
    })
    .default({ maxBodyBytes: 256 * 1024, maxCodeBytes: 128 * 1024 }),
  alarmEmail: z.email().optional(),
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

export function isAdmin(config: LibraConfig, principal: string): boolean {
  return config.admins.includes(principal);
}

export function mayUsePool(pool: PoolConfig, principal: string): boolean {
  return pool.allowedPrincipals.includes('*') || pool.allowedPrincipals.includes(principal);
}
