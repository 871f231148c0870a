import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import type { DynamoPoolStore } from '#adapters/dynamo-pool-store.ts';
import { createJobTableInput } from '#adapters/table-definition.ts';
import { documentClient } from '#adapters/table-stores.ts';
import type { ExecutionState, IntakeMessage, IntakeQueue, Lease } from '#core/ports.ts';
import type { WebhookJob } from '#core/webhook.ts';
import type { WorkflowInput } from '#core/workflow-input.ts';
import { readJobWorkflow, substitute } from '../../state-machines/job-workflow.ts';
import type { MotoServer } from '../global/moto.ts';
import { MOTO_ACCOUNT, motoName } from './moto.ts';
import {
  type HarnessOptions,
  type ScenarioService,
  type ScriptedSender,
  ScriptedSpark,
  scenarioWorld,
  until,
} from './workflow.ts';

/**
 * The job workflow (state-machines/job.asl.json) on moto's Step Functions interpreter (derived from
 * LocalStack's), with the same use cases, job record, pool lease and scripted Spark backend as the
 * aws-local-stepfunctions harness in workflow.ts, so one scenario can run on both and be compared.
 *
 * Real against moto: every dynamodb:updateItem / putItem and sqs:sendMessage task, the lambda:invoke
 * tasks (moto's Lambda without Docker answers with the payload; the test hands each recorded
 * invocation to the real handler once the execution has ended), the job table, the intake queue.
 * Stood in: the two EMR `.sync` tasks, which moto does not have (see sparkStandIns).
 *
 * moto runs one execution per region: a second StartExecution in a region where an execution
 * already exists answers 500 (its StartExecution deep-copies the state machine, which reaches the
 * first execution's thread lock). Each harness therefore takes a region of its own.
 */

const MOTO_REGIONS = [
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-north-1',
  'ap-south-1',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ca-central-1',
  'sa-east-1',
] as const;
let regionsTaken = 0;

/** Where the stand-in keeps the scripted run's answer in the state. */
const STAND_IN_OUTCOME = '__sparkStandIn';
const SPARK_RESOURCE = /^arn:aws:states:::(emr-serverless|emr-containers):startJobRun\.sync$/;

interface AslCatcher {
  readonly ErrorEquals: readonly string[];
  readonly ResultPath?: string | null;
  readonly Next: string;
}

interface AslTask {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly Catch?: readonly AslCatcher[];
  readonly Next?: string;
  readonly [key: string]: unknown;
}

interface AslMachine {
  readonly States: Record<string, AslTask>;
  readonly [key: string]: unknown;
}

/** Names of the states sparkStandIns adds; they are left out when comparing the states entered. */
export const isStandInState = (name: string) => /^RunOn\w+(Ended|Caught\d+)$/.test(name);

/**
 * The definition with each EMR `.sync` task replaced by a stand-in that keeps its name, timeout,
 * Retry and Catch:
 * - the task itself is `sqs:sendMessage.waitForTaskToken` to the spark queue, with the StartJobRun
 *   request the ASL builds (its Parameters, evaluated by moto) as the message; the test answers as
 *   EMR would: a run's description on success, or `{Error, Cause}` for a run that failed;
 * - a Choice after it routes a failure answer to a Pass that puts `{Error, Cause}` where the task's
 *   Catch would, then to that catcher's Next.
 *
 * Failures come back as data rather than as a task failure because moto cannot deliver one that
 * matches AWS: SendTaskFailure drops `cause` (its server handler forwards only `error`), and it
 * refuses error names beginning with `States.` from a callback or from a Parallel branch. A
 * timeout is real: the waiting task's TimeoutSecondsPath expires with States.Timeout.
 */
export function sparkStandIns(definition: string, sparkQueueUrl: string): string {
  const machine = JSON.parse(definition) as AslMachine;
  const states: Record<string, AslTask> = {};
  for (const [name, state] of Object.entries(machine.States)) {
    const backend = state.Type === 'Task' ? SPARK_RESOURCE.exec(state.Resource ?? '')?.[1] : undefined;
    if (!backend) {
      states[name] = state;
      continue;
    }
    if (!state.Next) throw new Error(`${name}: a stand-in needs the run state's Next`);
    const { Parameters, Catch = [], Next, ResultPath: _result, ...kept } = state;
    const outcome = `$.${STAND_IN_OUTCOME}`;
    states[name] = {
      ...kept,
      Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
      Parameters: {
        QueueUrl: sparkQueueUrl,
        MessageBody: { backend, 'taskToken.$': '$$.Task.Token', request: Parameters },
      },
      ResultPath: outcome,
      Catch,
      Next: `${name}Ended`,
    };
    const failures = Catch.map((catcher, index) => ({ catcher, index })).filter(
      ({ catcher }) => !catcher.ErrorEquals.includes('States.Timeout'),
    );
    const catchAll = failures.find(({ catcher }) => catcher.ErrorEquals.includes('States.ALL'));
    if (!catchAll) throw new Error(`${name}: a stand-in needs the run state's States.ALL catcher`);
    states[`${name}Ended`] = {
      Type: 'Choice',
      Choices: [
        { Variable: `${outcome}.Error`, IsPresent: false, Next },
        ...failures
          .filter(({ catcher }) => catcher !== catchAll.catcher)
          .map(({ catcher, index }) => ({
            Or: catcher.ErrorEquals.map((error) => ({ Variable: `${outcome}.Error`, StringEquals: error })),
            Next: `${name}Caught${index}`,
          })),
      ],
      Default: `${name}Caught${catchAll.index}`,
    };
    for (const { catcher, index } of failures) {
      states[`${name}Caught${index}`] = {
        Type: 'Pass',
        Parameters: { 'Error.$': `${outcome}.Error`, 'Cause.$': `${outcome}.Cause` },
        ResultPath: catcher.ResultPath ?? '$',
        Next: catcher.Next,
      };
    }
  }
  return JSON.stringify({ ...machine, States: states });
}

/** Sets moto's configuration (POST /moto-api/config) on one server. */
export async function configureMotoServer(endpoint: string, config: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(config),
  });
  if (!response.ok) throw new Error(`moto config refused: ${response.status} ${await response.text()}`);
}

/** An empty zip archive: moto's Lambda without Docker runs no code, but CreateFunction unzips it. */
const EMPTY_ZIP = new Uint8Array([0x50, 0x4b, 0x05, 0x06, ...new Array<number>(18).fill(0)]);
const LAMBDA_ROLE = 'libra-asl-moto-lambda';

/** The role moto's CreateFunction checks for, through IAM's query API (no IAM client in the project). */
async function ensureLambdaRole(endpoint: string): Promise<string> {
  const body = new URLSearchParams({
    Action: 'CreateRole',
    Version: '2010-05-08',
    RoleName: LAMBDA_ROLE,
    AssumeRolePolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    }),
  });
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization:
        'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
    },
    body,
  });
  const text = await response.text();
  if (!response.ok && !text.includes('EntityAlreadyExists')) {
    throw new Error(`moto CreateRole failed: ${response.status} ${text}`);
  }
  return `arn:aws:iam::${MOTO_ACCOUNT}:role/${LAMBDA_ROLE}`;
}

/** A lambda:invoke task as moto's history records it. */
export interface LambdaInvocation {
  readonly functionName: string;
  readonly payload: unknown;
}

export interface MotoExecution {
  readonly name: string;
  readonly arn: string;
  status: ExecutionState;
  error?: string;
  cause?: string;
  output?: unknown;
  /** The states entered, from the history, stand-in states left out. */
  statesEntered: string[];
  lambdaInvocations: LambdaInvocation[];
  readonly done: Promise<MotoExecution>;
}

/** One scenario on moto: its own region, table, queues, functions and state machine. */
export class MotoWorkflowHarness {
  readonly region: string;
  readonly tableName: string;
  readonly spark: ScriptedSpark;
  readonly jobs: DynamoJobStore;
  readonly pools: DynamoPoolStore;
  readonly service: ScenarioService;
  readonly sender: ScriptedSender;
  readonly world: ReturnType<typeof scenarioWorld>;
  readonly executions = new Map<string, MotoExecution>();
  readonly #sfn: SFNClient;
  readonly #sqs: SQSClient;
  readonly #dynamo: DynamoDBClient;
  readonly #intakeUrl: string;
  readonly #sparkUrl: string;
  readonly #stateMachineArn: string;
  readonly #functions: Readonly<Record<string, (payload: unknown) => Promise<unknown>>>;
  readonly #held: (() => Promise<void>)[] = [];
  readonly #received: IntakeMessage[] = [];
  #polling = true;
  readonly #poller: Promise<void>;

  private constructor(init: {
    region: string;
    tableName: string;
    clients: { sfn: SFNClient; sqs: SQSClient; dynamo: DynamoDBClient };
    intakeUrl: string;
    sparkUrl: string;
    stateMachineArn: string;
    notifierArn: string;
    finalizerArn: string;
    options: HarnessOptions;
  }) {
    const { options } = init;
    this.region = init.region;
    this.tableName = init.tableName;
    this.#sfn = init.clients.sfn;
    this.#sqs = init.clients.sqs;
    this.#dynamo = init.clients.dynamo;
    this.#intakeUrl = init.intakeUrl;
    this.#sparkUrl = init.sparkUrl;
    this.#stateMachineArn = init.stateMachineArn;
    this.spark = new ScriptedSpark(options.spark);
    const client = documentClient(this.#dynamo);
    const config = options.config;
    const intake: IntakeQueue = {
      send: async (message) => {
        await this.#sqs.send(
          new SendMessageCommand({ QueueUrl: this.#intakeUrl, MessageBody: JSON.stringify(message) }),
        );
      },
    };
    const adjust = options.input ?? ((input: WorkflowInput) => input);
    this.world = scenarioWorld({
      client,
      tableName: init.tableName,
      ...(config && { config }),
      ...(options.sender && { sender: options.sender }),
      spark: this.spark,
      intake,
      executions: {
        startExecution: async (name, input) => {
          const start = () => this.#start(name, adjust(input as WorkflowInput));
          if (!options.holdStarts) return start();
          this.#held.push(async () => {
            await start();
          });
          return 'started';
        },
      },
      workflows: {
        stop: async (jobId) => this.#stop(jobId),
        state: async (jobId) => this.executions.get(jobId)?.status,
      },
    });
    this.jobs = this.world.jobs;
    this.pools = this.world.pools;
    this.service = this.world.service;
    this.sender = this.world.sender;
    this.spark.attach(this.world.recorder);
    this.#functions = {
      [init.notifierArn]: this.world.notifierHandler,
      [init.finalizerArn]: this.world.finalizerHandler,
    };
    this.#poller = this.#playSpark();
  }

  static async create(server: MotoServer, options: HarnessOptions): Promise<MotoWorkflowHarness> {
    const region = MOTO_REGIONS[regionsTaken++];
    if (!region) throw new Error(`moto runs one execution per region: no region left for another scenario`);
    const config = {
      endpoint: server.endpoint,
      region,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    };
    const clients = {
      sfn: new SFNClient(config),
      sqs: new SQSClient(config),
      dynamo: new DynamoDBClient(config),
    };
    const tableName = motoName('asl-jobs');
    await clients.dynamo.send(new CreateTableCommand(createJobTableInput(tableName)));
    const queue = async (prefix: string) => {
      const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: motoName(prefix) }));
      if (!QueueUrl) throw new Error('moto CreateQueue returned no URL');
      return QueueUrl;
    };
    const [intakeUrl, sparkUrl] = await Promise.all([queue('asl-intake'), queue('asl-spark')]);
    const role = await ensureLambdaRole(server.endpoint);
    const lambda = new LambdaClient(config);
    const fn = async (prefix: string) => {
      const { FunctionArn } = await lambda.send(
        new CreateFunctionCommand({
          FunctionName: motoName(prefix),
          Runtime: 'nodejs22.x',
          Role: role,
          Handler: 'index.handler',
          Code: { ZipFile: EMPTY_ZIP },
        }),
      );
      if (!FunctionArn) throw new Error('moto CreateFunction returned no ARN');
      return FunctionArn;
    };
    const [notifierArn, finalizerArn] = await Promise.all([fn('asl-notifier'), fn('asl-finalizer')]);
    lambda.destroy();
    const definition = sparkStandIns(
      substitute(readJobWorkflow(), {
        JobTableName: tableName,
        IntakeQueueUrl: intakeUrl,
        NotifierFunctionArn: notifierArn,
        FinalizerFunctionArn: finalizerArn,
      }),
      sparkUrl,
    );
    const { stateMachineArn } = await clients.sfn.send(
      new CreateStateMachineCommand({
        name: motoName('asl-job'),
        definition,
        roleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/libra-asl-moto-workflow`,
      }),
    );
    if (!stateMachineArn) throw new Error('moto CreateStateMachine returned no ARN');
    return new MotoWorkflowHarness({
      region,
      tableName,
      clients,
      intakeUrl,
      sparkUrl,
      stateMachineArn,
      notifierArn,
      finalizerArn,
      options,
    });
  }

  /** Submits and admits the job, as the local harness does. */
  async start(body: Record<string, unknown>): Promise<{ jobId: string }> {
    return { jobId: await this.world.submitAndAdmit(body) };
  }

  /** Starts the StartExecution calls admission made while starts were held. */
  async releaseStarts(): Promise<void> {
    for (const start of this.#held.splice(0)) await start();
  }

  async job(jobId: string): Promise<WebhookJob> {
    const job = await this.jobs.getJob(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    return job;
  }

  async lease(jobId: string, pool = 'default'): Promise<Lease | undefined> {
    return (await this.pools.getPool(pool)).leases[jobId];
  }

  /** Every message the intake queue received so far. */
  async intakeMessages(): Promise<IntakeMessage[]> {
    for (;;) {
      const { Messages = [] } = await this.#sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.#intakeUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        this.#received.push(JSON.parse(message.Body ?? '{}') as IntakeMessage);
        await this.#sqs.send(
          new DeleteMessageCommand({ QueueUrl: this.#intakeUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      }
    }
    return [...this.#received];
  }

  async wakes(jobId: string): Promise<IntakeMessage[]> {
    return (await this.intakeMessages()).filter(
      (message) => message.kind === 'wake' && message.jobId === jobId,
    );
  }

  /** Waits for the job's execution to end, then hands its lambda:invoke payloads to the handlers. */
  async finished(jobId: string): Promise<MotoExecution> {
    const execution = await until('the moto execution to start', () => this.executions.get(jobId));
    await execution.done;
    for (const { functionName, payload } of execution.lambdaInvocations) {
      const handler = this.#functions[functionName];
      if (!handler)
        throw new Error(`the execution invoked ${functionName}, which the harness did not create`);
      await handler(payload);
    }
    return execution;
  }

  async close(): Promise<void> {
    this.#polling = false;
    for (const call of this.spark.running) await this.spark.cancelRun(call);
    await this.#poller;
    this.#sfn.destroy();
    this.#sqs.destroy();
    this.#dynamo.destroy();
  }

  async #start(name: string, input: unknown): Promise<'started' | 'already-started'> {
    let arn: string | undefined;
    try {
      ({ executionArn: arn } = await this.#sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.#stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      ));
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return 'already-started';
      throw error;
    }
    if (!arn) throw new Error('moto StartExecution returned no ARN');
    const execution: MotoExecution = {
      name,
      arn,
      status: 'RUNNING',
      statesEntered: [],
      lambdaInvocations: [],
      // Settled from the next tick on, when `execution` is assigned.
      done: Promise.resolve().then(() => this.#settle(execution)),
    };
    this.executions.set(name, execution);
    return 'started';
  }

  async #settle(execution: MotoExecution): Promise<MotoExecution> {
    const ended = await until(
      `moto execution ${execution.name} to end`,
      async () => {
        const described = await this.#sfn.send(new DescribeExecutionCommand({ executionArn: execution.arn }));
        return described.status !== 'RUNNING' && described;
      },
      60_000,
      // Each poll is a request to a moto_server that also runs the interpreter: poll gently.
      250,
    );
    execution.status = ended.status as ExecutionState;
    if (ended.error !== undefined) execution.error = ended.error;
    if (ended.cause !== undefined) execution.cause = ended.cause;
    if (ended.output !== undefined) execution.output = JSON.parse(ended.output);
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#sfn
        .send(new GetExecutionHistoryCommand({ executionArn: execution.arn, maxResults: 1000, nextToken }))
        .catch((error: Error & { $metadata?: { httpStatusCode?: number } }) => {
          if (error.$metadata?.httpStatusCode !== 500) throw error;
          throw new Error(
            `moto answered 500 to GetExecutionHistory of ${execution.name}: seen when a task's timeout ` +
              'expired before moto had scheduled the task (a TaskScheduled event with a bad timeoutInSeconds); ' +
              'see docs/emulators.md',
            { cause: error },
          );
        });
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    execution.statesEntered = events
      .filter((event) => event.type?.endsWith('StateEntered'))
      .map((event) => event.stateEnteredEventDetails?.name ?? '?')
      .filter((name) => !isStandInState(name));
    execution.lambdaInvocations = events
      .filter(
        (event) =>
          event.type === 'TaskScheduled' && event.taskScheduledEventDetails?.resourceType === 'lambda',
      )
      .map((event) => {
        const parameters = JSON.parse(event.taskScheduledEventDetails?.parameters ?? '{}') as {
          FunctionName: string;
          Payload: unknown;
        };
        return { functionName: parameters.FunctionName, payload: parameters.Payload };
      });
    return execution;
  }

  async #stop(jobId: string): Promise<boolean> {
    const execution = this.executions.get(jobId);
    if (!execution) return false;
    try {
      await this.#sfn.send(new StopExecutionCommand({ executionArn: execution.arn }));
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return false;
      throw error;
    }
    return true;
  }

  /**
   * EMR, as the stand-in tasks meet it: each StartJobRun request sent to the spark queue runs one
   * step of the scenario's script (ScriptedSpark, which also reports the run's states as EMR's
   * events are recorded), and its end is sent back with the task token.
   */
  async #playSpark(): Promise<void> {
    while (this.#polling) {
      const { Messages = [] } = await this.#sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.#sparkUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of Messages) {
        await this.#sqs.send(
          new DeleteMessageCommand({ QueueUrl: this.#sparkUrl, ReceiptHandle: message.ReceiptHandle }),
        );
        const { backend, taskToken, request } = JSON.parse(message.Body ?? '{}') as {
          backend: 'emr-serverless' | 'emr-containers';
          taskToken: string;
          request: Record<string, unknown>;
        };
        const kind = backend === 'emr-serverless' ? 'emr-serverless' : 'eks';
        void this.spark.run(kind, request).then(
          (description) => this.#answer(taskToken, description),
          (error: Error) => this.#answer(taskToken, { Error: error.name, Cause: error.message }),
        );
      }
    }
  }

  async #answer(taskToken: string, output: unknown): Promise<void> {
    try {
      await this.#sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    } catch {
      // The task timed out or its execution ended first: nobody waits for this run any more.
    }
  }
}
