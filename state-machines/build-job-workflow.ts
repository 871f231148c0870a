import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { moveUpdate, updateExpression } from '../lambdas/adapters/job-move-update.ts';
import { type JobStatus, LIFECYCLE, type ReasonCode, sourcesWhileHeld } from '../lambdas/core/job-states.ts';
import { JOB_WORKFLOW_FILE, type JobWorkflowPlaceholder } from './job-workflow.ts';

/**
 * Writes state-machines/job.asl.json, the job workflow the CDK stack and the local runtime load:
 * `node state-machines/build-job-workflow.ts` (npm run build:workflow). The Mark states' writes
 * come from the lifecycle spec (LIFECYCLE), each retry policy is defined once for its
 * integration, and each backend's run differs from the others only in its request. JSONPath
 * only: the local interpreter ignores JSONata and Variables.
 */

type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
type State = { readonly [key: string]: Json };

/** A `Retry` entry; policies are per integration, with the AWS error names of that integration. */
type Retrier = {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds: number;
  readonly MaxAttempts: number;
  readonly BackoffRate: number;
  readonly MaxDelaySeconds?: number;
  readonly JitterStrategy: 'FULL';
};

const DYNAMODB_RETRY: Retrier = {
  ErrorEquals: [
    'DynamoDB.ProvisionedThroughputExceededException',
    'DynamoDB.ThrottlingException',
    'DynamoDB.RequestLimitExceeded',
    'DynamoDB.InternalServerErrorException',
    'DynamoDB.AmazonDynamoDBException',
    'States.Timeout',
  ],
  IntervalSeconds: 1,
  MaxAttempts: 6,
  BackoffRate: 2,
  MaxDelaySeconds: 20,
  JitterStrategy: 'FULL',
};

/** sqs:sendMessage raises SQS's errors as States.TaskFailed. */
const SQS_RETRY: Retrier = {
  ErrorEquals: ['States.TaskFailed', 'States.Timeout'],
  IntervalSeconds: 1,
  MaxAttempts: 4,
  BackoffRate: 2,
  JitterStrategy: 'FULL',
};

/** lambda:invoke: the service's own errors; `functionErrors` are what the function throws to be called again. */
function lambdaRetry(functionErrors: readonly string[] = []): Retrier {
  return {
    ErrorEquals: [
      ...functionErrors,
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
      'Lambda.TooManyRequestsException',
      'States.Timeout',
    ],
    IntervalSeconds: 2,
    MaxAttempts: 4,
    BackoffRate: 2,
    MaxDelaySeconds: 30,
    JitterStrategy: 'FULL',
  };
}

/** A Spark backend's `.sync` run: its integration, its errors, and the request it sends. */
interface Backend {
  readonly resource: string;
  /** Transient: retried with backoff, not counted as an attempt (StartJobRun is throttled hard). */
  readonly transientErrors: readonly string[];
  /** The backend refuses the run for good: trying again changes nothing. */
  readonly refusedErrors: readonly string[];
}

/** Both spellings Step Functions is documented to use for the service's errors. */
const serviceErrors = (prefixes: readonly string[], names: readonly string[]) =>
  prefixes.flatMap((prefix) => names.map((name) => `${prefix}.${name}`));

const EMR_SERVERLESS: Backend = {
  resource: 'arn:aws:states:::emr-serverless:startJobRun.sync',
  transientErrors: serviceErrors(
    ['EMRServerless', 'EmrServerless'],
    ['ThrottlingException', 'InternalServerException'],
  ),
  refusedErrors: serviceErrors(
    ['EMRServerless', 'EmrServerless'],
    ['ValidationException', 'ResourceNotFoundException'],
  ),
};

const EMR_ON_EKS: Backend = {
  resource: 'arn:aws:states:::emr-containers:startJobRun.sync',
  transientErrors: serviceErrors(
    ['EMRContainers', 'EmrContainers'],
    ['ThrottlingException', 'InternalServerException'],
  ),
  refusedErrors: serviceErrors(
    ['EMRContainers', 'EmrContainers'],
    ['ValidationException', 'ResourceNotFoundException'],
  ),
};

function emrRetry(backend: Backend): Retrier {
  return {
    ErrorEquals: backend.transientErrors,
    IntervalSeconds: 2,
    MaxAttempts: 8,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
    JitterStrategy: 'FULL',
  };
}

/** A resource the stack (definitionSubstitutions) and the local runtime fill in. */
const placeholder = (name: JobWorkflowPlaceholder) => `\${${name}}`;
const TABLE = placeholder('JobTableName');

const TASK_TIMEOUT_SECONDS = 30;
const LAMBDA_TIMEOUT_SECONDS = 60;

const S = (value: string): Json => ({ S: value });
const Sp = (path: string): Json => ({ 'S.$': path });
const Np = (path: string): Json => ({ 'N.$': path });
const formatNumber = (path: string) => Np(`States.Format('{}', ${path})`);
/** The failed attempt's error, as the run state's Catch put it at `$.error`. */
const RUN_ERROR: Json = { M: { name: Sp('$.error.Error'), cause: Sp('$.error.Cause') } };
const jobKey: Json = { pk: Sp("States.Format('JOB#{}', $.jobId)"), sk: S('META') };

/** The reason a Mark writes: a code, and the JSONPath (or intrinsic) its message comes from. */
export interface MarkReason {
  readonly code: ReasonCode;
  readonly message: string;
}

export interface MarkOptions {
  /** The statuses the workflow last left the job in; a cancel may have moved it on since. */
  readonly held: readonly JobStatus[];
  readonly reason?: MarkReason;
  /** More assignments, `attribute: value`, and the values they name beyond `:to` and `:now`. */
  readonly set?: Readonly<Record<string, string>>;
  readonly values?: Readonly<Record<string, Json>>;
  readonly remove?: readonly string[];
  readonly next: string;
}

/**
 * A Mark state: the conditional UpdateItem that moves the job to `to`, as LIFECYCLE says — the
 * statuses it may come from, the timestamp it sets, the reason it sets or clears. Its result
 * (`$.final`) names the status written and the one it left; a lost condition (someone else
 * moved the job) ends the execution at NotRunnable.
 */
export function mark(to: JobStatus, options: MarkOptions): State {
  const sources = sourcesWhileHeld(to, options.held);
  if (sources.length === 0) throw new Error(`no move to ${to} from ${options.held.join(', ')}`);
  if (LIFECYCLE[to].reason === 'sets' && !options.reason) throw new Error(`a move to ${to} must say why`);
  const { sets, removes, names } = moveUpdate(to, ':now', options.reason !== undefined);
  const values: Record<string, Json> = {
    ':to': S(to),
    ':now': Sp('$$.State.EnteredTime'),
    ...options.values,
  };
  if (options.reason) {
    values[':reason'] = { M: { code: S(options.reason.code), message: Sp(options.reason.message) } };
  }
  for (const [attribute, value] of Object.entries(options.set ?? {})) sets.push(`${attribute} = ${value}`);
  removes.push(...(options.remove ?? []));
  sources.forEach((status, i) => {
    values[`:from${i}`] = S(status);
  });
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::dynamodb:updateItem',
    TimeoutSeconds: TASK_TIMEOUT_SECONDS,
    Parameters: {
      TableName: TABLE,
      Key: jobKey,
      UpdateExpression: updateExpression(sets, removes),
      ConditionExpression: `#status IN (${sources.map((_, i) => `:from${i}`).join(', ')})`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_OLD',
    },
    ResultSelector: { status: to, 'from.$': '$.Attributes.status.S' },
    ResultPath: '$.final',
    Retry: [DYNAMODB_RETRY],
    Next: options.next,
    Catch: [
      {
        ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'],
        ResultPath: '$.conflict',
        Next: 'NotRunnable',
      },
    ],
  };
}

/** The history item of the move the last Mark made (`$.final`), with `extra` attributes. */
function historyRecord(next: string, extra: Readonly<Record<string, Json>> = {}): State {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::dynamodb:putItem',
    TimeoutSeconds: TASK_TIMEOUT_SECONDS,
    Parameters: {
      TableName: TABLE,
      Item: {
        pk: Sp("States.Format('JOB#{}', $.jobId)"),
        sk: Sp("States.Format('EVT#{}#wf-{}-{}', $$.State.EnteredTime, $.final.status, $.try.attempt)"),
        jobId: Sp('$.jobId'),
        at: Sp('$$.State.EnteredTime'),
        type: S('STATUS'),
        status: Sp('$.final.status'),
        from: Sp('$.final.from'),
        attempt: formatNumber('$.try.attempt'),
        expiresAt: formatNumber('$.expiresAt'),
        ...extra,
      },
    },
    ResultPath: null,
    Retry: [DYNAMODB_RETRY],
    Next: next,
  };
}

/** A Lambda task that must never fail the job: retried, then its failure is recorded and passed. */
function lambdaTask(
  functionArn: string,
  payload: { readonly [key: string]: Json },
  options: {
    readonly next: string;
    readonly errorPath: string;
    readonly functionErrors?: readonly string[];
    /** The execution's last state: it ends there, and at `next` when it failed. */
    readonly end?: boolean;
    readonly comment?: string;
  },
): State {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    TimeoutSeconds: LAMBDA_TIMEOUT_SECONDS,
    ...(options.comment !== undefined && { Comment: options.comment }),
    Parameters: { FunctionName: functionArn, Payload: payload },
    ResultPath: null,
    Retry: [lambdaRetry(options.functionErrors)],
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: options.errorPath, Next: options.next }],
    ...(options.end ? { End: true } : { Next: options.next }),
  };
}

/** The owner's webhook for `status`, or for the status at `$.final.status`; a failed delivery carries on. */
function notify(
  status: string | { readonly path: string },
  next: string,
  options: { readonly end?: boolean; readonly comment?: string } = {},
): State {
  return lambdaTask(
    placeholder('NotifierFunctionArn'),
    { 'jobId.$': '$.jobId', ...(typeof status === 'string' ? { status } : { 'status.$': status.path }) },
    { next, errorPath: '$.notifyError', functionErrors: ['WebhookDeliveryFailed'], ...options },
  );
}

/** The finalizer's stop of the attempt's run, which a state timeout leaves going. */
function stopRun(next: string, comment: string): State {
  return lambdaTask(
    placeholder('FinalizerFunctionArn'),
    { action: 'stop-run', 'jobId.$': '$.jobId', 'attempt.$': '$.try.attempt' },
    { next, errorPath: '$.stopError', comment },
  );
}

/** Which run state a job's backend and pool take; `first` choices come before them. */
function chooseBackend(first: readonly Json[] = []): State {
  return {
    Type: 'Choice',
    Choices: [
      ...first,
      {
        And: [
          { Variable: '$.backend', StringEquals: 'eks' },
          { Variable: '$.request.eks.JobTemplateId', IsPresent: true },
        ],
        Next: 'RunOnEksWithTemplate',
      },
      { Variable: '$.backend', StringEquals: 'eks', Next: 'RunOnEks' },
    ],
    Default: 'RunOnEmrServerless',
  };
}

/**
 * One attempt's `.sync` run on a backend: `fields` of the job's request (`$.request.<request>`),
 * with the job's id as the run's name and one idempotency token per attempt.
 */
function run(backend: Backend, request: string, fields: readonly string[]): State {
  const parameters: { [key: string]: Json } = {};
  for (const field of fields) {
    parameters[`${field}.$`] =
      field === 'Name'
        ? '$.jobId'
        : field === 'ClientToken'
          ? "States.Format('{}-{}', $.jobId, $.try.attempt)"
          : `$.request.${request}.${field}`;
  }
  return {
    Type: 'Task',
    Resource: backend.resource,
    TimeoutSecondsPath: '$.timeoutSeconds',
    Parameters: parameters,
    ResultPath: null,
    Retry: [emrRetry(backend)],
    Catch: [
      { ErrorEquals: ['States.Timeout'], ResultPath: null, Next: 'TimedOut' },
      { ErrorEquals: backend.refusedErrors, ResultPath: '$.error', Next: 'MarkRefused' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'OnFailure' },
    ],
    Next: 'MarkSucceeded',
  };
}

const JOB_RUN = ['Name', 'ClientToken', 'JobDriver', 'ConfigurationOverrides'];
const EKS_TARGET = ['VirtualClusterId', 'ExecutionRoleArn', 'ReleaseLabel'];

/** The job workflow's definition. */
export function buildJobWorkflow(): { readonly [key: string]: Json } {
  const states: Record<string, State> = {
    MarkRunning: mark('RUNNING', {
      held: ['SCHEDULED', 'RETRYING'],
      set: { attempts: ':attempts' },
      values: { ':attempts': formatNumber('States.MathAdd($.try.attempt, 1)') },
      next: 'RecordRunning',
    }),
    NotRunnable: {
      Type: 'Succeed',
      Comment: 'The job left the status this execution wrote (it is being cancelled): the finalizer ends it.',
    },
    RecordRunning: historyRecord('BeforeRun'),
    // The RUNNING webhook and the choice of backend in one state: one transition fewer per job.
    BeforeRun: chooseBackend([{ Variable: '$.notify.RUNNING', BooleanEquals: true, Next: 'NotifyRunning' }]),
    NotifyRunning: notify('RUNNING', 'ChooseBackend'),
    ChooseBackend: chooseBackend(),
    RunOnEmrServerless: run(EMR_SERVERLESS, 'emrServerless', [
      'ApplicationId',
      'ExecutionRoleArn',
      ...JOB_RUN,
      // EMR's own limit: a backstop below the state's timeout.
      'ExecutionTimeoutMinutes',
      'Tags',
    ]),
    RunOnEks: run(EMR_ON_EKS, 'eks', [...EKS_TARGET, ...JOB_RUN, 'Tags']),
    RunOnEksWithTemplate: run(EMR_ON_EKS, 'eks', [...EKS_TARGET, 'JobTemplateId', ...JOB_RUN, 'Tags']),
    MarkSucceeded: mark('SUCCEEDED', { held: ['RUNNING'], next: 'RecordFinal' }),
    RecordFinal: historyRecord('Release'),
    Release: {
      Type: 'Task',
      Resource: 'arn:aws:states:::dynamodb:updateItem',
      TimeoutSeconds: TASK_TIMEOUT_SECONDS,
      Parameters: {
        TableName: TABLE,
        Key: { pk: Sp("States.Format('POOL#{}', $.pool)"), sk: S('POOL') },
        // The owner's count of admitted jobs (fair share's cap) is given back in the same write.
        UpdateExpression:
          'SET cpuUsed = cpuUsed - :c, memoryUsed = memoryUsed - :m, running = running - :one, ownerRunning.#owner = if_not_exists(ownerRunning.#owner, :one) - :one REMOVE leases.#job',
        ConditionExpression: 'attribute_exists(leases.#job)',
        ExpressionAttributeNames: { '#job.$': '$.jobId', '#owner.$': '$.ownerKey' },
        ExpressionAttributeValues: {
          ':c': formatNumber('$.reservation.cpuCores'),
          ':m': formatNumber('$.reservation.memoryMiB'),
          ':one': { N: '1' },
        },
      },
      ResultPath: null,
      Retry: [DYNAMODB_RETRY],
      Catch: [
        {
          ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'],
          ResultPath: '$.conflict',
          Next: 'NotifyFinal',
        },
      ],
      Next: 'Wake',
    },
    Wake: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sqs:sendMessage',
      TimeoutSeconds: TASK_TIMEOUT_SECONDS,
      Parameters: {
        QueueUrl: placeholder('IntakeQueueUrl'),
        MessageBody: { kind: 'wake', 'pool.$': '$.pool', 'jobId.$': '$.jobId' },
      },
      ResultPath: null,
      Retry: [SQS_RETRY],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.wakeError', Next: 'NotifyFinal' }],
      Next: 'NotifyFinal',
    },
    Done: { Type: 'Succeed' },
    OnFailure: {
      Type: 'Choice',
      Choices: [{ Variable: '$.try.attempt', NumericLessThanPath: '$.lastAttempt', Next: 'PrepareRetry' }],
      Default: 'MarkFailed',
    },
    OnTimeout: {
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.retryOnTimeout', BooleanEquals: true },
            { Variable: '$.try.attempt', NumericLessThanPath: '$.lastAttempt' },
          ],
          Next: 'StopTimedOutRun',
        },
      ],
      Default: 'MarkTimeout',
    },
    StopTimedOutRun: stopRun(
      'PrepareRetry',
      'A run whose state timed out may still be running: stop it before the next attempt takes its place.',
    ),
    PrepareRetry: {
      Type: 'Pass',
      Parameters: {
        'attempt.$': 'States.MathAdd($.try.attempt, 1)',
        'delay.$': 'States.ArrayGetItem($.retryDelays, $.try.attempt)',
      },
      ResultPath: '$.try',
      Next: 'MarkRetrying',
    },
    MarkRetrying: mark('RETRYING', {
      held: ['RUNNING'],
      set: { lastError: ':error', backendUpdatedAt: ':now' },
      values: { ':error': RUN_ERROR },
      // The failed attempt's run is no longer the job's: its late events must not decide the end.
      remove: ['backendRunId', 'backendState'],
      next: 'RecordRetrying',
    }),
    RecordRetrying: historyRecord('BeforeBackoff', {
      error: RUN_ERROR,
      delaySeconds: formatNumber('$.try.delay'),
    }),
    BeforeBackoff: {
      Type: 'Choice',
      Choices: [{ Variable: '$.notify.RETRYING', BooleanEquals: true, Next: 'NotifyRetrying' }],
      Default: 'Backoff',
    },
    NotifyRetrying: notify('RETRYING', 'Backoff'),
    Backoff: { Type: 'Wait', SecondsPath: '$.try.delay', Next: 'MarkRunning' },
    MarkFailed: mark('FAILED', {
      held: ['RUNNING'],
      reason: { code: 'SPARK_JOB_FAILED', message: '$.error.Cause' },
      next: 'RecordFinal',
    }),
    MarkRefused: mark('FAILED', {
      held: ['RUNNING'],
      reason: { code: 'BACKEND_UNAVAILABLE', message: '$.error.Cause' },
      next: 'RecordFinal',
    }),
    MarkTimeout: mark('TIMEOUT', {
      held: ['RUNNING'],
      reason: {
        code: 'RUN_TIMEOUT',
        message: "States.Format('the run took longer than {} seconds', $.timeoutSeconds)",
      },
      next: 'StopRun',
    }),
    StopRun: stopRun(
      'RecordFinal',
      "Stop the run the state timeout left behind; EMR's own execution timeout is the backstop.",
    ),
    NotifyFinal: notify({ path: '$.final.status' }, 'Done', {
      end: true,
      comment:
        "The final state's webhook. Always called: one Lambda call costs less than the two transitions a Choice would; the notifier skips events the owner did not subscribe to.",
    }),
    TimedOut: {
      Type: 'Pass',
      Comment: 'A state timeout may come without a Cause; the retry and timeout paths read one.',
      Parameters: {
        Error: 'States.Timeout',
        'Cause.$': "States.Format('the run took longer than {} seconds', $.timeoutSeconds)",
      },
      ResultPath: '$.error',
      Next: 'OnTimeout',
    },
  };
  return {
    Comment:
      "Libra: one execution per job (name = job id). Moves the job record, runs Spark with retries and a timeout, gives the pool capacity back, wakes admission and calls the owner's webhook. Generated by state-machines/build-job-workflow.ts from the lifecycle in lambdas/core/job-states.ts. JSONPath only.",
    StartAt: 'MarkRunning',
    States: states,
  };
}

/** The file's text: what `npm run build:workflow` writes and the committed file must equal. */
export function jobWorkflowText(): string {
  return `${JSON.stringify(buildJobWorkflow(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(JOB_WORKFLOW_FILE, jobWorkflowText());
  console.log(`wrote ${fileURLToPath(JOB_WORKFLOW_FILE)}`);
}
