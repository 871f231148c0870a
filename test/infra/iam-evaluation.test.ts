import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  CreateVirtualClusterCommand,
  EMRContainersClient,
  StartJobRunCommand as StartEksRunCommand,
} from '@aws-sdk/client-emr-containers';
import {
  CreateApplicationCommand,
  EMRServerlessClient,
  StartJobRunCommand as StartServerlessRunCommand,
} from '@aws-sdk/client-emr-serverless';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeExecutionCommand,
  SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Stack } from 'aws-cdk-lib';
import { Template as CdkTemplate } from 'aws-cdk-lib/assertions';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { executionArn } from '#adapters/sfn-workflow-starter.ts';
import type { LibraStackProps } from '../../lib/libra-stack-props.ts';
import {
  cancelEvent,
  eventsEvent,
  getEvent,
  iamCaller,
  listEvent,
  openApiEvent,
  rerunEvent,
  sqlJob,
  submitEvent,
  usageEvent,
} from '../support/api.ts';
import { type AslScope, aslRequests, type Definition } from '../support/asl-requests.ts';
import { asFunction, recordAwsCalls, recordedCalls } from '../support/aws-calls.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { type Grant, type Request, RolePermissions, unusedGrants } from '../support/iam-evaluation.ts';
import { FUNCTION_ENTRIES, type Handler, lambdaContext, loadEntry } from '../support/lambda-entries.ts';
import { MOTO_ACCOUNT, MOTO_REGION, motoClientConfig, motoEndpoint } from '../support/moto.ts';
import { type Template, TemplateValues } from '../support/template-arns.ts';
import { CDK_JSON_CONTEXT, libraStack, logicalId } from './app.ts';

/**
 * IAM proven by evaluation. Each Libra function's own entry runs through its work with the
 * environment its template gives it, its AWS calls going to the suite's moto_server (DynamoDB to
 * dynalite); every call is recorded (test/support/aws-calls.ts) and judged against that function's
 * role in the synthesized template by a real IAM policy evaluator, and so are the requests Step
 * Functions makes for the workflow's tasks against the state machine's role. A granted action that
 * no call uses must be listed with its reason in iam-unused-grants.json.
 *
 * The calls are recorded here, driven explicitly, rather than gathered from the whole suite: the
 * other tests compose the use cases with recording fakes or call handlers directly, so a call
 * could not be told apart by the function that makes it in AWS. Driving the real entries makes
 * the record complete and deterministic within one file.
 */

const SCOPE = { account: MOTO_ACCOUNT, region: MOTO_REGION };
const OWNER = iamCaller('iam-evaluation');
const UNUSED: {
  readonly everyFunction: Record<string, string>;
  readonly functions: Record<string, Record<string, string>>;
  readonly stateMachine: Record<string, string>;
} = JSON.parse(readFileSync(new URL('./iam-unused-grants.json', import.meta.url), 'utf8'));

/**
 * The state machine the functions start, describe and stop executions of: one Wait state, so an
 * execution stays RUNNING whether or not moto is set to run state machines. The workflow's own
 * tasks are evaluated from the ASL, against the state machine's role.
 */
const HOLD_DEFINITION = JSON.stringify({
  Comment: 'stands in for the job workflow: the functions only start, describe and stop executions',
  StartAt: 'Hold',
  States: { Hold: { Type: 'Wait', Seconds: 86_400, End: true } },
});

/** A zip holding one file, for moto's CreateFunction (the notifier is invoked, never run). */
function lambdaZip(): Uint8Array {
  const script =
    'import io,sys,zipfile\nb=io.BytesIO()\nwith zipfile.ZipFile(b,"w") as z: z.writestr("index.js","exports.handler=async()=>null")\nsys.stdout.buffer.write(b.getvalue())';
  const run = spawnSync('python3', ['-c', script]);
  if (run.status !== 0) throw new Error(`python3 could not build a zip: ${run.stderr}`);
  return new Uint8Array(run.stdout);
}

/** moto's IAM, through its Query API (the project has no IAM client): Lambda wants a role that exists. */
async function motoRole(name: string): Promise<string> {
  const body = new URLSearchParams({
    Action: 'CreateRole',
    Version: '2010-05-08',
    RoleName: name,
    AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }),
  });
  const response = await fetch(`${motoEndpoint()}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20250101/${MOTO_REGION}/iam/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body,
  });
  if (!response.ok) throw new Error(`moto CreateRole: ${response.status} ${await response.text()}`);
  return `arn:aws:iam::${MOTO_ACCOUNT}:role/${name}`;
}

interface LibraFunction {
  readonly path: string;
  readonly functionId: string;
  readonly roleId: string;
}

function libraFunctions(stack: Stack): LibraFunction[] {
  return stack.node
    .findAll()
    .filter((child): child is NodejsFunction => child instanceof NodejsFunction)
    .map((fn) => ({
      path: fn.node.path.replace(/^Libra\/Libra\//, '').replace(/\/Function$/, ''),
      functionId: logicalId(stack, fn),
      roleId: logicalId(stack, fn.role ?? fn),
    }));
}

const suffix = randomBytes(4).toString('hex');
const clients = {
  sqs: new SQSClient(motoClientConfig()),
  s3: new S3Client({ ...motoClientConfig(), forcePathStyle: true }),
  sfn: new SFNClient(motoClientConfig()),
  lambda: new LambdaClient(motoClientConfig()),
  secrets: new SecretsManagerClient(motoClientConfig()),
  serverless: new EMRServerlessClient(motoClientConfig()),
  containers: new EMRContainersClient(motoClientConfig()),
};

let db: TestDatabase;
let values: TemplateValues;
let functions: LibraFunction[];
let workflowRoleId: string;
let definition: Definition;
let workflowInputs: unknown[] = [];
const handlers = new Map<string, Handler>();

async function invoke(path: string, event: unknown): Promise<unknown> {
  const handler = handlers.get(path);
  if (!handler) throw new Error(`no handler loaded for ${path}`);
  return asFunction(path, () =>
    handler(event, lambdaContext(path.replace('/', '-'), SCOPE.region, SCOPE.account)),
  );
}

async function http(
  path: string,
  event: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const result = (await invoke(path, event)) as { statusCode: number; body?: string };
  return { status: result.statusCode, body: result.body ? JSON.parse(result.body) : {} };
}

async function submit(body: Record<string, unknown>): Promise<string> {
  const reply = await http('JobApi/SubmitJob', submitEvent(OWNER, body));
  expect(reply.status, JSON.stringify(reply.body)).toBe(202);
  return reply.body.jobId as string;
}

function sqsEvent(messages: Record<string, unknown>[]) {
  return {
    Records: messages.map((message, index) => ({
      messageId: `m-${index}-${randomBytes(3).toString('hex')}`,
      receiptHandle: `rh-${index}`,
      body: JSON.stringify(message),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '0',
        SenderId: 'libra',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: values.getAtt(logicalIdOfType('AWS::SQS::Queue', 'LibraIntakeQueue'), 'Arn'),
      awsRegion: SCOPE.region,
    })),
  };
}

function logicalIdOfType(type: string, prefix: string): string {
  const id = Object.entries(values.template.Resources).find(
    ([key, resource]) => resource.Type === type && key.startsWith(prefix),
  )?.[0];
  if (!id) throw new Error(`the template has no ${type} ${prefix}…`);
  return id;
}

function executionEvent(jobId: string, status: string) {
  return {
    version: '0',
    id: randomBytes(8).toString('hex'),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: SCOPE.account,
    time: new Date().toISOString(),
    region: SCOPE.region,
    resources: [],
    detail: {
      executionArn: executionArn(machineArn(), jobId),
      name: jobId,
      status,
      cause: null,
      error: null,
    },
  };
}

async function jobStatus(jobId: string): Promise<string> {
  const reply = await http('JobApi/GetJob', getEvent(OWNER, jobId));
  return reply.body.status as string;
}

type Target = 'default' | 'shared' | 'k8s';
const TARGETS: Target[] = ['default', 'shared', 'k8s'];

/** A job admitted on a pool (SCHEDULED, its execution RUNNING), as admission admits it. */
async function scheduled(pool: Target, extra: Record<string, unknown> = {}): Promise<string> {
  const jobId = await submit(sqlJob({ pool, ...extra }));
  await invoke('Admission/Admission', sqsEvent([{ kind: 'submitted', pool, jobId }]));
  expect(await jobStatus(jobId)).toBe('SCHEDULED');
  return jobId;
}

/** A run on the pool's backend, started on moto and named after its job as the workflow names it. */
async function startRun(pool: Target, jobId: string): Promise<{ target: string; run: string }> {
  if (pool === 'k8s') {
    const started = await clients.containers.send(
      new StartEksRunCommand({
        virtualClusterId: eksCluster,
        executionRoleArn: `arn:aws:iam::${SCOPE.account}:role/eks-jobs`,
        releaseLabel: 'emr-7.5.0-latest',
        name: jobId,
        jobDriver: { sparkSubmitJobDriver: { entryPoint: 's3://bucket/runner.py' } },
      }),
    );
    return { target: eksCluster, run: started.id as string };
  }
  const applicationId = applications[pool];
  const started = await clients.serverless.send(
    new StartServerlessRunCommand({
      applicationId,
      executionRoleArn: `arn:aws:iam::${SCOPE.account}:role/runs`,
      name: jobId,
      clientToken: jobId,
      jobDriver: { sparkSubmit: { entryPoint: 's3://bucket/runner.py' } },
    }),
  );
  return { target: applicationId, run: started.jobRunId as string };
}

let eventSecond = 0;

/** EMR's state-change event for the job's run, to the run recorder; `named: false` leaves the run's name out. */
async function recordRun(
  pool: Target,
  jobId: string,
  run: { target: string; run: string },
  state: string,
  options: { named?: boolean; time?: string } = {},
): Promise<void> {
  eventSecond++;
  const time = options.time ?? new Date(Date.UTC(2030, 0, 1, 0, 0, eventSecond)).toISOString();
  const detail =
    pool === 'k8s'
      ? { id: run.run, virtualClusterId: run.target, state, name: jobId }
      : {
          jobRunId: run.run,
          applicationId: run.target,
          state,
          releaseLabel: 'emr-7.5.0',
          ...(options.named !== false && { jobRunName: jobId }),
        };
  await invoke('RunRecorder/RunRecorder', {
    version: '0',
    id: randomBytes(8).toString('hex'),
    'detail-type': pool === 'k8s' ? 'EMR Job Run State Change' : 'EMR Serverless Job Run State Change',
    source: pool === 'k8s' ? 'aws.emr-containers' : 'aws.emr-serverless',
    account: SCOPE.account,
    time,
    region: SCOPE.region,
    resources: [],
    detail,
  });
}

/** The workflow's MarkRunning, made by the test (the workflow here is a stand-in that only waits). */
async function markRunning(jobId: string, at: Date): Promise<void> {
  const store = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 1 });
  await store.transition(jobId, ['SCHEDULED'], 'RUNNING', { at: at.toISOString(), set: { attempts: 1 } });
}

/** A job whose run is going and whose execution was stopped without the finalizer hearing of it. */
async function endedUnseen(pool: Target, runState = 'RUNNING'): Promise<string> {
  const jobId = await scheduled(pool);
  await recordRun(pool, jobId, await startRun(pool, jobId), runState);
  await clients.sfn.send(new StopExecutionCommand({ executionArn: executionArn(machineArn(), jobId) }));
  return jobId;
}

const machineArn = () => values.ref(logicalIdOfType('AWS::StepFunctions::StateMachine', 'Libra'));

/**
 * Every function through its work, on each backend where the backend matters: the API's routes
 * (a retried submit, a queued job's place), admission, the run recorder on EMR's events (in order,
 * out of order, without the run's name), cancels of a queued, a running and an unseen-ended job,
 * the finalizer and the reconciler ending jobs (cancelling their runs, reading a cancelled job's
 * history, waking the pool, notifying), the notifier signing webhooks, the secret writer.
 */
async function driveEveryFunction(): Promise<void> {
  // The secret writer, once for each pool's secret, as the custom resource provider's framework
  // function invokes it for CloudFormation's Create; the framework answers with what it returns.
  const secretValues = Object.entries(values.template.Resources).filter(
    ([, resource]) => resource.Type === 'Custom::LibraWebhookSecret',
  );
  const answers: unknown[] = [];
  for (const [id, resource] of secretValues) {
    const secretId = values.resolve(resource.Properties?.SecretId);
    answers.push(
      await invoke('Notifier/SecretWriter', {
        RequestType: 'Create',
        ServiceToken: 'token',
        ResponseURL: 'https://cloudformation-custom-resource-response.example/signed',
        StackId: `arn:aws:cloudformation:${SCOPE.region}:${SCOPE.account}:stack/Libra/1`,
        RequestId: `request-${id}`,
        LogicalResourceId: id,
        ResourceType: 'Custom::LibraWebhookSecret',
        ResourceProperties: { ServiceToken: 'token', SecretId: secretId },
      }),
    );
  }
  expect(answers).toEqual(
    secretValues.map(([, resource]) => ({
      PhysicalResourceId: values.resolve(resource.Properties?.SecretId),
    })),
  );
  expect(answers.length).toBeGreaterThan(0);

  // A retried submit: the idempotency key is claimed already, and its job is read back.
  const retried = submitEvent(OWNER, sqlJob(), { idempotencyKey: `retry-${suffix}` });
  const first = await http('JobApi/SubmitJob', retried);
  expect((await http('JobApi/SubmitJob', retried)).body.jobId).toBe(first.body.jobId);

  // The notifier signs with the secret of each job's pool; the guard then refuses the loopback address.
  const notifications = { webhook: 'https://127.0.0.1/hook', events: ['SCHEDULED'] };
  const admitted: Record<Target, string> = {
    default: await scheduled('default', { notifications }),
    shared: await scheduled('shared', { notifications }),
    k8s: await scheduled('k8s', { notifications }),
  };
  for (const jobId of Object.values(admitted)) {
    await expect(invoke('Notifier/Notifier', { jobId, status: 'SCHEDULED' })).rejects.toThrow(
      /not a public address/,
    );
  }
  const queued = await submit(sqlJob({ pool: 'default' }));
  // A queued job's status tells its place in the queue, from the waiting index.
  expect((await http('JobApi/GetJob', getEvent(OWNER, queued))).body.queuePosition).toEqual(
    expect.any(Number),
  );
  await http('JobApi/ListJobs', listEvent(OWNER));
  await http('JobApi/ListJobEvents', eventsEvent(OWNER, queued));
  await http('JobApi/ListPools', listEvent(OWNER));
  // Usage totals: one Query per day asked, on the table's usage items.
  expect((await http('JobApi/GetUsage', usageEvent(OWNER, { groupBy: 'tag' }))).status).toBe(200);
  // The OpenAPI document is bundled into its function: it answers with no AWS call at all.
  const document = await http('JobApi/GetOpenApi', openApiEvent(OWNER));
  expect(document.status).toBe(200);
  expect(document.body.openapi).toBe('3.1.1');

  // The run recorder: in order, out of order (the job is read back), and without the run's name.
  for (const pool of TARGETS) {
    const run = await startRun(pool, admitted[pool]);
    await recordRun(pool, admitted[pool], run, 'RUNNING');
    await recordRun(pool, admitted[pool], run, 'SUBMITTED', { time: '2029-01-01T00:00:00.000Z' });
    if (pool !== 'k8s') await recordRun(pool, admitted[pool], run, 'RUNNING', { named: false });
  }

  // Cancels: a queued job ends at once; a running one is stopped; one whose execution ended unseen
  // is ended here, its run cancelled on its backend; one whose run had already ended reads its history.
  expect((await http('JobApi/CancelJob', cancelEvent(OWNER, queued))).body.status).toBe('CANCELLED');
  // A re-run of the cancelled job, retried: the original read, the new job written and linked,
  // admission woken; the retry finds its key claimed and reads the new job back.
  const rerun = rerunEvent(OWNER, queued, { priority: 9 }, { idempotencyKey: `rerun-${suffix}` });
  const rerunFirst = await http('JobApi/RerunJob', rerun);
  expect(rerunFirst.status, JSON.stringify(rerunFirst.body)).toBe(202);
  expect((await http('JobApi/RerunJob', rerun)).body.jobId).toBe(rerunFirst.body.jobId);
  expect((await http('JobApi/GetJob', getEvent(OWNER, queued))).body.reruns).toEqual([rerunFirst.body.jobId]);
  const stopping = await scheduled('default');
  expect((await http('JobApi/CancelJob', cancelEvent(OWNER, stopping))).body.status).toBe('CANCELLING');
  for (const pool of TARGETS) {
    const jobId = await endedUnseen(pool);
    expect((await http('JobApi/CancelJob', cancelEvent(OWNER, jobId))).body.status).toBe('CANCELLED');
  }
  const runEnded = await endedUnseen('default', 'SUCCESS');
  expect((await http('JobApi/CancelJob', cancelEvent(OWNER, runEnded))).body.status).toMatch(
    /SUCCEEDED|CANCELLED/,
  );

  // The finalizer: a stopped execution's event ends its job, cancelling the run on each backend;
  // a cancelled job whose run had ended reads its history; the workflow's StopRun stops a run.
  for (const pool of TARGETS) {
    await invoke('Workflow/Finalizer', executionEvent(admitted[pool], 'ABORTED'));
    expect(await jobStatus(admitted[pool])).toBe('CANCELLED');
  }
  await recordRun('default', stopping, await startRun('default', stopping), 'SUCCESS');
  await invoke('Workflow/Finalizer', executionEvent(stopping, 'ABORTED'));
  const stopRun = await scheduled('k8s');
  const stopRunRun = await startRun('k8s', stopRun);
  await recordRun('k8s', stopRun, stopRunRun, 'RUNNING');
  await invoke('Workflow/Finalizer', { action: 'stop-run', jobId: stopRun, attempt: 1 });
  // An ended EMR on EKS run: its cost estimated from the job's history and sizing, and counted.
  await recordRun('k8s', stopRun, stopRunRun, 'CANCELLED');

  // The reconciler: executions that ended unseen are finalized on the tick, which then admits.
  const unseen = await Promise.all(TARGETS.map((pool) => endedUnseen(pool)));
  const cancelledUnseen = await scheduled('default');
  expect((await http('JobApi/CancelJob', cancelEvent(OWNER, cancelledUnseen))).body.status).toBe(
    'CANCELLING',
  );
  await recordRun('default', cancelledUnseen, await startRun('default', cancelledUnseen), 'FAILED');
  await submit(sqlJob({ pool: 'shared' }));
  // A run past its duration warning: the tick finds it in the warnings index, records the warning
  // and invokes the notifier for its owner's webhook.
  const overdue = await scheduled('default', {
    warnAfterMinutes: 1,
    notifications: { webhook: 'https://127.0.0.1/hook', events: ['DURATION_WARNING'] },
  });
  await markRunning(overdue, new Date(Date.now() - 5 * 60_000));
  await invoke('Admission/Tick', {});
  const overdueEvents = await http('JobApi/ListJobEvents', eventsEvent(OWNER, overdue));
  expect((overdueEvents.body.events as { type: string }[]).map((event) => event.type)).toContain(
    'DURATION_WARNING',
  );
  for (const jobId of [...unseen, cancelledUnseen])
    expect(await jobStatus(jobId)).toMatch(/CANCELLED|FAILED/);

  await invoke('Observability/WorkflowEnds', executionEvent(stopping, 'ABORTED'));

  workflowInputs = await Promise.all(
    Object.values(admitted).map(async (jobId) => {
      const execution = await clients.sfn.send(
        new DescribeExecutionCommand({ executionArn: executionArn(machineArn(), jobId) }),
      );
      return JSON.parse(execution.input ?? 'null');
    }),
  );

  // A start refused for good (the state machine is gone) ends its job START_FAILED at admission,
  // which wakes the pool and notifies the owner.
  await clients.sfn.send(new DeleteStateMachineCommand({ stateMachineArn: machineArn() }));
  const refused = await submit(
    sqlJob({ pool: 'default', notifications: { webhook: 'https://127.0.0.1/hook', events: ['FAILED'] } }),
  );
  await invoke('Admission/Admission', sqsEvent([{ kind: 'submitted', pool: 'default', jobId: refused }]));
  expect(await jobStatus(refused)).toBe('FAILED');
}

let eksCluster: string;
/** Each EMR Serverless pool's application id. */
const applications: Record<'default' | 'shared', string> = { default: '', shared: '' };
/** The ids moto gave the configured backends, as the unused grants' list names them. */
let aliases: Record<string, string> = {};

beforeAll(async () => {
  recordAwsCalls(SCOPE);
  // Resources whose ids the configuration names: an existing application and an EMR on EKS cluster.
  const existing = await clients.serverless.send(
    new CreateApplicationCommand({ name: `shared-${suffix}`, releaseLabel: 'emr-7.5.0', type: 'SPARK' }),
  );
  eksCluster = (
    await clients.containers.send(
      new CreateVirtualClusterCommand({
        name: `libra-${suffix}`,
        containerProvider: { type: 'EKS', id: 'cluster', info: { eksInfo: { namespace: 'spark' } } },
      }),
    )
  ).id as string;
  applications.shared = existing.applicationId as string;
  aliases = {
    [existing.applicationId as string]: '<shared-application-id>',
    [eksCluster]: '<k8s-virtual-cluster-id>',
  };
  const config = {
    ...(CDK_JSON_CONTEXT.libra as object),
    pools: {
      ...(CDK_JSON_CONTEXT.libra as { pools: object }).pools,
      shared: {
        // A budget: its submits read the pool's spend this month first.
        monthlyBudgetUsd: 1000,
        backends: {
          emrServerless: {
            applicationId: existing.applicationId as string,
            executionRoleArn: `arn:aws:iam::${SCOPE.account}:role/shared-jobs`,
          },
        },
      },
      k8s: {
        backends: {
          eks: {
            virtualClusterId: eksCluster,
            executionRoleArn: `arn:aws:iam::${SCOPE.account}:role/eks-jobs`,
          },
        },
      },
    },
  } as LibraStackProps['config'];
  // Names of this run's own, through the stack's options: one moto_server serves every test file.
  const stack = libraStack({
    config,
    workflow: { stateMachineName: `libra-iam-${suffix}` },
    notifier: { webhookSecretPrefix: `libra-iam-${suffix}/webhooks/` },
  });
  const template = CdkTemplate.fromStack(stack).toJSON() as Template;
  functions = libraFunctions(stack);
  workflowRoleId = logicalId(stack, stack.libra.workflow.role);

  // What only the emulators assign: application ids, the queue's URL, the secret's ARN.
  const overrides: Record<string, string> = {};
  const draft = new TemplateValues(template, { ...SCOPE, suffix });
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::EMRServerless::Application') {
      const created = await clients.serverless.send(
        new CreateApplicationCommand({
          name: `${resource.Properties?.Name}-${suffix}`,
          releaseLabel: String(resource.Properties?.ReleaseLabel),
          type: 'SPARK',
        }),
      );
      overrides[`${id}.ApplicationId`] = created.applicationId as string;
      applications.default = created.applicationId as string;
      overrides[`${id}.Arn`] = created.arn as string;
    }
  }
  const queueId = Object.keys(template.Resources).find((id) => id.startsWith('LibraIntakeQueue'));
  const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: draft.name(queueId as string) }));
  overrides[queueId as string] = queue.QueueUrl as string;
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::SecretsManager::Secret') continue;
    const name = draft.name(id);
    const arn = (
      await clients.secrets.send(new CreateSecretCommand({ Name: name, SecretString: 'placeholder' }))
    ).ARN as string;
    overrides[id] = arn;
    overrides[`${id}.Arn`] = arn;
  }
  values = new TemplateValues(template, { ...SCOPE, suffix, overrides });

  const tableId = Object.keys(template.Resources).find((id) => id.startsWith('LibraJobStoreTable')) as string;
  db = await startTestDatabase(values.name(tableId));
  await clients.s3.send(
    new CreateBucketCommand({
      Bucket: values.name(logicalIdOfType('AWS::S3::Bucket', 'LibraArtifactsBucket')),
    }),
  );
  const machineId = logicalIdOfType('AWS::StepFunctions::StateMachine', 'Libra');
  await clients.sfn.send(
    new CreateStateMachineCommand({
      name: values.name(machineId),
      definition: HOLD_DEFINITION,
      roleArn: values.getAtt(workflowRoleId, 'Arn'),
    }),
  );
  const substitutions = values.resolve(
    template.Resources[machineId]?.Properties?.DefinitionSubstitutions,
  ) as Record<string, string>;
  definition = JSON.parse(
    String(values.resolve(template.Resources[machineId]?.Properties?.DefinitionString)).replace(
      /\$\{(\w+)\}/g,
      (placeholder, key: string) => substitutions[key] ?? placeholder,
    ),
  );
  const notifierId = logicalIdOfType('AWS::Lambda::Function', 'LibraNotifierFunction');
  await clients.lambda.send(
    new CreateFunctionCommand({
      FunctionName: values.name(notifierId),
      Runtime: 'nodejs20.x',
      Handler: 'index.handler',
      Role: await motoRole(`libra-notifier-${suffix}`),
      Code: { ZipFile: lambdaZip() },
    }),
  );

  const common = {
    AWS_REGION: SCOPE.region,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_ENDPOINT_URL: motoEndpoint(),
    AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
  for (const fn of functions) {
    const environment = template.Resources[fn.functionId]?.Properties?.Environment as
      | { Variables?: Record<string, unknown> }
      | undefined;
    const variables = values.resolve(environment?.Variables ?? {}) as Record<string, string>;
    handlers.set(fn.path, await loadEntry(fn.path, common, variables));
  }
  await driveEveryFunction();
}, 120_000);

afterAll(async () => {
  await db?.stop();
  for (const client of Object.values(clients)) client.destroy();
});

/** The grants of a role no request used and no reason keeps, and the reasons kept for grants now used or gone. */
function unexplained(
  grants: readonly Grant[],
  requests: readonly Request[],
  reasons: Record<string, string>,
  everyFunction: Record<string, string> = {},
) {
  const unused = unusedGrants(grants, requests);
  return {
    withoutReason: unused
      .filter((grant) => !reasons[grant.name] && !everyFunction[grant.action])
      .map((grant) => grant.name),
    stale: Object.keys(reasons).filter((name) => !unused.some((grant) => grant.name === name)),
  };
}

describe('IAM, by evaluation of every AWS call against the synthesized roles', () => {
  it('drives the entry of every Libra function in the stack', () => {
    expect(functions.map(({ path }) => path).sort()).toEqual(Object.keys(FUNCTION_ENTRIES).sort());
    const calling = new Set(recordedCalls().map(({ fn }) => fn));
    // Every function makes AWS calls but the one that only counts metrics and the one that
    // serves the OpenAPI document bundled into it.
    expect([...calling].sort()).toEqual(
      Object.keys(FUNCTION_ENTRIES)
        .filter((path) => path !== 'Observability/WorkflowEnds' && path !== 'JobApi/GetOpenApi')
        .sort(),
    );
  });

  it("allows every call each function made, on the resource IAM authorizes it on, by that function's role", async () => {
    const refused: string[] = [];
    for (const fn of functions) {
      const role = new RolePermissions(values, fn.roleId, aliases);
      for (const call of recordedCalls().filter((c) => c.fn === fn.path)) {
        const decision = await role.decide(call);
        if (decision !== 'Allowed') refused.push(`${fn.path}: ${call.action} ${call.resource}: ${decision}`);
      }
    }
    expect(refused).toEqual([]);
    expect(recordedCalls().length).toBeGreaterThan(50);
  });

  it('evaluates for real: a call outside a role is refused', async () => {
    const recorder = functions.find(({ path }) => path === 'RunRecorder/RunRecorder') as LibraFunction;
    const table = recordedCalls().find(
      (call) => call.fn === recorder.path && call.action === 'dynamodb:UpdateItem',
    );
    const role = new RolePermissions(values, recorder.roleId, aliases);

    expect(await role.decide({ action: 'dynamodb:PutItem', resource: table?.resource ?? '' })).toBe(
      'ImplicitlyDenied',
    );
    expect(await role.decide({ action: 'dynamodb:GetItem', resource: table?.resource ?? '' })).toBe(
      'Allowed',
    );
  });

  it('grants each function nothing its calls do not use, but for the grants kept with a reason', () => {
    for (const fn of functions) {
      const role = new RolePermissions(values, fn.roleId, aliases);
      const calls = recordedCalls().filter((call) => call.fn === fn.path);
      const { withoutReason, stale } = unexplained(
        role.grants,
        calls,
        UNUSED.functions[fn.path] ?? {},
        UNUSED.everyFunction,
      );
      expect(withoutReason, `${fn.path}: unused grants with no reason in iam-unused-grants.json`).toEqual([]);
      expect(stale, `${fn.path}: reasons for grants that are used or no longer granted`).toEqual([]);
    }
    const known = new Set(functions.map(({ path }) => path));
    expect(Object.keys(UNUSED.functions).filter((path) => !known.has(path))).toEqual([]);
  });

  it("allows every request Step Functions makes for the workflow's tasks, on each backend, by the state machine's role", async () => {
    const role = new RolePermissions(values, workflowRoleId, aliases);
    const scope: AslScope = { ...SCOPE, runId: 'run0stand0in' };
    const requests = workflowInputs.flatMap((input) => aslRequests(definition, input, scope));
    const refused: string[] = [];
    for (const request of requests) {
      const decision = await role.decide(request);
      if (decision !== 'Allowed')
        refused.push(`${request.state}: ${request.action} ${request.resource}: ${decision}`);
    }

    expect(workflowInputs).toHaveLength(3);
    expect(new Set(requests.map(({ action }) => action))).toContain('emr-containers:StartJobRun');
    expect(refused).toEqual([]);
    const { withoutReason, stale } = unexplained(role.grants, requests, UNUSED.stateMachine);
    expect(withoutReason, 'the state machine: unused grants with no reason').toEqual([]);
    expect(stale, 'the state machine: reasons for grants that are used or no longer granted').toEqual([]);
  });
});
