import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import * as emrContainers from '@aws-sdk/client-emr-containers';
import * as emrServerless from '@aws-sdk/client-emr-serverless';
import * as s3 from '@aws-sdk/client-s3';
import * as secretsManager from '@aws-sdk/client-secrets-manager';
import * as sfn from '@aws-sdk/client-sfn';
import * as sqs from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { executionArn } from '#adapters/sfn-workflow-starter.ts';
import { documentClient } from '#adapters/table-stores.ts';
import type { JobRecord } from '#core/job-record.ts';
import {
  cancelEvent,
  eventsEvent,
  getEvent,
  iamCaller,
  listEvent,
  rerunEvent,
  sqlJob,
  submitEvent,
  usageEvent,
} from '../support/api.ts';
import { lambdaContext } from '../support/lambda-entries.ts';
import {
  createMotoTable,
  importEntry,
  MOTO_ACCOUNT,
  MOTO_REGION,
  motoName,
  motoSdkEnvironment,
  setEnvironment,
  startWireRecorder,
  type WireCall,
  type WireRecorder,
} from '../support/moto.ts';
import {
  createEksRun,
  createNotifierFunction,
  createServerlessApplication,
  createServerlessRun,
  createVirtualCluster,
  createWaitingStateMachine,
  EXECUTION_ROLE,
  motoClients,
  WEBHOOK_SECRET,
} from './moto-resources.ts';

/**
 * The deployed entries (lambdas/entry) as Lambda runs them, each imported afresh with the
 * environment the stack gives it and the AWS SDK's standard variables pointing every client it
 * makes at moto, through a loopback recorder that keeps each request and answer. A job goes the
 * way it goes in AWS: submit → SQS → admission (S3 code, StartExecution) → run recorder (EMR
 * events as AWS documents them) → cancel (DescribeExecution, StopExecution) → finalizer
 * (CancelJobRun, SQS wake, Lambda notify) → notifier (Secrets Manager). Only the job workflow's own
 * moves (MarkRunning) are written here with the store: moto runs no ASL in this file.
 */

type HttpEvent = ReturnType<typeof submitEvent>;
type Entry<E, R> = { handler: (event: E, context: Context) => Promise<R> };
type HttpReply = { statusCode: number; body: string };

const CALLER = iamCaller('moto-entries');
const clients = motoClients();

let recorder: WireRecorder;
let restoreEnvironment: () => void;
let stateMachineArn: string;
let queueUrl: string;
let queueArn: string;
let bucket: string;
let applicationId: string;
let virtualClusterId: string;
let notifierName: string;
let secretPrefix: string;
let jobs: DynamoJobStore;

beforeAll(async () => {
  recorder = await startWireRecorder();
  const tableName = await createMotoTable();
  stateMachineArn = await createWaitingStateMachine(clients.sfn);
  const queue = await clients.sqs.send(new sqs.CreateQueueCommand({ QueueName: motoName('intake') }));
  queueUrl = queue.QueueUrl ?? '';
  const { Attributes } = await clients.sqs.send(
    new sqs.GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  queueArn = Attributes?.QueueArn ?? '';
  bucket = motoName('artifacts');
  await clients.s3.send(new s3.CreateBucketCommand({ Bucket: bucket }));
  applicationId = await createServerlessApplication(clients.serverless);
  virtualClusterId = await createVirtualCluster(clients.containers);
  notifierName = await createNotifierFunction(clients.lambda);
  secretPrefix = `${motoName('libra')}/webhooks/`;
  await clients.secrets.send(
    new secretsManager.CreateSecretCommand({ Name: `${secretPrefix}default`, SecretString: WEBHOOK_SECRET }),
  );
  jobs = new DynamoJobStore({ client: documentClient(clients.dynamo), tableName, retentionDays: 30 });

  restoreEnvironment = setEnvironment({
    ...motoSdkEnvironment(recorder.endpoint),
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    TABLE_NAME: tableName,
    LIBRA_CONFIG: JSON.stringify({
      pools: {
        default: { backends: { emrServerless: { applicationId, executionRoleArn: EXECUTION_ROLE } } },
        kube: { backends: { eks: { virtualClusterId, executionRoleArn: EXECUTION_ROLE } } },
      },
    }),
    LIBRA_BACKENDS: JSON.stringify({
      default: { emrServerless: { applicationId, executionRoleArn: EXECUTION_ROLE } },
      kube: { eks: { virtualClusterId, executionRoleArn: EXECUTION_ROLE, releaseLabel: 'emr-7.5.0-latest' } },
    }),
    // moto names the queue URL after the host it was asked on; the SDK sends SQS calls to the
    // queue URL's host, so the entries get the recorder's.
    INTAKE_QUEUE_URL: queueUrl.replace(new URL(queueUrl).origin, recorder.endpoint),
    ARTIFACTS_BUCKET: bucket,
    STATE_MACHINE_ARN: stateMachineArn,
    NOTIFIER_FUNCTION_NAME: notifierName,
    WEBHOOK_SECRET_PREFIX: secretPrefix,
  });
});

afterAll(async () => {
  restoreEnvironment?.();
  clients.destroy();
  await recorder?.close();
});

async function call<E, R>(entry: string, event: E): Promise<R> {
  const { handler } = await importEntry<Entry<E, R>>(entry);
  return handler(event, lambdaContext(`libra-${entry}`));
}

async function submit(body: Record<string, unknown>): Promise<string> {
  const reply = await call<HttpEvent, HttpReply>('submit-job', submitEvent(CALLER, body));
  expect(reply.statusCode, reply.body).toBe(202);
  return JSON.parse(reply.body).jobId;
}

/** What the intake queue holds now, as the SQS event source mapping would hand it to admission. */
async function receiveIntake(): Promise<SQSEvent> {
  const { Messages = [] } = await clients.sqs.send(
    new sqs.ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return {
    Records: Messages.map((message) => ({
      messageId: message.MessageId ?? '',
      receiptHandle: message.ReceiptHandle ?? '',
      body: message.Body ?? '',
      attributes: message.Attributes as unknown as SQSEvent['Records'][number]['attributes'],
      messageAttributes: {},
      md5OfBody: message.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: MOTO_REGION,
    })),
  };
}

function callsTo(service: string, path?: string): WireCall[] {
  return recorder.calls.filter(
    (c) => c.service === service && (path === undefined || c.path.startsWith(path)),
  );
}

/** The workflow's MarkRunning, which this file does not run. */
async function markRunning(jobId: string): Promise<JobRecord> {
  return jobs.transition(jobId, ['SCHEDULED'], 'RUNNING', {
    at: new Date().toISOString(),
    set: { attempts: 1 },
  });
}

/** EventBridge's "EMR Serverless Job Run State Change", shaped as the EMR Serverless guide's example. */
function serverlessStateChange(
  run: { applicationId: string; jobRunId: string },
  state: string,
  time: string,
  updatedAt = time,
) {
  return {
    version: '0',
    id: '00df3ec6-5da1-36e6-ab71-20f0de68f8a0',
    'detail-type': 'EMR Serverless Job Run State Change',
    source: 'aws.emr-serverless',
    account: MOTO_ACCOUNT,
    time,
    region: MOTO_REGION,
    resources: [],
    detail: {
      jobRunId: run.jobRunId,
      applicationId: run.applicationId,
      arn: `arn:aws:emr-serverless:${MOTO_REGION}:${MOTO_ACCOUNT}:/applications/${run.applicationId}/jobruns/${run.jobRunId}`,
      releaseLabel: 'emr-7.5.0',
      state,
      previousState: 'SCHEDULED',
      createdBy: `arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/libra-workflow/states`,
      updatedAt,
      createdAt: time,
    },
  };
}

/**
 * EventBridge's "EMR Job Run State Change" from EMR on EKS (source aws.emr-containers). No full
 * example is printed in AWS's guides: the detail carries the job run's fields as DescribeJobRun
 * names them (id, name, arn, virtualClusterId, state, …); docs/emulators.md lists it to confirm.
 */
function eksStateChange(
  run: { virtualClusterId: string; id: string },
  name: string,
  state: string,
  time: string,
) {
  return {
    version: '0',
    id: '2f6d0c3e-7e4b-4c35-b1a4-2f0b5e8f6b1a',
    'detail-type': 'EMR Job Run State Change',
    source: 'aws.emr-containers',
    account: MOTO_ACCOUNT,
    time,
    region: MOTO_REGION,
    resources: [],
    detail: {
      severity: 'INFO',
      name,
      id: run.id,
      arn: `arn:aws:emr-containers:${MOTO_REGION}:${MOTO_ACCOUNT}:/virtualclusters/${run.virtualClusterId}/jobruns/${run.id}`,
      virtualClusterId: run.virtualClusterId,
      state,
      releaseLabel: 'emr-7.5.0-latest',
      executionRoleArn: EXECUTION_ROLE,
      stateDetails: state === 'FAILED' ? 'JobRun failed: driver exited with code 1' : `JobRun is ${state}`,
      createdBy: `arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/libra-workflow/states`,
      createdAt: time,
    },
  };
}

/** EventBridge's "Step Functions Execution Status Change" for one of the job workflow's executions. */
function executionStatusChange(jobId: string, status: string) {
  const arn = executionArn(stateMachineArn, jobId);
  return {
    version: '0',
    id: '315c1398-40ff-a850-213b-158f73e60175',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: MOTO_ACCOUNT,
    time: new Date().toISOString(),
    region: MOTO_REGION,
    resources: [arn],
    detail: {
      executionArn: arn,
      stateMachineArn,
      name: jobId,
      status,
      startDate: Date.now() - 60_000,
      stopDate: Date.now(),
      input: '{}',
      output: null,
      cause: null,
      error: null,
    },
  };
}

describe('the deployed entries on moto', () => {
  let jobId: string;
  let run: { applicationId: string; jobRunId: string };

  it('submit writes the job and wakes admission on SQS; admission, on that message, starts the workflow', async () => {
    jobId = await submit(sqlJob({ name: 'moto e2e', notifications: undefined }));
    expect(await jobs.getJob(jobId)).toMatchObject({ status: 'QUEUED', pool: 'default' });

    const intake = await receiveIntake();
    expect(intake.Records.map((r) => JSON.parse(r.body))).toEqual([
      { kind: 'submitted', pool: 'default', jobId },
    ]);
    const response = await call<SQSEvent, SQSBatchResponse>('admission', intake);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await jobs.getJob(jobId)).toMatchObject({ status: 'SCHEDULED' });
    const execution = await clients.sfn.send(
      new sfn.DescribeExecutionCommand({ executionArn: executionArn(stateMachineArn, jobId) }),
    );
    expect(execution.status).toBe('RUNNING');
    const input = JSON.parse(execution.input ?? '{}');
    expect(JSON.stringify(input)).toContain(jobId);
    expect(JSON.stringify(input)).toContain(applicationId);
    // The inline SQL went to the artifacts bucket, where the run reads it.
    const code = await clients.s3.send(
      new s3.GetObjectCommand({ Bucket: bucket, Key: `jobs/${jobId}/code.sql` }),
    );
    expect(await code.Body?.transformToString()).toBe('SELECT 1');
    expect(JSON.stringify(input)).toContain(`s3://${bucket}/jobs/${jobId}/code.sql`);
  });

  it('admission fails a batch item whose body is not an intake message, and keeps the others', async () => {
    const intake: SQSEvent = {
      Records: [
        {
          messageId: 'not-json',
          receiptHandle: 'r',
          body: '{"kind":"reboot"}',
          attributes: {} as SQSEvent['Records'][number]['attributes'],
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: queueArn,
          awsRegion: MOTO_REGION,
        },
      ],
    };

    expect(await call<SQSEvent, SQSBatchResponse>('admission', intake)).toEqual({
      batchItemFailures: [{ itemIdentifier: 'not-json' }],
    });
  });

  it("the run recorder keeps the EMR Serverless run (looked up by GetJobRun: AWS's example event has no name)", async () => {
    await markRunning(jobId);
    run = await createServerlessRun(clients.serverless, jobId, applicationId);
    const before = callsTo('emr-serverless').length;

    await call('run-recorder', serverlessStateChange(run, 'RUNNING', '2030-01-01T00:00:10Z'));
    // An older report arriving late changes nothing.
    await call('run-recorder', serverlessStateChange(run, 'SCHEDULED', '2030-01-01T00:00:05Z'));

    expect(await jobs.getJob(jobId)).toMatchObject({
      status: 'RUNNING',
      backendRunId: `${run.applicationId}/${run.jobRunId}`,
      backendState: 'RUNNING',
      links: {
        logs: `s3://${bucket}/logs/${jobId}/applications/${run.applicationId}/jobs/${run.jobRunId}/`,
        console: expect.stringContaining(
          `/serverless/applications/${run.applicationId}/job-runs/${run.jobRunId}`,
        ),
      },
    });
    const lookups = callsTo('emr-serverless').slice(before);
    expect(lookups.map((c) => [c.method, c.path, c.status])).toEqual([
      ['GET', `/applications/${run.applicationId}/jobruns/${run.jobRunId}`, 200],
      ['GET', `/applications/${run.applicationId}/jobruns/${run.jobRunId}`, 200],
    ]);
  });

  it("orders one second's EMR Serverless events by the run's updatedAt, not EventBridge's whole-second time", async () => {
    const quick = await submit(sqlJob({ name: 'quick run' }));
    const quickRun = await createServerlessRun(clients.serverless, quick, applicationId);

    // A run that starts and ends within one second; EventBridge delivers the end first.
    await call(
      'run-recorder',
      serverlessStateChange(quickRun, 'SUCCESS', '2030-01-01T00:00:42Z', '2030-01-01T00:00:42.900512Z'),
    );
    await call(
      'run-recorder',
      serverlessStateChange(quickRun, 'RUNNING', '2030-01-01T00:00:42Z', '2030-01-01T00:00:42.100317Z'),
    );

    expect(await jobs.getJob(quick)).toMatchObject({ backendState: 'SUCCESS' });
    // Its end's billed usage, read with GetJobRun (moto bills nothing), priced and kept once.
    expect((await jobs.getJob(quick))?.runCosts).toEqual({
      [`${quickRun.applicationId}/${quickRun.jobRunId}`]: expect.objectContaining({
        source: 'billed',
        estimate: false,
        vcpuHours: 0,
        usd: 0,
        orchestrationUsd: 0.0002502,
      }),
    });
    // This job is not admitted: take back its submit message and cancel it while it waits.
    await receiveIntake();
    await call<HttpEvent, HttpReply>('cancel-job', cancelEvent(CALLER, quick));
  });

  it('cancel describes the running execution and stops it', async () => {
    const reply = await call<HttpEvent, HttpReply>('cancel-job', cancelEvent(CALLER, jobId));

    expect(reply.statusCode, reply.body).toBe(202);
    expect(JSON.parse(reply.body)).toMatchObject({ jobId, status: 'CANCELLING' });
    const execution = await clients.sfn.send(
      new sfn.DescribeExecutionCommand({ executionArn: executionArn(stateMachineArn, jobId) }),
    );
    expect(execution.status).toBe('ABORTED');
    expect(callsTo('states').map((c) => c.headers['x-amz-target'])).toEqual(
      expect.arrayContaining(['AWSStepFunctions.DescribeExecution', 'AWSStepFunctions.StopExecution']),
    );
  });

  it('the finalizer, on the ABORTED execution, cancels the EMR run, ends the job, wakes the pool and invokes the notifier', async () => {
    const result = await call('finalizer', executionStatusChange(jobId, 'ABORTED'));

    expect(result).toEqual({ jobId, status: 'CANCELLED' });
    expect(await jobs.getJob(jobId)).toMatchObject({
      status: 'CANCELLED',
      reason: { code: 'CANCELLED_BY_USER' },
    });
    const { jobRun } = await clients.serverless.send(new emrServerless.GetJobRunCommand(run));
    expect(jobRun?.state).toBe('CANCELLED');
    const intake = await receiveIntake();
    expect(intake.Records.map((r) => JSON.parse(r.body))).toEqual([{ kind: 'wake', pool: 'default', jobId }]);
    // moto accepts the Event invoke (202) and runs the function at once in docker; where it has no
    // docker it puts the docker error in the body with X-Amz-Function-Error, which AWS never sends
    // for an Event invoke. The adapter reads neither, so both are the same to it.
    const invokes = callsTo('lambda', `/2015-03-31/functions/${notifierName}/invocations`).filter(
      (c) => JSON.parse(c.body).jobId === jobId,
    );
    expect(invokes).toHaveLength(1);
    expect(invokes[0]?.status).toBe(202);
    expect(invokes[0]?.headers['x-amz-invocation-type']).toBe('Event');
    expect(JSON.parse(invokes[0]?.body ?? '')).toEqual({ jobId, status: 'CANCELLED' });
  });

  it('the run recorder keeps an EMR on EKS run from its state-change events; cancel and finalizer stop that run', async () => {
    const eksJob = await submit(sqlJob({ pool: 'kube' }));
    await receiveIntake().then((intake) => call('admission', intake));
    await markRunning(eksJob);
    const eksRun = await createEksRun(clients.containers, eksJob, virtualClusterId);
    const stranger = await createEksRun(clients.containers, 'nightly-etl', virtualClusterId);

    await call('run-recorder', eksStateChange(eksRun, eksJob, 'RUNNING', '2030-01-01T00:01:00Z'));
    await call('run-recorder', eksStateChange(eksRun, eksJob, 'SUBMITTED', '2030-01-01T00:00:30Z'));
    const tableCalls = callsTo('dynamodb').length;
    // A run Libra did not name is not Libra's: nothing is read or written for it.
    await call('run-recorder', eksStateChange(stranger, 'nightly-etl', 'FAILED', '2030-01-01T00:02:00Z'));
    expect(callsTo('dynamodb')).toHaveLength(tableCalls);

    expect(await jobs.getJob(eksJob)).toMatchObject({
      status: 'RUNNING',
      backend: 'eks',
      backendRunId: `${virtualClusterId}/${eksRun.id}`,
      backendState: 'RUNNING',
      backendDetails: 'JobRun is RUNNING',
      links: { logs: `s3://${bucket}/logs/${eksJob}/${virtualClusterId}/jobs/${eksRun.id}/` },
    });
    const execution = await clients.sfn.send(
      new sfn.DescribeExecutionCommand({ executionArn: executionArn(stateMachineArn, eksJob) }),
    );
    expect(JSON.stringify(JSON.parse(execution.input ?? '{}'))).toContain(virtualClusterId);

    await call<HttpEvent, HttpReply>('cancel-job', cancelEvent(CALLER, eksJob));
    expect(await call('finalizer', executionStatusChange(eksJob, 'ABORTED'))).toEqual({
      jobId: eksJob,
      status: 'CANCELLED',
    });
    const { jobRun } = await clients.containers.send(
      new emrContainers.DescribeJobRunCommand({ virtualClusterId, id: eksRun.id }),
    );
    expect(jobRun?.state).toBe('CANCELLED');
    await receiveIntake(); // the wake of pool kube
  });

  it('the notifier reads the pool secret from Secrets Manager before it sends (and the guard refuses loopback)', async () => {
    const notified = await submit(
      sqlJob({ notifications: { webhook: 'https://hooks.example.com/libra', events: ['CANCELLED'] } }),
    );
    await call<HttpEvent, HttpReply>('cancel-job', cancelEvent(CALLER, notified));
    // Point the subscription at loopback, which the deployed sender refuses after the secret is read.
    await clients.dynamo.send(
      new UpdateItemCommand({
        TableName: process.env.TABLE_NAME,
        Key: { pk: { S: `JOB#${notified}` }, sk: { S: 'META' } },
        UpdateExpression: 'SET spec.notifications.webhook = :url',
        ExpressionAttributeValues: { ':url': { S: 'https://127.0.0.1:9/hook' } },
      }),
    );
    const before = callsTo('secretsmanager').length;

    await expect(call('notifier', { jobId: notified, status: 'CANCELLED' })).rejects.toMatchObject({
      name: 'WebhookBlocked',
      message: expect.stringContaining('the destination is not a public address'),
    });

    const secretReads = callsTo('secretsmanager').slice(before);
    expect(
      secretReads.map((c) => [c.headers['x-amz-target'], JSON.parse(c.body).SecretId, c.status]),
    ).toEqual([['secretsmanager.GetSecretValue', `${secretPrefix}default`, 200]]);
    const deliveries = (await jobs.listEvents(notified)).filter((e) => e.type === 'WEBHOOK');
    expect(deliveries.map((e) => e.detail?.outcome)).toEqual(['blocked']);
  });

  it("the notifier records a failed delivery, and sends nothing, when the pool's secret is missing", async () => {
    const notified = await submit(
      sqlJob({ notifications: { webhook: 'https://hooks.example.com/libra', events: ['CANCELLED'] } }),
    );
    await receiveIntake();
    await call<HttpEvent, HttpReply>('cancel-job', cancelEvent(CALLER, notified));
    const missingPrefix = `${motoName('nowhere')}/webhooks/`;
    const restore = setEnvironment({ WEBHOOK_SECRET_PREFIX: missingPrefix });
    const before = callsTo('secretsmanager').length;
    try {
      await expect(call('notifier', { jobId: notified, status: 'CANCELLED' })).rejects.toMatchObject({
        name: 'WebhookDeliveryFailed',
      });
    } finally {
      restore();
    }

    const reads = callsTo('secretsmanager').slice(before);
    // moto answers 404; AWS's JSON protocol answers 400 (the model gives the error no status).
    // The SDK goes by the error's type, the same on both.
    expect(reads.map((c) => [JSON.parse(c.body).SecretId, JSON.parse(c.responseBody).__type])).toEqual([
      [`${missingPrefix}default`, 'ResourceNotFoundException'],
    ]);
    const deliveries = (await jobs.listEvents(notified)).filter((e) => e.type === 'WEBHOOK');
    expect(deliveries.map((e) => [e.detail?.outcome, e.detail?.error])).toEqual([
      ['failed', 'the signing secret could not be read'],
    ]);
  });

  it('the read-only routes read the job, its history, the listing and the pools from the table', async () => {
    const got = await call<HttpEvent, HttpReply>('get-job', getEvent(CALLER, jobId));
    expect(got.statusCode).toBe(200);
    expect(JSON.parse(got.body)).toMatchObject({ jobId, status: 'CANCELLED', backend: 'emr-serverless' });

    const history = await call<HttpEvent, HttpReply>('list-job-events', eventsEvent(CALLER, jobId));
    expect(history.statusCode).toBe(200);
    expect(JSON.stringify(JSON.parse(history.body))).toMatch(/SCHEDULED.*RUNNING.*CANCELLING.*CANCELLED/s);

    const listed = await call<HttpEvent, HttpReply>('list-jobs', listEvent(CALLER, { limit: '50' }));
    expect(listed.statusCode).toBe(200);
    expect(JSON.stringify(JSON.parse(listed.body))).toContain(jobId);

    const poolsEvent = listEvent(CALLER);
    poolsEvent.rawPath = '/api/v1/spark/pools';
    poolsEvent.routeKey = 'GET /api/v1/spark/pools';
    poolsEvent.requestContext.http.path = poolsEvent.rawPath;
    const pools = await call<HttpEvent, HttpReply>('list-pools', poolsEvent);
    expect(pools.statusCode, pools.body).toBe(200);
    expect(JSON.stringify(JSON.parse(pools.body))).toMatch(/default.*kube|kube.*default/s);

    const usage = await call<HttpEvent, HttpReply>('get-usage', usageEvent(CALLER, { groupBy: 'pool' }));
    expect(usage.statusCode, usage.body).toBe(200);
    expect(JSON.parse(usage.body)).toMatchObject({ groupBy: 'pool', scope: 'own' });
  });

  it('the tick admits a job whose intake message was lost, then finalizes it when its execution ends unseen', async () => {
    const lost = await submit(sqlJob({ name: 'lost message' }));
    const { Messages = [] } = await clients.sqs.send(
      new sqs.ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of Messages) {
      await clients.sqs.send(
        new sqs.DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
    const schedule = {
      version: '0',
      id: '89d1a02d-5ec7-412e-82f5-13505f849b41',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: MOTO_ACCOUNT,
      time: new Date().toISOString(),
      region: MOTO_REGION,
      resources: [`arn:aws:events:${MOTO_REGION}:${MOTO_ACCOUNT}:rule/libra-tick`],
      detail: {},
    };

    expect(await call('tick', schedule)).toEqual({ reconciled: 2, admitted: 1, warned: 0 });
    expect(await jobs.getJob(lost)).toMatchObject({ status: 'SCHEDULED' });
    const arn = executionArn(stateMachineArn, lost);
    expect((await clients.sfn.send(new sfn.DescribeExecutionCommand({ executionArn: arn }))).status).toBe(
      'RUNNING',
    );

    // The execution stops and no event reaches the finalizer: the next tick finds it ended.
    await clients.sfn.send(new sfn.StopExecutionCommand({ executionArn: arn, cause: 'stopped unseen' }));
    const invokesBefore = callsTo('lambda', `/2015-03-31/functions/${notifierName}/invocations`).length;
    expect(await call('tick', schedule)).toEqual({ reconciled: 2, admitted: 0, warned: 0 });

    expect(await jobs.getJob(lost)).toMatchObject({ status: 'CANCELLED' });
    const invokes = callsTo('lambda', `/2015-03-31/functions/${notifierName}/invocations`).slice(
      invokesBefore,
    );
    expect(invokes.map((c) => JSON.parse(c.body))).toEqual([{ jobId: lost, status: 'CANCELLED' }]);
  });

  it('re-run writes a new job linked both ways to the finished one, and wakes admission on SQS', async () => {
    const reply = await call<HttpEvent, HttpReply>('rerun-job', rerunEvent(CALLER, jobId, { priority: 8 }));
    expect(reply.statusCode, reply.body).toBe(202);
    const rerunId = JSON.parse(reply.body).jobId as string;
    expect(await jobs.getJob(rerunId)).toMatchObject({ status: 'QUEUED', priority: 8, rerunOf: jobId });
    expect(await jobs.getJob(jobId)).toMatchObject({ reruns: [rerunId], rerunCount: 1 });
    const intake = await receiveIntake();
    expect(intake.Records.map((r) => JSON.parse(r.body))).toContainEqual({
      kind: 'submitted',
      pool: 'default',
      jobId: rerunId,
    });
    for (const record of intake.Records) {
      await clients.sqs.send(
        new sqs.DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle }),
      );
    }
  });
});

/** The errors that are a program's own fault, never an answer to bad input. */
const CRASHES = [TypeError, RangeError, ReferenceError, SyntaxError];

function expectNoCrash(error: unknown, what: string): void {
  expect(
    CRASHES.some((crash) => error instanceof crash),
    `${what} ${String(error)}`,
  ).toBe(false);
}

/** What a call gave: its answer, or what it threw. */
async function outcomeOf(call: () => Promise<unknown>): Promise<{ answer: unknown } | { error: unknown }> {
  try {
    return { answer: await call() };
  } catch (error) {
    return { error };
  }
}

/** Each entry's refusal of input that is not what it takes: the error's name, as its caller sees it. */
const REFUSALS: Record<string, string> = {
  'submit-job': 'HttpEventInvalid',
  'list-jobs': 'HttpEventInvalid',
  'get-job': 'HttpEventInvalid',
  'list-job-events': 'HttpEventInvalid',
  'cancel-job': 'HttpEventInvalid',
  'rerun-job': 'HttpEventInvalid',
  'list-pools': 'HttpEventInvalid',
  'get-openapi': 'HttpEventInvalid',
  'get-usage': 'HttpEventInvalid',
  admission: 'IntakeMessageInvalid',
  finalizer: 'FinalizerInputInvalid',
  notifier: 'NotifierInputInvalid',
  'run-recorder': 'RunEventInvalid',
  'workflow-ended': 'WorkflowEventInvalid',
};

/** Strings of hex digits, as EMR's ids are. */
const hex = (constraints: { minLength?: number; maxLength: number }) =>
  fc.string({ ...constraints, unit: fc.constantFrom(...'0123456789abcdef') });

const anyJson = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(null, undefined, '', [], {}, 0, true),
  fc.array(fc.jsonValue(), { maxLength: 3 }),
);
const jobIdLike = fc.oneof(
  fc.uuid({ version: 4 }).map((uuid) => `job-${uuid}`),
  fc.string({ maxLength: 12 }),
  fc.jsonValue(),
);

/** EventBridge events of every source and detail type Libra knows and some it does not, with details right and wrong. */
const eventBridgeLike = fc.record(
  {
    version: fc.constant('0'),
    id: fc.uuid(),
    source: fc.constantFrom('aws.states', 'aws.emr-serverless', 'aws.emr-containers', 'aws.events', ''),
    'detail-type': fc.constantFrom(
      'Step Functions Execution Status Change',
      'EMR Serverless Job Run State Change',
      'EMR Job Run State Change',
      'Scheduled Event',
    ),
    time: fc.oneof(fc.constant('2030-01-01T00:00:00Z'), fc.string({ maxLength: 8 }), fc.jsonValue()),
    detail: fc.oneof(
      anyJson,
      fc.record(
        {
          name: jobIdLike,
          status: fc.constantFrom('ABORTED', 'FAILED', 'TIMED_OUT', 'SUCCEEDED', 'RUNNING', 7),
          cause: fc.option(fc.string({ maxLength: 8 })),
          error: fc.option(fc.string({ maxLength: 8 })),
          output: fc.option(fc.oneof(fc.string({ maxLength: 8 }), fc.json())),
          jobRunId: fc.oneof(fc.constant(''), hex({ minLength: 1, maxLength: 16 })),
          applicationId: fc.oneof(fc.constant(''), hex({ minLength: 1, maxLength: 16 })),
          jobRunName: jobIdLike,
          id: hex({ maxLength: 16 }),
          virtualClusterId: hex({ maxLength: 16 }),
          state: fc.constantFrom('RUNNING', 'SUCCESS', 'FAILED', 3),
          updatedAt: fc.oneof(fc.string({ maxLength: 8 }), fc.constant('2030-01-01T00:00:00.5Z')),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);

/** SQS events, their records right and wrong, their bodies intake messages and not. */
const sqsLike = fc.record(
  {
    Records: fc.oneof(
      anyJson,
      fc.array(
        fc.record(
          {
            messageId: fc.uuid(),
            receiptHandle: fc.string({ maxLength: 8 }),
            body: fc.oneof(
              fc.string({ maxLength: 20 }),
              fc.json(),
              fc
                .record(
                  {
                    kind: fc.constantFrom('submitted', 'wake', 'reboot'),
                    pool: fc.constantFrom('default', 'kube', '', 'nowhere'),
                    jobId: jobIdLike,
                  },
                  { requiredKeys: [] },
                )
                .map((message) => JSON.stringify(message)),
            ),
            eventSource: fc.constantFrom('aws:sqs', 'aws:sns'),
            eventSourceARN: fc.constant('arn:aws:sqs:us-east-1:123456789012:intake'),
            awsRegion: fc.constant(MOTO_REGION),
          },
          { requiredKeys: ['messageId'] },
        ),
        { maxLength: 4 },
      ),
    ),
  },
  { requiredKeys: [] },
);

/** HTTP API events, whole and in pieces, for any route, any caller or none, any body. */
const httpLike = fc
  .record(
    {
      base: fc.constantFrom(
        submitEvent(CALLER, sqlJob({ name: 'fuzz' })),
        getEvent(CALLER, 'job-00000000-0000-4000-8000-000000000000'),
        listEvent(CALLER, { limit: '5' }),
        cancelEvent(CALLER, 'job-00000000-0000-4000-8000-000000000000'),
        rerunEvent(CALLER, 'job-00000000-0000-4000-8000-000000000000', { priority: 2 }),
      ),
      drop: fc.subarray(['headers', 'requestContext', 'version', 'rawPath', 'isBase64Encoded', 'routeKey']),
      body: fc.option(fc.oneof(fc.string({ maxLength: 30 }), fc.json())),
      pathParameters: fc.option(fc.dictionary(fc.constantFrom('jobId', 'x'), fc.string({ maxLength: 12 }))),
      authorizer: fc.option(
        fc.oneof(fc.jsonValue(), fc.record({ iam: fc.record({ userArn: fc.jsonValue() }) })),
      ),
    },
    { requiredKeys: ['base', 'drop'] },
  )
  .map(({ base, drop, body, pathParameters, authorizer }) => {
    const event = structuredClone(base) as unknown as Record<string, unknown>;
    for (const key of drop) delete event[key];
    if (body !== undefined && body !== null) event.body = body;
    if (pathParameters !== undefined) event.pathParameters = pathParameters;
    if (authorizer !== undefined && typeof event.requestContext === 'object' && event.requestContext !== null)
      (event.requestContext as Record<string, unknown>).authorizer = authorizer;
    return event;
  });

const notifyLike = fc.record(
  {
    jobId: jobIdLike,
    status: fc.constantFrom('CANCELLED', 'SUCCEEDED', 'QUEUED', 'NOPE', 1),
    action: fc.constantFrom('stop-run', 'start-run'),
  },
  { requiredKeys: [] },
);

const anyEvent = fc.oneof(anyJson, eventBridgeLike, sqsLike, httpLike, notifyLike, fc.anything());

describe('every deployed entry, thrown arbitrary events', () => {
  const entries = [...Object.keys(REFUSALS), 'tick'];

  it.each(entries)(
    '%s answers or refuses with its parse error, logged once, and never crashes',
    async (entry) => {
      const { handler } = await importEntry<Entry<unknown, unknown>>(entry);
      const { logger } = await import('#adapters/powertools.ts');
      const logged = vi.spyOn(logger, 'error');
      const context = lambdaContext(`libra-${entry}`);
      // The tick reads no event, and each of its passes reads every pool: a few are enough.
      const numRuns = entry === 'tick' ? 4 : 60;

      await fc.assert(
        fc.asyncProperty(anyEvent, async (event) => {
          logged.mockClear();
          const outcome = await outcomeOf(() => handler(event, context));
          for (const [, extra] of logged.mock.calls) {
            expectNoCrash((extra as { error?: unknown } | undefined)?.error, 'logged');
          }
          if ('error' in outcome) {
            expectNoCrash(outcome.error, 'threw');
            if ((outcome.error as Error).name === REFUSALS[entry]) {
              expect(logged).toHaveBeenCalledTimes(1);
              expect(logged.mock.calls[0]?.[0]).toMatch(/^input is not /);
            }
            return;
          }
          if (entry === 'admission') {
            // A batch the envelope admits: each record answered, the bad ones as item failures.
            const records = (event as SQSEvent).Records;
            const failures = (outcome.answer as SQSBatchResponse).batchItemFailures.map(
              (f) => f.itemIdentifier,
            );
            expect(records.map((r) => r.messageId)).toEqual(expect.arrayContaining(failures));
            for (const record of records) {
              let message: unknown;
              try {
                message = JSON.parse(record.body);
              } catch {
                message = undefined;
              }
              const valid =
                typeof message === 'object' &&
                message !== null &&
                ['submitted', 'wake'].includes((message as { kind?: unknown }).kind as string);
              if (!valid) expect(failures).toContain(record.messageId);
            }
          }
        }),
        { numRuns },
      );
      logged.mockRestore();
    },
    120_000,
  );

  it.each(Object.keys(REFUSALS))(
    '%s refuses the plainly wrong: null, [], {}, "", and another envelope',
    async (entry) => {
      const { handler } = await importEntry<Entry<unknown, unknown>>(entry);
      const other = entry === 'admission' ? executionStatusChange('job-x', 'ABORTED') : { Records: [] };
      for (const event of [null, [], {}, '', other]) {
        await expect(
          handler(event, lambdaContext(`libra-${entry}`)),
          JSON.stringify(event),
        ).rejects.toMatchObject({
          name: REFUSALS[entry],
        });
      }
    },
  );
});

describe('the secret writer (the custom resource provider calls it), thrown arbitrary events', () => {
  it('answers, or fails with a reason the provider sends CloudFormation, and never crashes', async () => {
    const { handler } = await import('../../lib/webhook-secret-handler.ts');
    const request = fc.record(
      {
        RequestType: fc.constantFrom('Create', 'Update', 'Delete', 'Replace'),
        PhysicalResourceId: fc.string({ maxLength: 8 }),
        ResourceProperties: fc.oneof(
          anyJson,
          fc.record({ SecretId: fc.oneof(fc.jsonValue(), fc.constant('')) }),
        ),
        OldResourceProperties: fc.oneof(anyJson, fc.record({ SecretId: fc.jsonValue() })),
      },
      { requiredKeys: ['RequestType', 'ResourceProperties'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyJson, request), async (event) => {
        const outcome = await outcomeOf(() => handler(event as never));
        if ('error' in outcome) expectNoCrash(outcome.error, 'threw');
        else {
          expect(outcome.answer).toEqual({ PhysicalResourceId: expect.any(String) });
        }
      }),
      { numRuns: 200 },
    );
  });
});
