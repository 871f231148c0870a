import { JOB_ID_PATTERN } from '#core/job-record.ts';
import { DURATION_WARNING } from '#core/job-request.ts';
import { JOB_STATUSES } from '#core/job-states.ts';
import * as z from '#core/zod.ts';

/**
 * Every event a Libra function is invoked with, each schema written once: the EventBridge
 * envelope and the details of the three sources Libra listens to, the SQS record and the intake
 * message it carries, and the workflow's own task payloads (the HTTP API event is http.ts's). They
 * are parsed by Powertools' parser (parse-input.ts) in the deployed edge (lambdas/compose/edge.ts),
 * and by the handlers themselves when the local runtime or a test calls them directly.
 *
 * The envelopes are Powertools' own shapes written in zod/mini: its envelope modules are built
 * on classic zod, which esbuild cannot trim (about 450 KB), over every function's size budget.
 */

const jobId = z.string().check(z.regex(JOB_ID_PATTERN));

/**
 * An EventBridge event of one source and detail type, its detail parsed by `detail`. `time` is
 * optional: the local runtime, standing in for the rule, sends only what the handlers read.
 */
export function eventBridgeEvent<S extends string, T extends string, D extends z.ZodMiniType>(
  source: S,
  detailType: T,
  detail: D,
) {
  return z.object({
    source: z.literal(source),
    'detail-type': z.literal(detailType),
    time: z.optional(z.string()),
    detail,
  });
}

/** A string holding JSON, parsed, then checked by `schema` (an SQS body, an execution's output). */
export function jsonString<S extends z.ZodMiniType>(schema: S) {
  return z.pipe(
    z.pipe(
      z.string(),
      z.transform((text: string, context): unknown => {
        try {
          return JSON.parse(text);
        } catch {
          context.issues.push({ code: 'custom', message: 'not JSON', input: text });
          return z.NEVER;
        }
      }),
    ),
    schema,
  );
}

/** Step Functions' "Execution Status Change", for the job workflow's executions (named after their job). */
export const executionStatusChange = eventBridgeEvent(
  'aws.states',
  'Step Functions Execution Status Change',
  z.object({
    name: z.string(),
    status: z.string(),
    cause: z.nullish(z.string()),
    error: z.nullish(z.string()),
    // Step Functions leaves the output out of the event when it is larger than the event allows.
    output: z.nullish(z.string()),
  }),
);
export type ExecutionStatusChange = z.infer<typeof executionStatusChange>;

/** EMR Serverless's "Job Run State Change". */
export const serverlessRunStateChange = eventBridgeEvent(
  'aws.emr-serverless',
  'EMR Serverless Job Run State Change',
  z.object({
    jobRunId: z.string().check(z.minLength(1)),
    applicationId: z.string().check(z.minLength(1)),
    state: z.string(),
    jobRunName: z.optional(z.string()),
    stateDetails: z.optional(z.string()),
    updatedAt: z.optional(z.string()),
  }),
);

/** EMR on EKS's "Job Run State Change" (source aws.emr-containers). */
export const containersRunStateChange = eventBridgeEvent(
  'aws.emr-containers',
  'EMR Job Run State Change',
  z.object({
    id: z.string(),
    virtualClusterId: z.string(),
    state: z.string(),
    name: z.optional(z.string()),
    stateDetails: z.optional(z.string()),
    updatedAt: z.optional(z.string()),
  }),
);

export const runStateChange = z.union([serverlessRunStateChange, containersRunStateChange]);
export type RunStateChange = z.infer<typeof runStateChange>;

/** What the intake queue carries: a submitted job, or a wake after capacity was released. */
export const intakeMessage = z.strictObject({
  kind: z.enum(['submitted', 'wake']),
  pool: z.string().check(z.minLength(1)),
  jobId: z.optional(z.string()),
});
export type IntakeMessage = z.infer<typeof intakeMessage>;

/**
 * The SQS event Lambda's event source mapping hands a function: the fields of each record the
 * batch processor reads. Each body is parsed on its own (`intakeRecordBody`), so that one bad
 * message fails its record only.
 */
export const sqsEvent = z.object({
  Records: z.array(
    z.looseObject({
      messageId: z.string(),
      receiptHandle: z.string(),
      body: z.string(),
      eventSource: z.literal('aws:sqs'),
      eventSourceARN: z.string(),
      awsRegion: z.string(),
    }),
  ),
});

export const intakeRecordBody = jsonString(intakeMessage);

/** What the workflow's notify task passes (`arn:aws:states:::lambda:invoke`, Payload). */
export const notifyRequest = z.object({ jobId, status: z.enum([...JOB_STATUSES, DURATION_WARNING]) });
export type NotifyRequest = z.infer<typeof notifyRequest>;

/** What the workflow's StopRun step passes after a run's state timed out. */
export const stopRunRequest = z.object({ action: z.literal('stop-run'), jobId });

/** The finalizer's two callers: the workflow's StopRun, and the rule on ended executions. */
export const finalizerInput = z.union([
  stopRunRequest,
  eventBridgeEvent(
    'aws.states',
    'Step Functions Execution Status Change',
    z.object({ ...executionStatusChange.shape.detail.shape, name: jobId }),
  ),
]);
export type FinalizerInput = z.infer<typeof finalizerInput>;
