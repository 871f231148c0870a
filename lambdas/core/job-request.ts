import {
  AWS_LIMIT_NOTE,
  MAX_SPARK_CONF_KEYS,
  MAX_SPARK_CONF_VALUE_LENGTH,
  MAX_USER_TAGS,
} from './aws-limits.ts';
import { type FieldProblem, ValidationError } from './errors.ts';
import { JOB_STATUSES, type JobStatus } from './job-states.ts';
import { keyedRecord } from './keyed-record.ts';
import { sparkConfProblems } from './spark-conf-policy.ts';
import * as z from './zod.ts';

/**
 * The job request: the original Libra's body verbatim, plus the EMR-native form. One schema
 * serves the handlers, the docs and the tests.
 */

/** The seed's execution modes, kept as aliases of the backends that replace them. */
export const EXECUTION_MODE_ALIASES: ReadonlyMap<string, 'emr-serverless' | 'eks'> = new Map([
  ['in-cluster', 'emr-serverless'],
  ['spark-submit', 'emr-serverless'],
  ['kubernetes', 'eks'],
]);

export const EXECUTION_MODES = ['auto', 'emr-serverless', 'eks'] as const;
export type ExecutionMode = (typeof EXECUTION_MODES)[number];

export const JOB_KINDS = ['sql', 'python'] as const;

/** A whole number from `min` to `max`. */
const intBetween = (min: number, max: number) => z.number().check(z.int(), z.minimum(min), z.maximum(max));

export const retryPolicySchema = z.strictObject({
  maxRetries: z._default(intBetween(0, 10), 3),
  backoffMultiplier: z._default(z.number().check(z.minimum(1), z.maximum(10)), 2),
  initialDelaySeconds: z._default(intBetween(1, 3600), 1),
  maxDelaySeconds: z._default(intBetween(1, 3600), 60),
});
export type RetryPolicy = z.infer<typeof retryPolicySchema>;
const DEFAULT_RETRY_POLICY: RetryPolicy = retryPolicySchema.parse({});

const webhookUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).check(z.maxLength(2048));

/** A run that went past its `warnAfterMinutes`: a history event and a webhook event, not a status. */
export const DURATION_WARNING = 'DURATION_WARNING';

/** What a job's owner may subscribe its webhook to: the statuses it may reach, and its duration warning. */
export const NOTIFICATION_EVENTS = [
  ...JOB_STATUSES.filter(
    (s): s is Exclude<JobStatus, 'SUBMITTED' | 'VALIDATING'> => s !== 'SUBMITTED' && s !== 'VALIDATING',
  ),
  DURATION_WARNING,
] as const;
export type NotificationEvent = JobStatus | typeof DURATION_WARNING;

/** The longest run Libra allows (EMR Serverless's own limit on its execution timeout: 7 days). */
const MAX_RUN_MINUTES = 10_080;

export const notificationsSchema = z.strictObject({
  webhook: webhookUrl,
  events: z._default(z.array(z.enum(NOTIFICATION_EVENTS)).check(z.minLength(1)), [
    'SUCCEEDED',
    'FAILED',
    'CANCELLED',
    'TIMEOUT',
  ]),
});

const s3Uri = z
  .string()
  .check(z.regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, 'must be an s3:// URI'));
const tagKey = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(128),
    z.regex(/^[\w.:/=+\-@ ]+$/, 'letters, digits, spaces and _.:/=+-@ only'),
  );
/** Holds a character that is neither whitespace nor invisible (a zero-width space, a BOM …). */
const NOT_BLANK = /[^\s\p{Cf}]/u;
/** A string of `min` to `max` characters. */
const text = (min: number, max: number) => z.string().check(z.minLength(min), z.maxLength(max));

const priorityField = intBetween(1, 10);
const timeoutField = intBetween(1, MAX_RUN_MINUTES);
const nameField = text(1, 256);
const tagsField = keyedRecord(tagKey, z.string().check(z.maxLength(256)));
// Checked on the field itself so that forbidden keys are reported even when other fields are invalid.
const sparkConfField = keyedRecord(
  text(1, 256),
  z
    .string()
    .check(
      z.maxLength(
        MAX_SPARK_CONF_VALUE_LENGTH,
        `at most ${MAX_SPARK_CONF_VALUE_LENGTH} characters ${AWS_LIMIT_NOTE.propertyValue}`,
      ),
    ),
  z.superRefine((conf, ctx) => {
    for (const problem of sparkConfProblems(conf)) {
      ctx.addIssue({ code: 'custom', path: [problem.key], message: problem.message });
    }
  }),
);

export const jobRequestSchema = z
  .strictObject({
    // Blank code would only be run, fail and be retried until its retries are spent.
    code: z.optional(z.string().check(z.regex(NOT_BLANK, 'must not be empty or only whitespace'))),
    kind: z.optional(z.enum(JOB_KINDS)),
    entryPoint: z.optional(s3Uri),
    entryPointArguments: z.optional(z.array(z.string().check(z.maxLength(10_240))).check(z.maxLength(100))),
    mainClass: z.optional(
      z.string().check(z.regex(/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/, 'must be a Java class name')),
    ),
    executionMode: z._default(
      z.pipe(
        z.pipe(
          z.string(),
          z.transform((mode: string) => EXECUTION_MODE_ALIASES.get(mode) ?? mode),
        ),
        z.enum(EXECUTION_MODES, { error: `must be one of ${[...EXECUTION_MODES].join(', ')}` }),
      ),
      'auto',
    ),
    priority: z._default(priorityField, 5),
    retryPolicy: z._default(retryPolicySchema, DEFAULT_RETRY_POLICY),
    retryOnTimeout: z._default(z.boolean(), false),
    notifications: z.optional(notificationsSchema),
    timeoutMinutes: z.optional(timeoutField),
    /** A run still going after this many minutes gets a DURATION_WARNING (once per attempt). */
    warnAfterMinutes: z.optional(intBetween(1, MAX_RUN_MINUTES - 1)),
    sparkConf: z._default(sparkConfField, {}),
    name: z.optional(nameField),
    tags: z._default(tagsField, {}),
    pool: z.optional(text(1, 40)),
  })
  .check(
    z.superRefine((req, ctx) => {
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
      if (req.entryPointArguments !== undefined && req.code !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['entryPointArguments'],
          message: 'only with an entryPoint: inline code takes no arguments, so they would be ignored',
        });
      }
      // The backend's own limits (fewer tags on EMR on EKS) are checked once it is chosen.
      if (Object.keys(req.tags).length > MAX_USER_TAGS) {
        ctx.addIssue({
          code: 'custom',
          path: ['tags'],
          message: `at most ${MAX_USER_TAGS} tags ${AWS_LIMIT_NOTE.tags}`,
        });
      }
      if (Object.keys(req.sparkConf).length > MAX_SPARK_CONF_KEYS) {
        ctx.addIssue({
          code: 'custom',
          path: ['sparkConf'],
          message: `at most ${MAX_SPARK_CONF_KEYS} keys ${AWS_LIMIT_NOTE.properties}`,
        });
      }
      // Against the pool's default timeout, when the request names none, once the pool is known.
      if (
        req.warnAfterMinutes !== undefined &&
        req.timeoutMinutes !== undefined &&
        req.warnAfterMinutes >= req.timeoutMinutes
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['warnAfterMinutes'],
          message: `must be less than timeoutMinutes (${req.timeoutMinutes}): the run times out first`,
        });
      }
      if (req.retryPolicy.initialDelaySeconds > req.retryPolicy.maxDelaySeconds) {
        ctx.addIssue({
          code: 'custom',
          path: ['retryPolicy', 'initialDelaySeconds'],
          message: 'must not exceed maxDelaySeconds',
        });
      }
    }),
  );

export type JobRequestInput = z.input<typeof jobRequestSchema>;

/**
 * What a re-run may change of the original's request; each field given replaces the original's
 * field whole (a `sparkConf` or `tags` given is the new conf or tags, not merged into the old).
 * The request they make is then validated exactly as a submit.
 */
export const rerunOverridesSchema = z.strictObject({
  priority: z.optional(priorityField),
  sparkConf: z.optional(sparkConfField),
  timeoutMinutes: z.optional(timeoutField),
  retryPolicy: z.optional(retryPolicySchema),
  name: z.optional(nameField),
  tags: z.optional(tagsField),
});
export type RerunOverrides = z.input<typeof rerunOverridesSchema>;
export type JobRequest = z.output<typeof jobRequestSchema>;

/**
 * The warning a job takes: its request's, else its pool's default — which a job whose timeout is
 * not longer does without; a request's own warning past its timeout is refused.
 */
export function warnAfterMinutes(
  request: Pick<JobRequest, 'warnAfterMinutes'>,
  pool: { readonly warnAfterMinutes?: number | undefined },
  timeoutMinutes: number,
): number | undefined {
  const requested = request.warnAfterMinutes;
  if (requested === undefined) {
    const fallback = pool.warnAfterMinutes;
    return fallback !== undefined && fallback < timeoutMinutes ? fallback : undefined;
  }
  if (requested >= timeoutMinutes) {
    throw new ValidationError('warnAfterMinutes is not less than the timeout', [
      {
        field: 'warnAfterMinutes',
        message: `must be less than the job's timeout (${timeoutMinutes} minutes, its pool's default): the run times out first`,
      },
    ]);
  }
  return requested;
}

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
  return { ok: false, errors: fieldProblems(result.error.issues) };
}

/** The overrides of a re-run, or a 400's problems naming each invalid or unknown field. */
export function parseRerunOverrides(
  body: unknown,
): { ok: true; overrides: RerunOverrides } | { ok: false; errors: FieldProblem[] } {
  const result = rerunOverridesSchema.safeParse(body ?? {});
  if (result.success)
    return { ok: true, overrides: body === undefined || body === null ? {} : (body as RerunOverrides) };
  return { ok: false, errors: fieldProblems(result.error.issues) };
}

function fieldProblems(issues: readonly z.core.$ZodIssue[]): FieldProblem[] {
  return issues.flatMap((issue): FieldProblem[] => {
    const path = issue.path.map(String);
    // zod reports unknown keys on their parent object; name each key as its own field.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: [...path, key].join('.'), message: 'unknown field' }));
    }
    return [{ field: path.join('.'), message: issue.message }];
  });
}
