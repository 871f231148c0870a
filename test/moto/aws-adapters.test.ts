import * as emrContainers from '@aws-sdk/client-emr-containers';
import * as emrServerless from '@aws-sdk/client-emr-serverless';
import * as lambda from '@aws-sdk/client-lambda';
import * as s3 from '@aws-sdk/client-s3';
import * as secretsManager from '@aws-sdk/client-secrets-manager';
import * as sfn from '@aws-sdk/client-sfn';
import * as sqs from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmrRunControl, lambdaInvoker, S3ArtifactStore } from '#adapters/aws-backends.ts';
import { atInit } from '#adapters/sdk.ts';
import { SecretsManagerWebhookSecrets } from '#adapters/secrets-manager-webhook-secrets.ts';
import { StepFunctionsControl, StepFunctionsExecutions } from '#adapters/sfn-workflow-starter.ts';
import { SqsIntakeQueue } from '#adapters/sqs-intake-queue.ts';
import { StartRefused } from '#core/errors.ts';
import { type JobRecord, newJobId } from '#core/job-record.ts';
import { motoClientConfig, motoName, startWireRecorder, type WireRecorder } from '../support/moto.ts';
import {
  createEksRun,
  createNotifierFunction,
  createServerlessRun,
  createWaitingStateMachine,
  motoClients,
  WEBHOOK_SECRET,
} from './moto-resources.ts';

/**
 * Each AWS adapter in lambdas/adapters with a real SDK client on the suite's moto_server: the
 * wire protocol, the error classes the adapters catch, and the resources they address. What moto
 * does differently from AWS is written down in docs/emulators.md.
 */

const clients = motoClients();

afterAll(() => clients.destroy());

/** A job record with only what the run control reads. */
function jobOnRun(backend: JobRecord['backend'], backendRunId: string, backendState: string): JobRecord {
  return { jobId: newJobId(), backend, backendRunId, backendState } as unknown as JobRecord;
}

describe('StepFunctionsExecutions and StepFunctionsControl on moto', () => {
  let stateMachineArn: string;
  let executions: StepFunctionsExecutions;
  let control: StepFunctionsControl;

  beforeAll(async () => {
    stateMachineArn = await createWaitingStateMachine(clients.sfn);
    const client = atInit(sfn, () => clients.sfn);
    executions = new StepFunctionsExecutions(client, stateMachineArn);
    control = new StepFunctionsControl(client, stateMachineArn);
  });

  it('starts an execution named after the job, which then runs', async () => {
    const jobId = newJobId();

    expect(await executions.startExecution(jobId, { jobId, attempt: 1 })).toBe('started');

    expect(await control.state(jobId)).toBe('RUNNING');
    const { input, name } = await clients.sfn.send(
      new sfn.DescribeExecutionCommand({
        executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`,
      }),
    );
    expect(name).toBe(jobId);
    expect(JSON.parse(input ?? '')).toEqual({ jobId, attempt: 1 });
  });

  it("answers 'already-started' for a reused name with other input, and after the execution ended", async () => {
    const jobId = newJobId();
    await executions.startExecution(jobId, { attempt: 1 });

    // A second admission's start of the same job with an input built later.
    expect(await executions.startExecution(jobId, { attempt: 2 })).toBe('already-started');
    expect(await control.stop(jobId, 'cancelled by a test')).toBe(true);
    // Ended: Step Functions refuses the name even with the very same input.
    expect(await executions.startExecution(jobId, { attempt: 1 })).toBe('already-started');
  });

  it("takes an identical start of a running execution as AWS documents: idempotent, 'started'", async () => {
    const jobId = newJobId();
    await executions.startExecution(jobId, { attempt: 1 });

    // StartExecution with the same name and input while it runs returns the running execution
    // (HTTP 200), so the adapter cannot tell this replay from a first start; nothing starts twice.
    expect(await executions.startExecution(jobId, { attempt: 1 })).toBe('started');
    const { executions: listed } = await clients.sfn.send(new sfn.ListExecutionsCommand({ stateMachineArn }));
    expect(listed?.filter((execution) => execution.name === jobId)).toHaveLength(1);
  });

  it('describes a missing execution as undefined, and stops only a running one', async () => {
    const jobId = newJobId();

    expect(await control.state(jobId)).toBeUndefined();
    expect(await control.stop(jobId, 'nothing to stop')).toBe(false);

    await executions.startExecution(jobId, {});
    expect(await control.stop(jobId, 'x'.repeat(40_000))).toBe(true);
    expect(await control.state(jobId)).toBe('ABORTED');
    expect(await control.stop(jobId, 'again')).toBe(false);
  });
});

describe('EmrRunControl on moto', () => {
  const runs = new EmrRunControl({
    serverless: atInit(emrServerless, () => clients.serverless),
    containers: atInit(emrContainers, () => clients.containers),
  });

  it('cancels an EMR Serverless run and finds the job a run is named after', async () => {
    const jobId = newJobId();
    const { applicationId, jobRunId } = await createServerlessRun(clients.serverless, jobId);

    expect(await runs.jobIdOf(applicationId, jobRunId)).toBe(jobId);
    await runs.cancelRun(jobOnRun('emr-serverless', `${applicationId}/${jobRunId}`, 'RUNNING'));

    const { jobRun } = await clients.serverless.send(
      new emrServerless.GetJobRunCommand({ applicationId, jobRunId }),
    );
    expect(jobRun?.state).toBe('CANCELLED');
  });

  it("reads an EMR Serverless run's billed usage from GetJobRun, and none for a run EMR does not know", async () => {
    const { applicationId, jobRunId } = await createServerlessRun(clients.serverless, newJobId());
    const { jobRun } = await clients.serverless.send(
      new emrServerless.GetJobRunCommand({ applicationId, jobRunId }),
    );
    // moto answers every run with zero billed figures (docs/emulators.md): the shape is what is checked.
    expect(jobRun?.billedResourceUtilization).toEqual({ vCPUHour: 0, memoryGBHour: 0, storageGBHour: 0 });

    expect(await runs.runUsage(applicationId, jobRunId)).toEqual({
      source: 'billed',
      vcpuHours: 0,
      memoryGbHours: 0,
      storageGbHours: 0,
      durationSeconds: jobRun?.totalExecutionDurationSeconds ?? 0,
    });
    await expect(runs.runUsage(applicationId, '00000000000000ff')).rejects.toThrow(
      emrServerless.ResourceNotFoundException,
    );
  });

  it('cancels an EMR on EKS run', async () => {
    const { virtualClusterId, id } = await createEksRun(clients.containers, newJobId());

    await runs.cancelRun(jobOnRun('eks', `${virtualClusterId}/${id}`, 'RUNNING'));

    const { jobRun } = await clients.containers.send(
      new emrContainers.DescribeJobRunCommand({ virtualClusterId, id }),
    );
    expect(jobRun?.state).toBe('CANCELLED');
  });

  it('leaves a run that already ended alone, and sends no call without a run id', async () => {
    const { virtualClusterId, id } = await createEksRun(clients.containers, newJobId());

    await runs.cancelRun(jobOnRun('eks', `${virtualClusterId}/${id}`, 'COMPLETED'));
    await runs.cancelRun(jobOnRun('eks', '', 'RUNNING'));

    const { jobRun } = await clients.containers.send(
      new emrContainers.DescribeJobRunCommand({ virtualClusterId, id }),
    );
    expect(jobRun?.state).toBe('RUNNING');
  });

  it("surfaces EMR's refusal of a run it does not know", async () => {
    const { applicationId } = await createServerlessRun(clients.serverless, newJobId());

    await expect(
      runs.cancelRun(jobOnRun('emr-serverless', `${applicationId}/nosuchrun`, 'RUNNING')),
    ).rejects.toThrow(emrServerless.ResourceNotFoundException);
  });
});

describe('S3ArtifactStore on moto', () => {
  it('writes inline code where the run reads it, as UTF-8 text', async () => {
    const bucket = motoName('artifacts');
    await clients.s3.send(new s3.CreateBucketCommand({ Bucket: bucket }));
    const store = new S3ArtifactStore(
      atInit(s3, () => clients.s3),
      bucket,
    );
    const jobId = newJobId();
    const code = "SELECT 'grüße' AS greeting -- ünïcödé";

    await store.putCode(jobId, 'sql', code);
    await store.putCode(jobId, 'python', 'print(1)');

    const sql = await clients.s3.send(
      new s3.GetObjectCommand({ Bucket: bucket, Key: `jobs/${jobId}/code.sql` }),
    );
    expect(await sql.Body?.transformToString('utf-8')).toBe(code);
    expect(sql.ContentType).toBe('text/plain; charset=utf-8');
    const python = await clients.s3.send(
      new s3.GetObjectCommand({ Bucket: bucket, Key: `jobs/${jobId}/code.py` }),
    );
    expect(await python.Body?.transformToString()).toBe('print(1)');
  });

  it("refuses the start for good when the bucket does not exist, keeping S3's own error as the cause", async () => {
    const store = new S3ArtifactStore(
      atInit(s3, () => clients.s3),
      motoName('missing'),
    );

    const failure = await store.putCode(newJobId(), 'sql', 'SELECT 1').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StartRefused);
    expect(failure).toMatchObject({ code: 'NoSuchBucket' });
    expect((failure as StartRefused).cause).toBeInstanceOf(s3.NoSuchBucket);
  });
});

describe('SqsIntakeQueue on moto', () => {
  it('sends the intake message as its JSON body', async () => {
    const { QueueUrl } = await clients.sqs.send(
      new sqs.CreateQueueCommand({ QueueName: motoName('intake') }),
    );
    const queue = new SqsIntakeQueue(
      atInit(sqs, () => clients.sqs),
      QueueUrl ?? '',
    );
    const jobId = newJobId();

    await queue.send({ kind: 'submitted', pool: 'default', jobId });
    await queue.send({ kind: 'wake', pool: 'default' });

    const { Messages } = await clients.sqs.send(
      new sqs.ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages?.map((message) => JSON.parse(message.Body ?? ''))).toEqual([
      { kind: 'submitted', pool: 'default', jobId },
      { kind: 'wake', pool: 'default' },
    ]);
  });
});

describe('lambdaInvoker on moto', () => {
  let recorder: WireRecorder;
  let client: lambda.LambdaClient;
  let functionName: string;

  beforeAll(async () => {
    recorder = await startWireRecorder();
    client = new lambda.LambdaClient({ ...motoClientConfig(), endpoint: recorder.endpoint });
    functionName = await createNotifierFunction(client);
  });

  afterAll(async () => {
    client.destroy();
    await recorder.close();
  });

  it('invokes the function asynchronously with the payload as JSON', async () => {
    const invoke = lambdaInvoker(atInit(lambda, () => client));
    const jobId = newJobId();

    await invoke(functionName, { jobId, status: 'SUCCEEDED' });

    const call = recorder.calls.find((c) =>
      c.path.startsWith(`/2015-03-31/functions/${functionName}/invocations`),
    );
    expect(call).toMatchObject({ method: 'POST', service: 'lambda', status: 202 });
    expect(call?.headers['x-amz-invocation-type']).toBe('Event');
    expect(JSON.parse(call?.body ?? '')).toEqual({ jobId, status: 'SUCCEEDED' });
  });

  it('fails for a function that does not exist', async () => {
    const invoke = lambdaInvoker(atInit(lambda, () => client));

    await expect(invoke(motoName('absent'), { jobId: newJobId(), status: 'FAILED' })).rejects.toThrow(
      lambda.ResourceNotFoundException,
    );
  });
});

describe('SecretsManagerWebhookSecrets on moto', () => {
  it("reads each pool's signing secret by name, and refuses one that is not a webhook secret", async () => {
    const prefix = `${motoName('libra')}/webhooks/`;
    await clients.secrets.send(
      new secretsManager.CreateSecretCommand({
        Name: `${prefix}default`,
        SecretString: `${WEBHOOK_SECRET}\n`,
      }),
    );
    await clients.secrets.send(
      new secretsManager.CreateSecretCommand({ Name: `${prefix}bad`, SecretString: 'not-a-secret' }),
    );
    const secrets = new SecretsManagerWebhookSecrets({
      client: clients.secrets,
      secretIdFor: (pool) => `${prefix}${pool}`,
    });

    expect(await secrets.secretFor('default')).toBe(WEBHOOK_SECRET);
    await expect(secrets.secretFor('bad')).rejects.toThrow(/is not a Standard Webhooks secret/);
    await expect(secrets.secretFor('absent')).rejects.toThrow(secretsManager.ResourceNotFoundException);
  });
});
