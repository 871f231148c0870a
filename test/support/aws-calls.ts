import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EMRContainersClient } from '@aws-sdk/client-emr-containers';
import { EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * Records every AWS call a Libra function makes: the IAM action it is authorized as, and the
 * resource ARN IAM evaluates it against. The SDK clients are the ones the function's own entry
 * made (lambdas/entry), unchanged: the recorder is a middleware added to each client's stack the
 * first time the client sends, through the `Client.send` of @smithy/smithy-client that every AWS
 * SDK v3 client inherits (a client package may bring a copy of its own: each copy is patched). A call is attributed to the function whose invocation is running
 * (`asFunction`, an AsyncLocalStorage context), so the test's own set-up calls are not recorded.
 */

export interface AwsCall {
  /** The Libra function that made it: its construct path under the stack, e.g. `JobApi/SubmitJob`. */
  readonly fn: string;
  /** The IAM action, e.g. `dynamodb:Query`. */
  readonly action: string;
  /** The ARN IAM authorizes the call on, e.g. a DynamoDB index ARN for a Query of the index. */
  readonly resource: string;
  /** How AWS (here, the emulator) answered: `ok` or the error's name. */
  readonly outcome: string;
}

/** The account and region every call is made in. */
export interface CallScope {
  readonly account: string;
  readonly region: string;
}

interface MiddlewareContext {
  readonly clientName?: string;
  readonly commandName?: string;
}
type Args = { input: Record<string, unknown> };
type Next = (args: Args) => Promise<{ output: Record<string, unknown> }>;
interface Stack {
  add(middleware: (next: Next, context: MiddlewareContext) => Next, options: Record<string, unknown>): void;
}

/** SDK client names to IAM service prefixes, for the clients Libra's functions use. */
const SERVICES: Record<string, string> = {
  DynamoDBClient: 'dynamodb',
  SQSClient: 'sqs',
  SFNClient: 'states',
  EMRServerlessClient: 'emr-serverless',
  EMRContainersClient: 'emr-containers',
  S3Client: 's3',
  LambdaClient: 'lambda',
  SecretsManagerClient: 'secretsmanager',
};

/** API operations whose IAM action has another name (Service Authorization Reference). */
const ACTION_NAMES: Record<string, string> = { 'lambda:Invoke': 'lambda:InvokeFunction' };

function text(input: Record<string, unknown>, member: string, action: string): string {
  const value = input[member];
  if (typeof value !== 'string' || value === '') throw new Error(`${action}: no ${member} in the request`);
  return value;
}

/**
 * The ARN IAM evaluates a call against (Service Authorization Reference, the action's resource
 * types), from the request and, where only AWS knows it (a secret's suffix), the answer.
 */
export function resourceOf(
  action: string,
  input: Record<string, unknown>,
  output: Record<string, unknown> | undefined,
  { account, region }: CallScope,
): string {
  const [service] = action.split(':');
  const arn = (rest: string) => `arn:aws:${service}:${region}:${account}:${rest}`;
  switch (service) {
    case 'dynamodb': {
      const table = arn(`table/${text(input, 'TableName', action)}`);
      // A query of an index is authorized on the index, not on the table (DynamoDB developer guide).
      return typeof input.IndexName === 'string' ? `${table}/index/${input.IndexName}` : table;
    }
    case 'sqs': {
      const url = new URL(text(input, 'QueueUrl', action));
      const [queueAccount, name] = url.pathname.split('/').filter(Boolean);
      return `arn:aws:sqs:${region}:${queueAccount}:${name}`;
    }
    case 'states':
      return action === 'states:StartExecution'
        ? text(input, 'stateMachineArn', action)
        : text(input, 'executionArn', action);
    case 'emr-serverless':
      return arn(
        `/applications/${text(input, 'applicationId', action)}/jobruns/${text(input, 'jobRunId', action)}`,
      );
    case 'emr-containers':
      return arn(
        `/virtualclusters/${text(input, 'virtualClusterId', action)}/jobruns/${text(input, 'id', action)}`,
      );
    case 's3':
      return `arn:aws:s3:::${text(input, 'Bucket', action)}/${text(input, 'Key', action)}`;
    case 'lambda': {
      const name = text(input, 'FunctionName', action);
      return name.startsWith('arn:') ? name : arn(`function:${name}`);
    }
    case 'secretsmanager': {
      const id = text(input, 'SecretId', action);
      if (id.startsWith('arn:')) return id;
      // A secret named by its name is authorized on its full ARN, which ends in a suffix only AWS knows.
      if (typeof output?.ARN === 'string') return output.ARN;
      throw new Error(`${action} of ${id}: the secret's ARN is known only from a successful answer`);
    }
    default:
      throw new Error(`no rule for the resource of ${action}: add one to test/support/aws-calls.ts`);
  }
}

const running = new AsyncLocalStorage<string>();
const recorded: AwsCall[] = [];
const instrumented = new WeakSet<object>();
let scope: CallScope | undefined;

function recorder(next: Next, context: MiddlewareContext): Next {
  return async (args) => {
    const fn = running.getStore();
    if (fn === undefined || scope === undefined) return next(args);
    const service = SERVICES[context.clientName ?? ''];
    if (!service)
      throw new Error(`an AWS call through ${context.clientName}, which the recorder does not know`);
    const operation = `${service}:${(context.commandName ?? '').replace(/Command$/, '')}`;
    const action = ACTION_NAMES[operation] ?? operation;
    const callScope = scope;
    try {
      const result = await next(args);
      recorded.push({
        fn,
        action,
        resource: resourceOf(action, args.input, result.output, callScope),
        outcome: 'ok',
      });
      return result;
    } catch (error) {
      recorded.push({
        fn,
        action,
        resource: resourceOf(action, args.input, undefined, callScope),
        outcome: (error as Error).name,
      });
      throw error;
    }
  };
}

/** Starts recording: from now on every SDK client records its calls made inside `asFunction`. */
export function recordAwsCalls(callScope: CallScope): void {
  scope = callScope;
  // Every generated client extends a @smithy/smithy-client Client, whose prototype holds `send`.
  const clientClasses = [
    DynamoDBClient,
    SQSClient,
    SFNClient,
    EMRServerlessClient,
    EMRContainersClient,
    S3Client,
    LambdaClient,
    SecretsManagerClient,
  ];
  for (const prototype of new Set(clientClasses.map((client) => Object.getPrototypeOf(client.prototype)))) {
    instrument(prototype);
  }
}

const PATCHED = Symbol.for('libra.test.recordAwsCalls');

function instrument(prototype: {
  send: (this: { middlewareStack: Stack }, ...args: unknown[]) => unknown;
  [PATCHED]?: boolean;
}): void {
  if (prototype[PATCHED]) return;
  const send = prototype.send;
  prototype.send = function (this: { middlewareStack: Stack }, ...args: unknown[]) {
    // A document client shares its DynamoDB client's stack: one recorder per stack.
    if (!instrumented.has(this.middlewareStack)) {
      instrumented.add(this.middlewareStack);
      this.middlewareStack.add(recorder, { step: 'initialize', priority: 'high', name: 'libraCallRecorder' });
    }
    return send.apply(this, args);
  };
  prototype[PATCHED] = true;
}

/** Runs one invocation of a function: the calls made inside are its calls. */
export function asFunction<T>(fn: string, invoke: () => Promise<T>): Promise<T> {
  return running.run(fn, invoke);
}

export function recordedCalls(): readonly AwsCall[] {
  return recorded;
}
