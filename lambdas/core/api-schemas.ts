import { JOB_STATUSES, type JobStatus, REASON_CODES } from './job-states.ts';
import { BACKENDS } from './placement.ts';
import * as z from './zod.ts';

/**
 * The API's answers as zod schemas: what every route returns, its RFC 9457 problems, and the
 * list route's query. The request body's schema is `jobRequestSchema` (job-request.ts). The
 * OpenAPI document (openapi.ts) is generated from these, the tests validate every answer against
 * that document, and the typed client and the CLI take their types from here.
 *
 * Answers are strict objects: a field the handlers add without adding it here makes the tests'
 * validation fail, so the document cannot fall behind what the API sends.
 */

/** The statuses a stored job can be in: SUBMITTED and VALIDATING pass inside the submit call. */
export const STORED_JOB_STATUSES = JOB_STATUSES.filter(
  (status): status is Exclude<JobStatus, 'SUBMITTED' | 'VALIDATING'> =>
    status !== 'SUBMITTED' && status !== 'VALIDATING',
);

const timestamp = z.iso.datetime({ offset: true });
const count = z.number().check(z.int(), z.minimum(0));

export const jobIdSchema = z
  .string()
  .check(z.regex(/^job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/));
export const jobStatusSchema = z.enum(STORED_JOB_STATUSES);
export const backendSchema = z.enum(BACKENDS);

/** Why a job ended (or is being cancelled). */
export const reasonSchema = z.strictObject({
  code: z.enum(REASON_CODES),
  message: z.string(),
});

export const processSizeSchema = z.strictObject({
  cores: z.number().check(z.minimum(0)),
  memoryMiB: count,
  overheadMiB: count,
  totalMemoryMiB: count,
});

/** The most a job can use, as sizing counted it from its Spark conf. */
export const resourcesSchema = z.strictObject({
  driver: processSizeSchema,
  executor: processSizeSchema,
  executors: count,
  dynamicAllocation: z.boolean(),
  totalCores: z.number().check(z.minimum(0)),
  totalMemoryMiB: count,
});

const tagsSchema = z.record(z.string(), z.string());

/** 202 from submit (also a replay of the same Idempotency-Key and body: the job as it is now). */
export const submitAcceptedSchema = z.strictObject({
  jobId: jobIdSchema,
  status: jobStatusSchema,
  submittedAt: timestamp,
});

/** 202 from a re-run: the new job, and the job it re-runs. */
export const rerunAcceptedSchema = z.strictObject({
  jobId: jobIdSchema,
  status: jobStatusSchema,
  submittedAt: timestamp,
  rerunOf: jobIdSchema,
});

/**
 * How far a running job has got, as its driver last reported: Spark's stages and tasks done of
 * those known so far. `fraction` (0–1) is absent where it cannot be known. Kept once the job ends.
 */
export const progressSchema = z.strictObject({
  stagesDone: count,
  stagesTotal: count,
  tasksDone: count,
  tasksTotal: count,
  fraction: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
  updatedAt: timestamp,
});

const usd = z.number().check(z.minimum(0));
const figure = z.number().check(z.minimum(0));

/**
 * What a job's runs used and cost, summed over its attempts (docs/cost.md). `estimate` is false
 * only when every run's figures are what EMR Serverless billed; EMR on EKS runs are estimated
 * from their sized resources, local runs from the engine's measurement.
 */
export const costSchema = z.strictObject({
  vcpuHours: figure,
  memoryGbHours: figure,
  storageGbHours: figure,
  durationSeconds: figure,
  /** Local runs: the CPU time measured. */
  cpuSeconds: z.optional(figure),
  /** Local runs: the most memory one run held at once. */
  peakMemoryMb: z.optional(figure),
  /** The runs counted (each attempt that ran). */
  runs: count,
  computeUsd: usd,
  orchestrationUsd: usd,
  usd,
  estimate: z.boolean(),
});

/** What a job's status and its line in a list both say. */
const jobFields = {
  jobId: jobIdSchema,
  status: jobStatusSchema,
  name: z.optional(z.string()),
  pool: z.string(),
  backend: backendSchema,
  priority: z.number().check(z.int(), z.minimum(1), z.maximum(10)),
  tags: tagsSchema,
  attempts: count,
  reason: z.optional(reasonSchema),
  submittedAt: timestamp,
  queuedAt: z.optional(timestamp),
  scheduledAt: z.optional(timestamp),
  startedAt: z.optional(timestamp),
  completedAt: z.optional(timestamp),
  cancelledAt: z.optional(timestamp),
  progress: z.optional(progressSchema),
};

/** GET /jobs/{jobId}. */
export const statusViewSchema = z.strictObject({
  ...jobFields,
  resources: resourcesSchema,
  /** 1 = next to be admitted in its pool; only while QUEUED. */
  queuePosition: z.optional(z.number().check(z.int(), z.minimum(1))),
  /** With queuePosition: false when counted among the pool's first waiting jobs, true when estimated past them. */
  queuePositionEstimated: z.optional(z.boolean()),
  run: z.optional(z.strictObject({ id: z.string(), state: z.optional(z.string()) })),
  links: z.optional(z.record(z.string(), z.url())),
  rerunOf: z.optional(jobIdSchema),
  reruns: z.optional(z.array(jobIdSchema)),
  rerunCount: z.optional(count),
  /** Present once a run has ended and its usage is known. */
  cost: z.optional(costSchema),
});

/** One job in a list page: what the owner index holds. */
export const jobSummarySchema = z.strictObject({ ...jobFields, updatedAt: timestamp });

/** GET /jobs: newest first; `nextToken` while more pages follow. */
export const jobPageSchema = z.strictObject({
  jobs: z.array(jobSummarySchema),
  nextToken: z.optional(z.string().check(z.minLength(1))),
});

/** A status move: written by the API, the admission and the job's workflow. */
export const statusEventSchema = z.strictObject({
  jobId: jobIdSchema,
  at: timestamp,
  type: z.literal('STATUS'),
  status: jobStatusSchema,
  from: z.optional(jobStatusSchema),
  reason: z.optional(reasonSchema),
  /** The run attempt the move belongs to (0 = the first run), from the workflow's moves. */
  attempt: z.optional(count),
  /** A failed run that is retried: the error the workflow caught. */
  error: z.optional(z.strictObject({ name: z.string(), cause: z.string() })),
  /** A failed run that is retried: the wait before the next attempt. */
  delaySeconds: z.optional(count),
});

export const webhookDeliverySchema = z.strictObject({
  webhookId: z.string(),
  eventType: z.string(),
  attempt: z.number().check(z.int(), z.minimum(1)),
  outcome: z.enum(['delivered', 'failed', 'gone', 'blocked']),
  durationMs: count,
  statusCode: z.optional(z.number().check(z.int())),
  error: z.optional(z.string()),
});

/** A webhook delivery attempt for a status the job reached, or for its duration warning (`eventType`). */
export const webhookEventSchema = z.strictObject({
  jobId: jobIdSchema,
  at: timestamp,
  type: z.literal('WEBHOOK'),
  status: jobStatusSchema,
  detail: webhookDeliverySchema,
});

/**
 * A run went past the job's `warnAfterMinutes` (once per attempt): `at` is when it did, the
 * tick's `detectedAt` at most a minute later.
 */
export const durationWarningEventSchema = z.strictObject({
  jobId: jobIdSchema,
  at: timestamp,
  type: z.literal('DURATION_WARNING'),
  status: z.literal('RUNNING'),
  detail: z.strictObject({
    /** The run attempt that went past it (0 = the first run). */
    attempt: count,
    warnAfterMinutes: z.number().check(z.int(), z.minimum(1)),
    runStartedAt: timestamp,
    detectedAt: timestamp,
  }),
});

/**
 * How far the job had got while it ran: written to the history at most every few minutes, never
 * once per report (the job's status always has the latest).
 */
export const progressEventSchema = z.strictObject({
  jobId: jobIdSchema,
  at: timestamp,
  type: z.literal('PROGRESS'),
  status: jobStatusSchema,
  progress: progressSchema,
});

export const jobEventSchema = z.discriminatedUnion('type', [
  statusEventSchema,
  webhookEventSchema,
  durationWarningEventSchema,
  progressEventSchema,
]);

/** GET /jobs/{jobId}/events: oldest first. */
export const jobEventsSchema = z.strictObject({
  jobId: jobIdSchema,
  events: z.array(jobEventSchema),
});

/** DELETE /jobs/{jobId}: 200 CANCELLED (or the end the run reached first), 202 CANCELLING. */
export const cancelResultSchema = z.strictObject({
  jobId: jobIdSchema,
  status: jobStatusSchema,
  cancelledAt: z.optional(timestamp),
  message: z.string(),
});

export const poolViewSchema = z.strictObject({
  name: z.string(),
  limits: z.strictObject({
    cpuCores: z.number().check(z.minimum(0)),
    memoryGb: z.number().check(z.minimum(0)),
    maxConcurrentJobs: count,
    maxQueueSize: count,
    maxWaitMinutes: z.number().check(z.minimum(0)),
    /** The most jobs one owner may have admitted at once (fair share, docs/fair-share.md); absent: no cap. */
    maxRunningPerOwner: z.optional(count),
    /** The most the pool's runs may cost in a calendar month (UTC), in USD (docs/cost.md); absent: no budget. */
    monthlyBudgetUsd: z.optional(z.number().check(z.positive())),
  }),
  used: z.strictObject({
    cpuCores: z.number().check(z.minimum(0)),
    memoryGb: z.number().check(z.minimum(0)),
  }),
  running: count,
  waiting: count,
  backfill: z.boolean(),
  backends: z.array(backendSchema),
  /** The caller's share: its fair-share weight in the pool and how many of its jobs are admitted now. */
  you: z.strictObject({ weight: z.number().check(z.positive()), running: count }),
});

/** GET /pools: the pools the caller may use (admins: all). */
export const poolListSchema = z.strictObject({ pools: z.array(poolViewSchema) });

export const fieldProblemSchema = z.strictObject({
  /** Dotted path of the field, e.g. `retryPolicy.maxRetries`; '' for the whole body. */
  field: z.string(),
  message: z.string(),
});

/**
 * RFC 9457 problem details (application/problem+json). 4xx carry `errors`, one per field; a
 * 5xx is masked and carries the request id to quote instead.
 */
export const problemSchema = z.strictObject({
  type: z.string().check(z.minLength(1)),
  title: z.string(),
  status: z.number().check(z.int(), z.minimum(400), z.maximum(599)),
  detail: z.string(),
  instance: z.string(),
  errors: z.optional(z.array(fieldProblemSchema)),
  /** On a 429: whole seconds to wait before trying again, as in its Retry-After header. */
  retryAfter: z.optional(z.number().check(z.int(), z.minimum(0))),
  /** On a 429 budget-exhausted: the pool, the month, what it spent and its budget. */
  budget: z.optional(
    z.strictObject({
      pool: z.string(),
      month: z.string().check(z.regex(/^\d{4}-\d{2}$/)),
      spendUsd: usd,
      budgetUsd: usd,
    }),
  ),
  requestId: z.optional(z.string()),
});

/** What API Gateway itself answers (no route, throttled, unauthenticated, a Lambda that failed). */
export const gatewayErrorSchema = z.strictObject({ message: z.string() });

export const USAGE_GROUPS = ['owner', 'pool', 'tag'] as const;

/** One group's totals: an owner, a pool, or a tag as `key=value`. */
export const usageTotalsSchema = z.strictObject({
  key: z.string(),
  runs: count,
  /** Runs whose figures are estimates (EMR on EKS, local), not what AWS billed. */
  estimatedRuns: count,
  vcpuHours: figure,
  memoryGbHours: figure,
  storageGbHours: figure,
  durationSeconds: figure,
  computeUsd: usd,
  orchestrationUsd: usd,
  usd,
});

/** GET /usage: totals of the runs that ended from `from` to `to` (UTC days, both included), by group. */
export const usageReportSchema = z.strictObject({
  from: z.iso.date(),
  to: z.iso.date(),
  groupBy: z.enum(USAGE_GROUPS),
  /** Whose runs: the caller's own, or everyone's (admins). */
  scope: z.enum(['own', 'all']),
  groups: z.array(usageTotalsSchema),
  total: usageTotalsSchema,
});

/** GET /usage query parameters. */
export const usageQuerySchema = z.strictObject({
  from: z.optional(z.iso.date()),
  to: z.optional(z.iso.date()),
  groupBy: z.optional(z.enum(USAGE_GROUPS)),
  /** Admins: `all` (the default for them) or `own`. Others always see their own. */
  scope: z.optional(z.enum(['own', 'all'])),
});

/** GET /jobs query parameters, as the list route reads them. */
export const listJobsQuerySchema = z.strictObject({
  status: z.optional(jobStatusSchema),
  pool: z.optional(z.string()),
  /** `key` (has the tag) or `key=value`. */
  tag: z.optional(z.string().check(z.regex(/^[^=]+(=.*)?$/))),
  limit: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(100))),
  nextToken: z.optional(z.string()),
  /** Admins only: another caller's jobs. */
  owner: z.optional(z.string()),
});

export type SubmitAccepted = z.output<typeof submitAcceptedSchema>;
export type RerunAccepted = z.output<typeof rerunAcceptedSchema>;
export type StatusViewBody = z.output<typeof statusViewSchema>;
export type JobSummaryBody = z.output<typeof jobSummarySchema>;
export type JobPageBody = z.output<typeof jobPageSchema>;
export type JobEventBody = z.output<typeof jobEventSchema>;
export type JobEventsBody = z.output<typeof jobEventsSchema>;
export type CancelResultBody = z.output<typeof cancelResultSchema>;
export type PoolViewBody = z.output<typeof poolViewSchema>;
export type PoolListBody = z.output<typeof poolListSchema>;
export type ProblemBody = z.output<typeof problemSchema>;
export type GatewayErrorBody = z.output<typeof gatewayErrorSchema>;
export type ListJobsQuery = z.input<typeof listJobsQuerySchema>;
export type ProgressBody = z.output<typeof progressSchema>;
export type CostBody = z.output<typeof costSchema>;
export type UsageReportBody = z.output<typeof usageReportSchema>;
export type UsageTotalsBody = z.output<typeof usageTotalsSchema>;
export type UsageQuery = z.input<typeof usageQuerySchema>;
