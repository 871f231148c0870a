import { progressSchema } from '#core/api-schemas.ts';
import type { RunCost } from '#core/cost.ts';
import type { FieldProblem } from '#core/errors.ts';
import type { JobEvent, JobRecord, JobSpec, Reservation } from '#core/job-record.ts';
import { NOTIFICATION_EVENTS } from '#core/job-request.ts';
import { JOB_STATUSES, REASON_CODES, type Reason } from '#core/job-states.ts';
import { BACKENDS } from '#core/placement.ts';
import type { JobSummary, Lease, WaitingJob } from '#core/ports.ts';
import type { Progress, ProgressEntries } from '#core/progress.ts';
import type { ProcessSize, Resources } from '#core/sizing.ts';
import * as z from '#core/zod.ts';

/**
 * The items of the job table as they are read back: each is parsed into the type the core works
 * with, so that a malformed item (written by hand, by an older version, or by a bug) fails where
 * it is read, naming the item and the field, instead of travelling on under a type it does not
 * have. The schemas are built once, at module load; parsing an item is one pass over its fields.
 *
 * Object schemas drop the attributes they do not name (the table's keys and index attributes),
 * so every field of the core type must be named here: `Fields<T>` makes a schema that misses one,
 * or names one the type lacks, fail to compile.
 */
type Fields<T> = { readonly [K in keyof T]-?: z.ZodMiniType };

/** A stored item that is not what its key says it is. */
export class StoredItemInvalid extends Error {
  /** The item's key, `pk/sk`, e.g. `JOB#job-…/META`. */
  readonly item: string;
  readonly fields: readonly FieldProblem[];

  constructor(item: string, what: string, fields: readonly FieldProblem[]) {
    const list = fields.map((f) => `${f.field || '(item)'}: ${f.message}`).join('; ');
    super(`stored item ${item} is not a valid ${what}: ${list}`);
    this.name = 'StoredItemInvalid';
    this.item = item;
    this.fields = fields;
  }
}

const text = z.string();
const count = z.number();
const stringMap = z.record(z.string(), z.string());
const status = z.enum(JOB_STATUSES);

const reasonSchema = z.object({
  code: z.enum(REASON_CODES),
  message: text,
} satisfies Fields<Reason>);

const reservationFields = { cpuCores: count, memoryMiB: count } satisfies Fields<Reservation>;
const reservationSchema = z.object(reservationFields);

const processSizeSchema = z.object({
  cores: count,
  memoryMiB: count,
  overheadMiB: count,
  totalMemoryMiB: count,
} satisfies Fields<ProcessSize>);

const resourcesSchema = z.object({
  driver: processSizeSchema,
  executor: processSizeSchema,
  executors: count,
  dynamicAllocation: z.boolean(),
  totalCores: count,
  totalMemoryMiB: count,
} satisfies Fields<Resources>);

const specSchema = z.object({
  jobType: z.enum(['sql', 'python', 'jar']),
  code: z.optional(text),
  entryPoint: z.optional(text),
  entryPointArguments: z.optional(z.array(text)),
  mainClass: z.optional(text),
  sparkConf: stringMap,
  retryPolicy: z.object({
    maxRetries: count,
    backoffMultiplier: count,
    initialDelaySeconds: count,
    maxDelaySeconds: count,
  } satisfies Fields<JobSpec['retryPolicy']>),
  retryDelaysSeconds: z.array(count),
  retryOnTimeout: z.boolean(),
  timeoutMinutes: count,
  notifications: z.optional(
    z.object({ webhook: text, events: z.array(z.enum(NOTIFICATION_EVENTS)) } satisfies Fields<
      NonNullable<JobSpec['notifications']>
    >),
  ),
  warnAfterMinutes: z.optional(count),
} satisfies Fields<JobSpec>);

const runCostSchema = z.object({
  source: z.enum(['billed', 'reported', 'sized', 'measured']),
  vcpuHours: count,
  memoryGbHours: count,
  storageGbHours: count,
  durationSeconds: count,
  cpuSeconds: z.optional(count),
  peakMemoryMb: z.optional(count),
  attempt: count,
  estimate: z.boolean(),
  usd: count,
  orchestrationUsd: count,
  at: text,
} satisfies Fields<RunCost>);
/**
 * A job's `progress` is written by its Spark driver, which runs the caller's code with the job
 * execution role: whatever is stored there is read as the API shows it, or as no progress at all,
 * so that a malformed value never fails the job's status or its list.
 */
const storedProgress = z.catch(
  z.optional(
    z.pipe(
      progressSchema,
      z.transform((progress): Progress => progress),
    ),
  ),
  undefined,
);

const progressEntriesSchema = z.object({
  at: text,
  count,
  reportedAt: text,
} satisfies Fields<ProgressEntries>);

const jobRecordFields = {
  jobId: text,
  owner: text,
  status,
  pool: text,
  backend: z.enum(BACKENDS),
  priority: count,
  name: z.optional(text),
  tags: stringMap,
  spec: specSchema,
  resources: resourcesSchema,
  reservation: reservationSchema,
  attempts: count,
  submittedAt: text,
  queuedAt: z.optional(text),
  scheduledAt: z.optional(text),
  startedAt: z.optional(text),
  completedAt: z.optional(text),
  cancelledAt: z.optional(text),
  updatedAt: text,
  reason: z.optional(reasonSchema),
  backendRunId: z.optional(text),
  backendState: z.optional(text),
  backendDetails: z.optional(text),
  backendUpdatedAt: z.optional(text),
  lastError: z.optional(
    z.object({ name: text, cause: text } satisfies Fields<NonNullable<JobRecord['lastError']>>),
  ),
  links: z.optional(stringMap),
  startAttempts: z.optional(count),
  nextStartAt: z.optional(text),
  webhookDisabledAt: z.optional(text),
  runStartedAt: z.optional(text),
  warnAt: z.optional(text),
  /** The job's place among its priority's queue slots (core/queue-position.ts). */
  queueSeq: z.optional(count),
  runCosts: z.optional(z.record(z.string(), runCostSchema)),
  fairTag: z.optional(count),
  requestHash: text,
  // The stored request is validated again, as a submit, when it is re-run: kept here as written.
  request: z.optional(z.record(z.string(), z.unknown())),
  rerunOf: z.optional(text),
  reruns: z.optional(z.array(text)),
  rerunCount: z.optional(count),
  progress: storedProgress,
  progressEntries: z.optional(progressEntriesSchema),
} satisfies Fields<JobRecord>;
const jobRecordSchema = z.object(jobRecordFields);

/** A listing row holds what the owner index projects, the fields JobSummary names. */
const jobSummarySchema = z.object({
  jobId: jobRecordFields.jobId,
  status: jobRecordFields.status,
  pool: jobRecordFields.pool,
  backend: jobRecordFields.backend,
  priority: jobRecordFields.priority,
  name: jobRecordFields.name,
  tags: jobRecordFields.tags,
  attempts: jobRecordFields.attempts,
  reason: jobRecordFields.reason,
  submittedAt: jobRecordFields.submittedAt,
  queuedAt: jobRecordFields.queuedAt,
  scheduledAt: jobRecordFields.scheduledAt,
  startedAt: jobRecordFields.startedAt,
  completedAt: jobRecordFields.completedAt,
  cancelledAt: jobRecordFields.cancelledAt,
  updatedAt: jobRecordFields.updatedAt,
  progress: jobRecordFields.progress,
} satisfies Fields<JobSummary>);

/**
 * A history item. The moves and the workflow add attributes of their own to it (the attempt, the
 * error that caused a retry, the delay before the next run), which the history shows as written.
 */
const jobEventSchema = z.looseObject({
  jobId: text,
  at: text,
  type: z.enum(['STATUS', 'WEBHOOK', 'DURATION_WARNING', 'PROGRESS']),
  status: z.optional(status),
  from: z.optional(status),
  progress: storedProgress,
  reason: z.optional(reasonSchema),
  detail: z.optional(z.record(z.string(), z.unknown())),
} satisfies Fields<JobEvent>);

const waitingJobSchema = z.object({
  jobId: text,
  owner: text,
  priority: count,
  /** Read from the row's waitKey by the store (the index does not project it apart). */
  fairTag: z.optional(count),
  submittedAt: text,
  reservation: reservationSchema,
} satisfies Fields<WaitingJob>);

const leaseSchema = z.object({
  ...reservationFields,
  at: text,
  owner: z.optional(text),
} satisfies Fields<Lease>);

/** The pool item (DESIGN §3), as the pool store reads it; its counters as written. */
const poolItemSchema = z.object({
  cpuUsed: count,
  memoryUsed: count,
  running: count,
  waiting: count,
  leases: z.record(z.string(), leaseSchema),
  /** Reservations ever made, and where the last recount saw them (see DynamoPoolStore.setWaiting). */
  reserved: z.optional(count),
  recountMark: z.optional(count),
  /** Fair share (docs/fair-share.md), keyed by ownerKey; absent on items written before it. */
  ownerRunning: z.optional(z.record(z.string(), count)),
  lastTag: z.optional(z.record(z.string(), count)),
  parked: z.optional(z.record(z.string(), count)),
});
export type PoolItem = z.output<typeof poolItemSchema>;

const idempotencyItemSchema = z.object({ jobId: text, requestHash: text });

/** `pk/sk` of an item, as errors name it. */
function itemName(item: Readonly<Record<string, unknown>>): string {
  return `${String(item.pk ?? '?')}/${String(item.sk ?? '?')}`;
}

function parseItem<T>(
  schema: z.ZodMiniType<T>,
  what: string,
  item: Readonly<Record<string, unknown>>,
  name = itemName(item),
): T {
  const result = schema.safeParse(item);
  if (result.success) return result.data;
  throw new StoredItemInvalid(
    name,
    what,
    result.error.issues.map((issue) => ({ field: issue.path.map(String).join('.'), message: issue.message })),
  );
}

export const parseJobRecord = (item: Readonly<Record<string, unknown>>): JobRecord =>
  parseItem(jobRecordSchema, 'job record', item);

/** Owner-index items carry the table key of their job as well, which names them. */
export const parseJobSummary = (item: Readonly<Record<string, unknown>>): JobSummary =>
  parseItem(jobSummarySchema, 'job listing row', item);

/** The item's own key and TTL are not part of the event. */
export function parseJobEvent(item: Readonly<Record<string, unknown>>): JobEvent {
  const { pk: _pk, sk: _sk, expiresAt: _ttl, ...event } = item;
  return parseItem(jobEventSchema, 'history item', event, itemName(item));
}

export const parseWaitingJob = (item: Readonly<Record<string, unknown>>): WaitingJob =>
  parseItem(waitingJobSchema, 'waiting-index row', item);

export const parsePoolItem = (item: Readonly<Record<string, unknown>>): PoolItem =>
  parseItem(poolItemSchema, 'pool item', item);

export const parseIdempotencyItem = (
  item: Readonly<Record<string, unknown>>,
): { readonly jobId: string; readonly requestHash: string } =>
  parseItem(idempotencyItemSchema, 'idempotency item', item);

/** A usage-total item (DynamoUsageLedger): the figures it adds up, and the owner, pool or tag it totals. */
const usageItemSchema = z.object({
  owner: text,
  pool: z.optional(text),
  tag: z.optional(text),
  runs: count,
  estimatedRuns: z._default(count, 0),
  vcpuHours: count,
  memoryGbHours: count,
  storageGbHours: count,
  durationSeconds: count,
  computeUsd: count,
  orchestrationUsd: count,
});
export type UsageItem = z.output<typeof usageItemSchema>;

export const parseUsageItem = (item: Readonly<Record<string, unknown>>): UsageItem =>
  parseItem(usageItemSchema, 'usage item', item);

const spendItemSchema = z.object({ usd: count });

export const parseSpendItem = (item: Readonly<Record<string, unknown>>): { readonly usd: number } =>
  parseItem(spendItemSchema, 'spend item', item);
