import { z } from 'zod';
import type { FieldProblem } from './errors.ts';
import { JOB_STATUSES } from './job-states.ts';
import { sparkConfProblems } from './spark-conf-policy.ts';

/**
 * The job request: the original Libra's body verbatim, plus the EMR-native form. One schema
 * serves the handlers, the docs and the tests.
 */

/** The seed's execution modes, kept as aliases of the backends that replace them. */
const EXECUTION_MODE_ALIASES: Readonly<Record<string, 'emr-serverless' | 'eks'>> = {
  'in-cluster': 'emr-serverless',
  'spark-submit': 'emr-serverless',
  kubernetes: 'eks',
};

export const EXECUTION_MODES = ['auto', 'emr-serverless', 'eks'] as const;
export type ExecutionMode = (typeof EXECUTION_MODES)[number];

export const JOB_KINDS = ['sql', 'python'] as const;

export const retryPolicySchema = z.strictObject({
  maxRetries: z.number().int().min(0).max(10).default(3),
  backoffMultiplier: z.number().min(1).max(10).default(2),
  initialDelaySeconds: z.number().int().min(1).max(3600).default(1),
  maxDelaySeconds: z.number().int().min(1).max(3600).default(60),
});
export type RetryPolicy = z.infer<typeof retryPolicySchema>;
const DEFAULT_RETRY_POLICY: RetryPolicy = retryPolicySchema.parse({});

const webhookUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048);

export const notificationsSchema = z.strictObject({
  webhook: webhookUrl,
  events: z
    .array(z.enum(JOB_STATUSES.filter((s) => s !== 'SUBMITTED' && s !== 'VALIDATING')))
    .min(1)
    .default(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT']),
});

const s3Uri = z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, 'must be an s3:// URI');
const tagKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w.:/=+\-@ ]+$/, 'letters, digits, spaces and _.:/=+-@ only');

export const jobRequestSchema = z
  .strictObject({
    code: z.string().min(1).optional(),
    kind: z.enum(JOB_KINDS).optional(),
    entryPoint: s3Uri.optional(),
    entryPointArguments: z.array(z.string().max(10_240)).max(100).optional(),
    mainClass: z
      .string()
      .regex(/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/, 'must be a Java class name')
      .optional(),
    executionMode: z
      .string()
      .transform((mode) => EXECUTION_MODE_ALIASES[mode] ?? mode)
      .pipe(z.enum(EXECUTION_MODES, { error: `must be one of ${[...EXECUTION_MODES].join(', ')}` }))
      .default('auto'),
    priority: z.number().int().min(1).max(10).default(5),
    retryPolicy: retryPolicySchema.default(DEFAULT_RETRY_POLICY),
    retryOnTimeout: z.boolean().default(false),
    notifications: notificationsSchema.optional(),
    timeoutMinutes: z.number().int().min(1).max(10_080).optional(),
    // Checked on the field itself so that forbidden keys are reported even when other fields are invalid.
    sparkConf: z
      .record(z.string().min(1).max(256), z.string().max(4096))
      .superRefine((conf, ctx) => {
        for (const problem of sparkConfProblems(conf)) {
          ctx.addIssue({ code: 'custom', path: [problem.key], message: problem.message });
        }
      })
      .default({}),
    name: z.string().min(1).max(256).optional(),
    tags: z.record(tagKey, z.string().max(256)).default({}),
    pool: z.string().min(1).max(40).optional(),
  })
  .superRefine((req, ctx) => {
    if ((req.code === undefined) === (req.entryPoint === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['code'],
        message: 'exactly one of code and entryPoint is required',
      });
    }
    if (req.code !== undefined && req.kind === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['kind'],
        message: `required with code: one of ${JOB_KINDS.join(', ')}`,
      });
    }
    if (req.mainClass !== undefined && (req.code !== undefined || jobTypeOf(req) !== 'jar')) {
      ctx.addIssue({ code: 'custom', path: ['mainClass'], message: 'only with a JAR entryPoint' });
    }
    if (Object.keys(req.tags).length > 50) {
      ctx.addIssue({ code: 'custom', path: ['tags'], message: 'at most 50 tags' });
    }
    if (Object.keys(req.sparkConf).length > 200) {
      ctx.addIssue({ code: 'custom', path: ['sparkConf'], message: 'at most 200 keys' });
    }
    if (req.retryPolicy.initialDelaySeconds > req.retryPolicy.maxDelaySeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['retryPolicy', 'initialDelaySeconds'],
        message: 'must not exceed maxDelaySeconds',
      });
    }
  });

export type JobRequestInput = z.input<typeof jobRequestSchema>;
export type JobRequest = z.output<typeof jobRequestSchema>;

/** What the job runs: inline SQL or Python, or a file in S3 (Python script or JAR). */
export type JobType = 'sql' | 'python' | 'jar';

export function jobTypeOf(req: {
  readonly kind?: (typeof JOB_KINDS)[number] | undefined;
  readonly entryPoint?: string | undefined;
}): JobType {
  if (req.kind !== undefined) return req.kind;
  const entry = req.entryPoint ?? '';
  if (entry.endsWith('.py')) return 'python';
  if (entry.endsWith('.sql')) return 'sql';
  return 'jar';
}

export type ParseResult = { ok: true; request: JobRequest } | { ok: false; errors: FieldProblem[] };

export function parseJobRequest(body: unknown): ParseResult {
  const result = jobRequestSchema.safeParse(body);
  if (result.success) return { ok: true, request: result.data };
  return {
    ok: false,
    errors: result.error.issues.flatMap((issue): FieldProblem[] => {
      const path = issue.path.map(String);
      // zod reports unknown keys on their parent object; name each key as its own field.
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => ({ field: [...path, key].join('.'), message: 'unknown field' }));
      }
      return [{ field: path.join('.'), message: issue.message }];
    }),
  };
}
