import type { Request } from './iam-evaluation.ts';

/**
 * The AWS requests Step Functions makes, as the state machine's role, for each Task state of an
 * ASL definition run with a given input: the service integration's own API call, on the
 * resources its Parameters name, and for a `.sync` integration the calls Step Functions makes to
 * follow and stop the run (Step Functions developer guide: "IAM policies for Amazon EMR
 * Serverless" and "IAM policies for Amazon EMR on EKS", Run a Job (.sync)).
 */

interface State {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly Branches?: { States: Record<string, State> }[];
  readonly ItemProcessor?: { States: Record<string, State> };
}

export interface Definition {
  readonly States: Record<string, State>;
}

export interface AslScope {
  readonly account: string;
  readonly region: string;
  /** A run id stands in for the one EMR assigns when the run starts: the grants cover any run. */
  readonly runId: string;
}

/** EventBridge rule Step Functions keeps to hear EMR Serverless runs end (`.sync`). */
export const EMR_SERVERLESS_SYNC_RULE = 'StepFunctionsGetEventsForEMRServerlessJobRule';

/** A JSONPath of the form `$.a.b.c` applied to the input; anything richer is refused. */
function select(input: unknown, path: string): unknown {
  if (!/^\$(\.[A-Za-z0-9_]+)+$/.test(path)) throw new Error(`unsupported path for a resource: ${path}`);
  return path
    .slice(2)
    .split('.')
    .reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], input);
}

/** A parameter the request's resource depends on: literal, or `Name.$` selected from the input. */
function parameter(parameters: Record<string, unknown> | undefined, name: string, input: unknown): string {
  const literal = parameters?.[name];
  const value = literal !== undefined ? literal : select(input, String(parameters?.[`${name}.$`]));
  if (typeof value !== 'string' || value === '') throw new Error(`the task has no ${name} for this input`);
  return value;
}

function tasks(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, state]): [string, State][] => [
    ...(state.Type === 'Task' ? [[name, state] as [string, State]] : []),
    ...(state.Branches ?? []).flatMap((branch) => tasks(branch.States)),
    ...(state.ItemProcessor ? tasks(state.ItemProcessor.States) : []),
  ]);
}

/**
 * Whether this input takes the task: a Choice sends each job to the run task of its backend (and,
 * on EMR on EKS, to the templated run when the pool has a job template), and the input carries
 * exactly the members that run reads, so a task is taken when every request path it reads is there.
 */
function takes(task: State, input: unknown): boolean {
  return Object.entries(task.Parameters ?? {})
    .filter(
      ([name, value]) => name.endsWith('.$') && typeof value === 'string' && value.startsWith('$.request.'),
    )
    .every(([, path]) => select(input, path as string) !== undefined);
}

/** Every request the definition's Task states make for this input, each named by its state. */
export function aslRequests(
  definition: Definition,
  input: unknown,
  { account, region, runId }: AslScope,
): (Request & { state: string })[] {
  return tasks(definition.States).flatMap(([state, task]) => {
    if (!takes(task, input)) return [];
    const p = task.Parameters;
    const value = (name: string) => parameter(p, name, input);
    const at = (requests: Request[]) => requests.map((request) => ({ ...request, state }));
    switch (task.Resource) {
      case 'arn:aws:states:::dynamodb:updateItem':
      case 'arn:aws:states:::dynamodb:putItem': {
        const action = task.Resource.endsWith('updateItem') ? 'dynamodb:UpdateItem' : 'dynamodb:PutItem';
        return at([
          { action, resource: `arn:aws:dynamodb:${region}:${account}:table/${value('TableName')}` },
        ]);
      }
      case 'arn:aws:states:::sqs:sendMessage': {
        const [queueAccount, name] = new URL(value('QueueUrl')).pathname.split('/').filter(Boolean);
        return at([{ action: 'sqs:SendMessage', resource: `arn:aws:sqs:${region}:${queueAccount}:${name}` }]);
      }
      case 'arn:aws:states:::lambda:invoke':
        return at([{ action: 'lambda:InvokeFunction', resource: value('FunctionName') }]);
      case 'arn:aws:states:::emr-serverless:startJobRun.sync': {
        const application = `arn:aws:emr-serverless:${region}:${account}:/applications/${value('ApplicationId')}`;
        const run = `${application}/jobruns/${runId}`;
        const rule = `arn:aws:events:${region}:${account}:rule/${EMR_SERVERLESS_SYNC_RULE}`;
        const tags = p?.Tags ?? (p?.['Tags.$'] ? select(input, String(p['Tags.$'])) : undefined);
        return at([
          { action: 'emr-serverless:StartJobRun', resource: application },
          {
            action: 'iam:PassRole',
            resource: value('ExecutionRoleArn'),
            context: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' },
          },
          // Tags given to StartJobRun are authorized as TagResource on the new run.
          ...(tags && Object.keys(tags).length > 0
            ? [{ action: 'emr-serverless:TagResource', resource: run }]
            : []),
          { action: 'emr-serverless:GetJobRun', resource: run },
          { action: 'emr-serverless:CancelJobRun', resource: run },
          { action: 'events:PutTargets', resource: rule },
          { action: 'events:PutRule', resource: rule },
          { action: 'events:DescribeRule', resource: rule },
        ]);
      }
      case 'arn:aws:states:::emr-containers:startJobRun.sync': {
        const cluster = `arn:aws:emr-containers:${region}:${account}:/virtualclusters/${value('VirtualClusterId')}`;
        const run = `${cluster}/jobruns/${runId}`;
        return at([
          {
            action: 'emr-containers:StartJobRun',
            resource: cluster,
            context: { 'emr-containers:ExecutionRoleArn': value('ExecutionRoleArn') },
          },
          { action: 'emr-containers:DescribeJobRun', resource: run },
          { action: 'emr-containers:CancelJobRun', resource: run },
        ]);
      }
      default:
        throw new Error(
          `${state}: no rule for the requests of ${task.Resource}: add one to test/support/asl-requests.ts`,
        );
    }
  });
}
