import { JOBS_PATH, OPENAPI_PATH, POOLS_PATH, SUBMIT_PATH, USAGE_PATH } from './api-paths.ts';
import {
  backendSchema,
  cancelResultSchema,
  costSchema,
  durationWarningEventSchema,
  fieldProblemSchema,
  gatewayErrorSchema,
  jobEventSchema,
  jobEventsSchema,
  jobIdSchema,
  jobPageSchema,
  jobStatusSchema,
  jobSummarySchema,
  listJobsQuerySchema,
  poolListSchema,
  poolViewSchema,
  problemSchema,
  processSizeSchema,
  progressEventSchema,
  progressSchema,
  reasonSchema,
  rerunAcceptedSchema,
  resourcesSchema,
  statusEventSchema,
  statusViewSchema,
  submitAcceptedSchema,
  usageQuerySchema,
  usageReportSchema,
  usageTotalsSchema,
  webhookDeliverySchema,
  webhookEventSchema,
} from './api-schemas.ts';
import {
  EXECUTION_MODE_ALIASES,
  EXECUTION_MODES,
  jobRequestSchema,
  notificationsSchema,
  rerunOverridesSchema,
  retryPolicySchema,
} from './job-request.ts';
import { MAX_PAGE_SIZE } from './use-cases/list-jobs.ts';
import { IDEMPOTENCY_KEY_PATTERN } from './use-cases/submit-job.ts';
import { MAX_USAGE_DAYS } from './use-cases/usage-report.ts';
import * as z from './zod.ts';

/**
 * The OpenAPI 3.1 document of Libra's API, generated from the zod schemas the handlers use: the
 * request body from job-request.ts, every answer and problem from api-schemas.ts (zod's JSON
 * Schema output is draft 2020-12, the dialect OpenAPI 3.1 takes as is). `npm run build:openapi`
 * writes it to docs/openapi.json; a test fails when that file and this generator differ, and the
 * integration tests validate every answer they receive against it.
 */

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema and OpenAPI objects are open-ended JSON
type Json = Record<string, any>;

interface Meta {
  readonly id?: string;
  readonly description?: string;
  readonly title?: string;
}

const SCHEMAS_REF = '#/components/schemas/';
const ref = (id: string) => ({ $ref: `${SCHEMAS_REF}${id}` });

/** The answers, by component name: each becomes `#/components/schemas/<name>`. */
const ANSWER_SCHEMAS: ReadonlyArray<readonly [z.ZodMiniType, string, string]> = [
  [jobIdSchema, 'JobId', 'A job id: `job-` and a random UUID.'],
  [
    jobStatusSchema,
    'JobStatus',
    'A stored job status (SUBMITTED and VALIDATING pass inside the submit call).',
  ],
  [backendSchema, 'Backend', 'The Spark backend that runs the job: EMR Serverless or EMR on EKS.'],
  [reasonSchema, 'Reason', 'Why a job ended, or is being cancelled.'],
  [
    processSizeSchema,
    'ProcessSize',
    'One Spark process as sized: cores, heap, overhead and the container it holds.',
  ],
  [
    resourcesSchema,
    'Resources',
    'The most the job can use, counted from its Spark conf: what admission reserves in its pool.',
  ],
  [
    submitAcceptedSchema,
    'SubmitAccepted',
    'The job submitted (or, replayed by its Idempotency-Key, as it is now).',
  ],
  [
    statusViewSchema,
    'JobStatusView',
    "A job's status: every timestamp it reached, attempts, reason, resources, its place in the queue while queued, its run and links to its output.",
  ],
  [
    rerunAcceptedSchema,
    'RerunAccepted',
    'The new job a re-run made (or, replayed by its Idempotency-Key, as it is now), and the job it re-runs.',
  ],
  [
    progressSchema,
    'Progress',
    "How far a running job has got, as its driver last reported: Spark's stages and tasks done of those known so far (locally, for SQL: statements and rows). Kept once the job ends; absent when the job never reported (docs/progress.md).",
  ],
  [jobSummarySchema, 'JobSummary', 'One job of a list page.'],
  [
    jobPageSchema,
    'JobPage',
    "A page of the caller's jobs, newest first; `nextToken` while more pages follow.",
  ],
  [statusEventSchema, 'StatusEvent', 'A status move of the job.'],
  [webhookDeliverySchema, 'WebhookDelivery', 'One webhook delivery attempt and its outcome.'],
  [
    webhookEventSchema,
    'WebhookEvent',
    'A webhook delivered (or not) for a status the job reached, or for its duration warning.',
  ],
  [
    durationWarningEventSchema,
    'DurationWarningEvent',
    "A run went past the job's `warnAfterMinutes`: once per attempt, found within a minute.",
  ],
  [
    progressEventSchema,
    'ProgressEvent',
    "The job's progress while it ran, written to its history at most every 5 minutes and at most 100 times (the status has the latest).",
  ],
  [jobEventSchema, 'JobEvent', 'One item of a job history.'],
  [jobEventsSchema, 'JobEvents', "The job's history, oldest first."],
  [
    cancelResultSchema,
    'CancelResult',
    'What a cancel did: CANCELLED at once, or CANCELLING while the run is stopped.',
  ],
  [poolViewSchema, 'Pool', 'A pool: its limits, the cores and memory in use, running and waiting jobs.'],
  [poolListSchema, 'PoolList', 'The pools the caller may use (admins: all).'],
  [
    costSchema,
    'Cost',
    "What a job's runs used and cost, summed over its attempts; `estimate` unless every run's figures are EMR Serverless's billed ones.",
  ],
  [usageTotalsSchema, 'UsageTotals', 'The usage and cost totals of one owner, pool or tag.'],
  [usageReportSchema, 'UsageReport', 'Usage and cost totals over a period, by group, and their total.'],
  [
    fieldProblemSchema,
    'FieldProblem',
    'One invalid field: its dotted path (`` for the whole body) and what is wrong.',
  ],
  [
    problemSchema,
    'Problem',
    'An RFC 9457 problem (application/problem+json). A 4xx names each field in `errors`; a 5xx is masked and carries the request id to quote.',
  ],
  [
    gatewayErrorSchema,
    'GatewayError',
    "API Gateway's own answer (application/json), before or after the handler: no route, not authorized, throttled, an integration that failed.",
  ],
];

const REQUEST_SCHEMAS: ReadonlyArray<readonly [z.ZodMiniType, string, string]> = [
  [retryPolicySchema, 'RetryPolicy', 'Retries of a failed run, with exponential backoff between attempts.'],
  [
    notificationsSchema,
    'Notifications',
    'A webhook called (Standard Webhooks, signed) as the job reaches these statuses, and on its duration warning (`DURATION_WARNING`).',
  ],
  [
    rerunOverridesSchema,
    'RerunRequest',
    "What a re-run changes of the original's request: each field given replaces the original's whole (a `sparkConf` or `tags` given is the new conf or tags, not merged). The request they make is validated exactly as a submit; any other field is refused.",
  ],
];

const FIELD_DESCRIPTIONS: Readonly<Record<string, string>> = {
  code: 'Inline code to run, with `kind`. Exactly one of `code` and `entryPoint`.',
  kind: 'What `code` is: SQL (run through spark.sql) or Python.',
  entryPoint: 'A script (`.py`, `.sql`) or JAR in S3. Exactly one of `code` and `entryPoint`.',
  entryPointArguments: 'Arguments passed to the entry point.',
  mainClass: 'The main class of a JAR entry point.',
  executionMode:
    "Where the job runs: `auto` picks a backend of its pool; the original Libra's `in-cluster` and `spark-submit` mean `emr-serverless`, `kubernetes` means `eks`.",
  priority: 'Admission order within the pool: higher first, then first come first served.',
  retryOnTimeout: 'Whether a run that timed out is retried like a failed one.',
  timeoutMinutes: "The run's timeout (default: the pool's `defaultTimeoutMinutes`).",
  warnAfterMinutes:
    "A run still going after this many minutes gets a DURATION_WARNING: a history event, the webhook event `job.duration_warning` if subscribed, the `durationWarnings` metric; once per attempt, found within a minute (docs/duration-warnings.md). Less than the timeout; default: the pool's `warnAfterMinutes`.",
  sparkConf:
    'Spark properties. Keys are allowed by family per backend (docs/spark-conf.md); sizing keys decide what the job reserves.',
  name: 'A name for people.',
  tags: 'Tags, on the job and on its EMR run; list filters by them.',
  pool: 'The capacity pool the job is queued in (default `default`).',
};

/** The request body: its zod schema's input side, with what JSON Schema cannot carry said in it. */
function requestBodySchemas(): Record<string, Json> {
  const registry = z.registry<Meta>();
  for (const [schema, id, description] of REQUEST_SCHEMAS) registry.add(schema, { id, description });
  registry.add(jobRequestSchema, {
    id: 'JobRequest',
    description:
      "A Spark job: the original Libra's request as it was, plus EMR's native form. Exactly one of `code` (with `kind`) and `entryPoint`; `mainClass` only with a JAR entry point. Bodies are at most `limits.maxBodyBytes` (256 KiB) and `code` at most `limits.maxCodeBytes` (128 KiB).",
  });
  for (const [field, description] of Object.entries(FIELD_DESCRIPTIONS)) {
    const schema = (jobRequestSchema.shape as Record<string, z.ZodMiniType>)[field];
    if (!schema) throw new Error(`jobRequestSchema has no field ${field}`);
    registry.add(schema, { description });
  }
  const schemas = toComponents(registry, 'input');
  const request = schemas.JobRequest as Json;
  // zod leaves out the default of a field that transforms what it reads (the keyed maps): put it back.
  for (const [field, schema] of Object.entries(jobRequestSchema.shape as Record<string, z.ZodMiniType>)) {
    const def = schema._zod.def as { type: string; defaultValue?: unknown };
    if (def.type === 'default' && request.properties[field].default === undefined) {
      request.properties[field].default = def.defaultValue;
    }
  }
  // The mode is read as any string and mapped from the seed's aliases before it is checked.
  request.properties.executionMode = {
    ...request.properties.executionMode,
    type: 'string',
    enum: [...EXECUTION_MODES, ...EXECUTION_MODE_ALIASES.keys()],
    default: 'auto',
  };
  // The cross-field rules the schema checks in code, as JSON Schema says them.
  const has = (name: string) => ({ properties: { [name]: true }, required: [name] });
  request.oneOf = [
    { title: 'inline code', ...has('code'), not: has('entryPoint') },
    { title: 'a file in S3', ...has('entryPoint'), not: has('code') },
  ];
  request.dependentRequired = { code: ['kind'] };
  request.dependentSchemas = {
    mainClass: {
      properties: { entryPoint: { not: { pattern: '\\.(py|sql)$' } } },
      required: ['entryPoint'],
    },
  };
  return schemas;
}

function toComponents(registry: z.core.$ZodRegistry<Meta>, io: 'input' | 'output'): Record<string, Json> {
  const { schemas } = z.toJSONSchema(registry, {
    io,
    target: 'draft-2020-12',
    metadata: registry,
    uri: (id) => `${SCHEMAS_REF}${id}`,
    unrepresentable: 'throw',
    override: ({ jsonSchema }) => tidy(jsonSchema as Json),
  });
  const out: Record<string, Json> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _dialect, $id: _id, ...rest } = schema as Json;
    out[id] = rest;
  }
  return out;
}

/**
 * Drops what zod adds that says nothing to a reader: the 64-bit bound of every integer, and the
 * regular expression beside `format: date-time` (the format says it).
 */
function tidy(schema: Json): void {
  if (schema.maximum === Number.MAX_SAFE_INTEGER) delete schema.maximum;
  if (schema.minimum === Number.MIN_SAFE_INTEGER) delete schema.minimum;
  if (schema.format === 'date-time') delete schema.pattern;
}

/** What the answers' fields mean, by component and field; a field named here must exist. */
const ANSWER_FIELD_DESCRIPTIONS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  JobStatusView: {
    name: 'The name given at submit.',
    attempts: 'Runs started so far (a retried run counts again).',
    reason: 'Why it ended, or is being cancelled.',
    queuedAt: 'When it was queued (each timestamp is present once the job reached it).',
    scheduledAt: 'When admission took its capacity.',
    startedAt: 'When its run started.',
    completedAt: 'When it ended SUCCEEDED, FAILED or TIMEOUT.',
    cancelledAt: 'When it was cancelled.',
    queuePosition: 'While QUEUED: its place in its pool, 1 = next to be admitted.',
    run: "The backend's run: its id and EMR's own state of it.",
    links:
      'Where to look at the run: the Spark UI and logs; locally its `stdout`, `stderr` and (SQL) `result`.',
    rerunOf: 'The job this one re-runs.',
    reruns: 'The newest re-runs of this job, oldest first: at most 20 (`rerunCount` counts them all).',
    rerunCount: 'How many times this job was re-run.',
  },
  Progress: {
    stagesDone: 'Stages (locally for SQL: statements) finished.',
    stagesTotal: 'Stages known so far: a job that starts more Spark jobs adds to it.',
    tasksDone: 'Tasks finished (locally for SQL: rows the running statement has processed).',
    tasksTotal:
      'Tasks of the stages known so far (locally for SQL: rows the running statement will process).',
    fraction:
      'Done, from 0 to 1: tasks done of tasks known so far, so it can fall back when a new Spark job starts; absent when it cannot be known.',
    updatedAt: 'When the driver reported it.',
  },
  JobPage: { nextToken: 'Present while more pages follow: pass it back as `nextToken`.' },
  JobSummary: { updatedAt: 'When the job last moved.' },
  StatusEvent: {
    from: 'The status it moved from.',
    attempt: 'The run attempt the move belongs to (0 = the first run).',
    error: 'A failed run about to be retried: the error the workflow caught.',
    delaySeconds: 'A failed run about to be retried: the wait before the next attempt.',
  },
  WebhookDelivery: {
    webhookId: 'The Standard Webhooks message id, the same on every attempt.',
    attempt: 'The attempt number, from 1.',
    statusCode: "The receiver's HTTP status, when it answered.",
    error: 'Why nothing was delivered, when it did not answer or was refused.',
  },
  Pool: {
    used: 'Cores and memory held by admitted jobs now.',
    running: 'Jobs holding capacity now.',
    waiting: 'Jobs QUEUED in the pool.',
    backfill: 'Whether a job that fits may pass a head of the queue that does not.',
  },
  Problem: {
    type: 'A URI naming the kind of problem: `urn:libra:problem:<kind>`, or `about:blank` for a 5xx.',
    instance: 'The request path.',
    errors: 'Each field that is wrong.',
    retryAfter: 'On a 429: whole seconds to wait, as in the `Retry-After` header.',
    requestId: 'On a 5xx: the request id to quote when reporting it.',
  },
};

function answerSchemas(): Record<string, Json> {
  const registry = z.registry<Meta>();
  for (const [schema, id, description] of ANSWER_SCHEMAS) registry.add(schema, { id, description });
  const schemas = toComponents(registry, 'output');
  for (const [component, fields] of Object.entries(ANSWER_FIELD_DESCRIPTIONS)) {
    for (const [field, description] of Object.entries(fields)) {
      const property = schemas[component]?.properties?.[field] as Json | undefined;
      if (!property) throw new Error(`no field ${component}.${field} to describe`);
      property.description = description;
    }
  }
  // zod's discriminated union, named as OpenAPI names one, for generated clients.
  (schemas.JobEvent as Json).discriminator = { propertyName: jobEventSchema._zod.def.discriminator };
  return schemas;
}

const PROBLEM = 'application/problem+json';
const JSON_TYPE = 'application/json';

/** A response whose body is a problem from the handler, and (when `gateway`) API Gateway's own answer too. */
function problemResponse(description: string, gateway = false, headers?: Json): Json {
  return {
    description,
    ...(headers && { headers }),
    content: {
      [PROBLEM]: { schema: ref('Problem') },
      ...(gateway && { [JSON_TYPE]: { schema: ref('GatewayError') } }),
    },
  };
}

const RESPONSES: Json = {
  BadRequest: problemResponse(
    'The request is not valid: each invalid field is named in `errors`. Nothing was stored. The edge answers a request it cannot parse with `{"message": "Bad Request"}`.',
    true,
  ),
  EdgeRefused: {
    description:
      'The edge refused a request it could not read: unparsable (400), too slow to arrive (408), request line and headers over 10,240 bytes (431).',
    content: { [JSON_TYPE]: { schema: ref('GatewayError') } },
  },
  Unauthorized: problemResponse(
    'No caller identity: with JWT auth, API Gateway refuses a missing or invalid token (`{"message": "Unauthorized"}`).',
    true,
  ),
  Forbidden: problemResponse(
    'Not allowed: Libra refuses a pool or an owner the caller may not use (a problem); with IAM auth, API Gateway refuses a request its caller may not make or whose signature is wrong (`{"message": "Forbidden"}`).',
    true,
  ),
  GatewayForbidden: {
    description:
      'With IAM auth, API Gateway refuses a request its caller may not make or whose signature is wrong (`{"message": "Forbidden"}`).',
    content: { [JSON_TYPE]: { schema: ref('GatewayError') } },
  },
  NotFound: problemResponse("No such job for this caller: someone else's job does not exist for you."),
  PayloadTooLarge: problemResponse(
    'The body is over `limits.maxBodyBytes`, or `code` over `limits.maxCodeBytes`; refused while it streams.',
  ),
  UnsupportedMediaType: problemResponse('The body is not sent as application/json.'),
  TooManyRequests: problemResponse(
    'Too many requests, and nothing was stored: try again after `Retry-After` seconds. A problem when the pool\'s queue is full (submit, `urn:libra:problem:queue-full`), the pool spent its monthly budget (submit, `urn:libra:problem:budget-exhausted`, with `budget` naming the pool, the month, its spend and its budget; `Retry-After` runs to the next month), or AWS throttled Libra (`urn:libra:problem:throttled`), with `retryAfter` and the `Retry-After` header; API Gateway\'s own throttling answers `{"message": "Too Many Requests"}` without them.',
    true,
    {
      'Retry-After': {
        description:
          'Whole seconds to wait before trying again: sent with every 429 problem, not by API Gateway.',
        required: false,
        schema: { type: 'integer', minimum: 0 },
      },
    },
  ),
  InternalError: problemResponse(
    'The request failed: masked, logged with the request id it carries (`requestId`). API Gateway answers `{"message": "Internal Server Error"}` when the function itself failed.',
    true,
  ),
  ServiceUnavailable: {
    description:
      'API Gateway: the function could not be invoked in time (`{"message": "Service Unavailable"}`).',
    content: { [JSON_TYPE]: { schema: ref('GatewayError') } },
  },
};

const R = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** The answers every authorized route may give besides its own. */
const COMMON = {
  '401': R('Unauthorized'),
  '403': R('GatewayForbidden'),
  '429': R('TooManyRequests'),
  '500': R('InternalError'),
  '503': R('ServiceUnavailable'),
};

const jsonContent = (schema: Json) => ({ [JSON_TYPE]: { schema } });

const JOB_ID_PARAMETER = {
  name: 'jobId',
  in: 'path',
  required: true,
  description: 'The job id from submit.',
  schema: ref('JobId'),
};

const IDEMPOTENCY_KEY_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'Makes a retried submit safe: kept 24 hours per caller.',
  schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source },
};

const LOCATION_HEADER = {
  Location: {
    description: "The job's status URL.",
    required: true,
    schema: { type: 'string', pattern: `^${JOBS_PATH}/job-[0-9a-f-]{36}$` },
  },
};

function listParameters(): Json[] {
  return queryParameters(listJobsQuerySchema, {
    status: 'Only jobs in this status.',
    pool: 'Only jobs of this pool.',
    tag: 'Only jobs with this tag: `key` (any value) or `key=value`.',
    limit: `Jobs per page, 1 to ${MAX_PAGE_SIZE} (default 20).`,
    nextToken: "The previous page's `nextToken`: the next page.",
    owner: "Admins only: another caller's jobs (an IAM principal ARN or a JWT subject).",
  });
}

function usageParameters(): Json[] {
  return queryParameters(usageQuerySchema, {
    from: 'First day counted (UTC, included); default: the first of this month.',
    to: `Last day counted (UTC, included); default: today. At most ${MAX_USAGE_DAYS} days after \`from\`.`,
    groupBy:
      'Totals by `owner` (default), `pool` or `tag` (`key=value`; a run counts under each of its tags).',
    scope: 'Admins: `all` (their default) or `own`. Others see their own usage only; `all` is 400 for them.',
  });
}

/** A query schema's fields as OpenAPI query parameters, each with its description. */
function queryParameters(schema: z.ZodMiniType, descriptions: Readonly<Record<string, string>>): Json[] {
  const query = z.toJSONSchema(schema, { io: 'input' }) as Json;
  return Object.entries(query.properties as Record<string, Json>).map(([name, schema]) => {
    const { $schema: _dialect, ...rest } = schema;
    tidy(rest);
    const description = descriptions[name];
    if (!description) throw new Error(`query parameter ${name} has no description`);
    return { name, in: 'query', required: false, description, schema: rest };
  });
}

function paths(): Json {
  return {
    [SUBMIT_PATH]: submitPathItem(),
    [JOBS_PATH]: jobsPathItem(),
    [`${JOBS_PATH}/{jobId}`]: jobPathItem(),
    [`${JOBS_PATH}/{jobId}/rerun`]: rerunPathItem(),
    [`${JOBS_PATH}/{jobId}/events`]: eventsPathItem(),
    [POOLS_PATH]: poolsPathItem(),
    [USAGE_PATH]: usagePathItem(),
    [OPENAPI_PATH]: openApiPathItem(),
    '/local/jobs/{jobId}/runs/{runId}/{file}': localRunOutputPathItem(),
    '/health': healthPathItem(),
  };
}

function submitPathItem(): Json {
  return {
    post: {
      operationId: 'submitJob',
      tags: ['jobs'],
      summary: 'Submit a job',
      description:
        'Validates, sizes and places the job, stores it QUEUED and answers at once; admission starts it when its pool has room. With an `Idempotency-Key`, the same key and body give the same job; another body with the key is 409.',
      parameters: [IDEMPOTENCY_KEY_PARAMETER],
      requestBody: { required: true, content: jsonContent(ref('JobRequest')) },
      responses: {
        '202': {
          description: 'Accepted: the job is QUEUED (a replayed key answers the job as it is now).',
          headers: LOCATION_HEADER,
          content: jsonContent(ref('SubmitAccepted')),
        },
        '400': R('BadRequest'),
        '409': problemResponse(
          'The Idempotency-Key was used with another body: `errors` names the job it made.',
        ),
        '413': R('PayloadTooLarge'),
        '415': R('UnsupportedMediaType'),
        ...COMMON,
        '403': R('Forbidden'),
      },
    },
  };
}

function jobsPathItem(): Json {
  return {
    get: {
      operationId: 'listJobs',
      tags: ['jobs'],
      summary: "List the caller's jobs",
      description: 'Newest first, filtered and in pages.',
      parameters: listParameters(),
      responses: {
        '200': { description: 'A page of jobs.', content: jsonContent(ref('JobPage')) },
        '400': R('BadRequest'),
        ...COMMON,
        '403': R('Forbidden'),
      },
    },
  };
}

function jobPathItem(): Json {
  return {
    parameters: [JOB_ID_PARAMETER],
    get: {
      operationId: 'getJob',
      tags: ['jobs'],
      summary: "A job's status",
      responses: {
        '200': { description: "The job's status.", content: jsonContent(ref('JobStatusView')) },
        '404': R('NotFound'),
        ...COMMON,
      },
    },
    delete: {
      operationId: 'cancelJob',
      tags: ['jobs'],
      summary: 'Cancel a job',
      description:
        'A queued job is cancelled at once (200). A scheduled, running or retrying one moves to CANCELLING and its run is stopped (202). A finished one is 409, naming its status.',
      responses: {
        '200': {
          description: 'Cancelled (or ended as its run did, had it ended first).',
          content: jsonContent(ref('CancelResult')),
        },
        '202': {
          description: 'CANCELLING: its run is being stopped.',
          content: jsonContent(ref('CancelResult')),
        },
        '404': R('NotFound'),
        '409': problemResponse(
          'The job is already final (or ended while the cancel was made): `errors` names its status.',
        ),
        ...COMMON,
      },
    },
  };
}

function rerunPathItem(): Json {
  return {
    parameters: [JOB_ID_PARAMETER],
    post: {
      operationId: 'rerunJob',
      tags: ['jobs'],
      summary: 'Re-run a finished job',
      description:
        "Submits the job's request again as a new job, with the fields of the body (optional) changed, validated, queued and made idempotent exactly as a submit; the new job is the caller's. The new job's status names the original (`rerunOf`), and the original's lists it (`reruns`). The owner or an admin may re-run a job in any final state; someone else's job is 404, one not final yet is 409.",
      parameters: [IDEMPOTENCY_KEY_PARAMETER],
      requestBody: { required: false, content: jsonContent(ref('RerunRequest')) },
      responses: {
        '202': {
          description: 'Accepted: the new job is QUEUED (a replayed key answers it as it is now).',
          headers: LOCATION_HEADER,
          content: jsonContent(ref('RerunAccepted')),
        },
        '400': R('BadRequest'),
        '404': R('NotFound'),
        '409': problemResponse(
          'The job is not final yet (`errors` names its status), its request was not kept (submitted before re-runs existed), or the Idempotency-Key was used with another body.',
        ),
        '413': R('PayloadTooLarge'),
        '415': R('UnsupportedMediaType'),
        ...COMMON,
        '403': R('Forbidden'),
      },
    },
  };
}

function eventsPathItem(): Json {
  return {
    parameters: [JOB_ID_PARAMETER],
    get: {
      operationId: 'listJobEvents',
      tags: ['jobs'],
      summary: "A job's history",
      description: 'Every status move and webhook delivery, oldest first.',
      responses: {
        '200': { description: "The job's history.", content: jsonContent(ref('JobEvents')) },
        '404': R('NotFound'),
        ...COMMON,
      },
    },
  };
}

function poolsPathItem(): Json {
  return {
    get: {
      operationId: 'listPools',
      tags: ['pools'],
      summary: 'The pools and their use',
      description:
        'Each pool the caller may use (admins: all): limits, cores and memory used, running, waiting.',
      responses: {
        '200': { description: 'The pools.', content: jsonContent(ref('PoolList')) },
        ...COMMON,
      },
    },
  };
}

function usagePathItem(): Json {
  return {
    get: {
      operationId: 'getUsage',
      tags: ['usage'],
      summary: 'Usage and cost totals',
      description:
        "What the runs that ended in the period used and cost (docs/cost.md), by owner, pool or tag: EMR Serverless's billed figures, estimates elsewhere (counted in `estimatedRuns`), priced with each pool's prices, plus Libra's orchestration cost. Admins see everyone's; others their own.",
      parameters: usageParameters(),
      responses: {
        '200': { description: 'The totals.', content: jsonContent(ref('UsageReport')) },
        '400': R('BadRequest'),
        ...COMMON,
      },
    },
  };
}

function openApiPathItem(): Json {
  return {
    get: {
      operationId: 'getOpenApi',
      tags: ['meta'],
      summary: 'This document',
      description: 'The OpenAPI document of this API, as committed in docs/openapi.json.',
      responses: {
        '200': {
          description: 'The OpenAPI 3.1 document.',
          content: jsonContent({
            type: 'object',
            properties: {
              openapi: { type: 'string' },
              info: { type: 'object' },
              paths: { type: 'object' },
            },
            required: ['openapi', 'info', 'paths'],
          }),
        },
        ...COMMON,
      },
    },
  };
}

function localRunOutputPathItem(): Json {
  return {
    servers: [LOCAL_SERVER],
    parameters: [
      JOB_ID_PARAMETER,
      {
        name: 'runId',
        in: 'path',
        required: true,
        description: "The run's id.",
        schema: { type: 'string' },
      },
      {
        name: 'file',
        in: 'path',
        required: true,
        description: "The run's standard output, standard error, or (SQL) its result.",
        schema: { type: 'string', enum: ['stdout.txt', 'stderr.txt', 'result.json'] },
      },
    ],
    get: {
      operationId: 'getLocalRunOutput',
      tags: ['local'],
      summary: "A local run's output",
      description:
        "Local runtime only: what a job's status `links` point to. Deployed, the links go to the EMR console and the logs in S3.",
      security: [],
      responses: {
        '200': {
          description: 'The file.',
          content: {
            'text/plain': { schema: { type: 'string' } },
            [JSON_TYPE]: { schema: {} },
          },
        },
        '404': {
          description: 'No such run or file.',
          content: jsonContent(ref('GatewayError')),
        },
      },
    },
  };
}

function healthPathItem(): Json {
  return {
    servers: [LOCAL_SERVER],
    get: {
      operationId: 'getHealth',
      tags: ['local'],
      summary: 'Liveness of the local runtime',
      security: [],
      responses: {
        '200': {
          description: 'The runtime is serving.',
          content: jsonContent({
            type: 'object',
            properties: { status: { const: 'ok' } },
            required: ['status'],
            additionalProperties: false,
          }),
        },
        '4XX': R('EdgeRefused'),
      },
    },
  };
}

const LOCAL_SERVER = { url: 'http://127.0.0.1:8080', description: 'The local runtime (`npm start`).' };

/** The document, built anew on each call. */
export function openApiDocument(version: string): Json {
  return {
    openapi: '3.1.1',
    info: {
      title: 'Libra Serverless',
      version,
      summary: 'Spark jobs on AWS behind an HTTPS API.',
      description:
        "Submit a Spark job (inline SQL or Python, or a script or JAR in S3) and get its id at once. Libra queues it against its pool's capacity in priority order, runs it on EMR Serverless or EMR on EKS, retries it with backoff, enforces its timeout, lets its owner cancel it and calls the owner's webhook as it moves. Errors are RFC 9457 problems (application/problem+json).",
    },
    servers: [
      LOCAL_SERVER,
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
        description: "Deployed: the stack's `ApiUrl` output.",
        variables: {
          apiId: { default: 'a1b2c3d4e5', description: 'The HTTP API id.' },
          region: { default: 'eu-west-1', description: 'The AWS Region of the stack.' },
        },
      },
    ],
    security: [{ sigv4: [] }, { jwt: [] }, { localUser: [] }],
    tags: [
      { name: 'jobs', description: 'Submit, follow, list, cancel and re-run jobs.' },
      { name: 'pools', description: 'Capacity pools.' },
      { name: 'usage', description: 'What runs used and cost, by owner, pool and tag.' },
      { name: 'meta', description: 'About the API itself.' },
      { name: 'local', description: 'Served by the local runtime only.' },
    ],
    paths: paths(),
    components: {
      schemas: { ...requestBodySchemas(), ...answerSchemas() },
      responses: RESPONSES,
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description:
            "Deployed with `auth.mode: iam` (the default): AWS Signature Version 4, service `execute-api`, in the stack's Region, with the caller's IAM credentials (`Authorization`, `X-Amz-Date` and, for temporary credentials, `X-Amz-Security-Token`). The caller is its IAM principal ARN.",
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
        jwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            "Deployed with `auth.mode: jwt`: a token from the configured issuer for one of the configured audiences. The caller is the token's `sub`.",
        },
        localUser: {
          type: 'apiKey',
          in: 'header',
          name: 'x-libra-user',
          description:
            'Local runtime only: the caller names itself (default `local-user`). Deployed, it is ignored.',
        },
      },
    },
  };
}

/** The document as committed: two-space JSON and a final newline. */
export function openApiText(version: string): string {
  return `${JSON.stringify(openApiDocument(version), null, 2)}\n`;
}
