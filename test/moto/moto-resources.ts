import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as emrContainers from '@aws-sdk/client-emr-containers';
import * as emrServerless from '@aws-sdk/client-emr-serverless';
import * as lambda from '@aws-sdk/client-lambda';
import * as s3 from '@aws-sdk/client-s3';
import * as secretsManager from '@aws-sdk/client-secrets-manager';
import * as sfn from '@aws-sdk/client-sfn';
import * as sqs from '@aws-sdk/client-sqs';
import { createLambdaRole, MOTO_ACCOUNT, motoClientConfig, motoName } from '../support/moto.ts';

/** The resources the adapters address, made on moto for one test. */

export const EXECUTION_ROLE = `arn:aws:iam::${MOTO_ACCOUNT}:role/libra-spark`;
/** One SDK client on moto per service the adapters use; `destroy` closes them all. */
export function motoClients(options: { readonly endpoint?: string } = {}) {
  const config = { ...motoClientConfig(), ...options };
  const clients = {
    sfn: new sfn.SFNClient(config),
    serverless: new emrServerless.EMRServerlessClient(config),
    containers: new emrContainers.EMRContainersClient(config),
    s3: new s3.S3Client(config),
    sqs: new sqs.SQSClient(config),
    secrets: new secretsManager.SecretsManagerClient(config),
    lambda: new lambda.LambdaClient(config),
    dynamo: new DynamoDBClient(config),
  };
  return {
    ...clients,
    destroy: () => {
      for (const client of Object.values(clients)) client.destroy();
    },
  };
}

/**
 * A function standing for the notifier, with the role moto requires it to have; its code is the
 * smallest zip file (an empty archive): moto keeps it and never runs it here.
 */
export async function createNotifierFunction(client: lambda.LambdaClient): Promise<string> {
  const name = motoName('libra-notifier');
  await client.send(
    new lambda.CreateFunctionCommand({
      FunctionName: name,
      Runtime: 'nodejs22.x',
      Role: await createLambdaRole(),
      Handler: 'index.handler',
      Code: { ZipFile: new Uint8Array([0x50, 0x4b, 0x05, 0x06, ...new Array<number>(18).fill(0)]) },
    }),
  );
  return name;
}

/** A Standard Webhooks secret (whsec_ + base64 of 32 bytes). */
export const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

/**
 * A trivial state machine that waits an hour: the executions the adapters start stay RUNNING
 * until stopped (moto only records executions unless told to run them).
 */
export async function createWaitingStateMachine(client: sfn.SFNClient): Promise<string> {
  const { stateMachineArn } = await client.send(
    new sfn.CreateStateMachineCommand({
      name: motoName('job-workflow'),
      roleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/libra-workflow`,
      definition: JSON.stringify({
        StartAt: 'Wait',
        States: { Wait: { Type: 'Wait', Seconds: 3600, End: true } },
      }),
    }),
  );
  if (!stateMachineArn) throw new Error('moto created no state machine');
  return stateMachineArn;
}

export async function createServerlessApplication(
  client: emrServerless.EMRServerlessClient,
): Promise<string> {
  const { applicationId } = await client.send(
    new emrServerless.CreateApplicationCommand({
      name: motoName('spark'),
      releaseLabel: 'emr-7.1.0',
      type: 'SPARK',
    }),
  );
  if (!applicationId) throw new Error('moto created no EMR Serverless application');
  return applicationId;
}

/** An EMR Serverless run named after its job, as the workflow's StartJobRun names it. */
export async function createServerlessRun(
  client: emrServerless.EMRServerlessClient,
  jobId: string,
  applicationId?: string,
): Promise<{ applicationId: string; jobRunId: string }> {
  const application = applicationId ?? (await createServerlessApplication(client));
  const { jobRunId } = await client.send(
    new emrServerless.StartJobRunCommand({
      applicationId: application,
      executionRoleArn: EXECUTION_ROLE,
      name: jobId,
      clientToken: `${jobId}-1`,
      jobDriver: { sparkSubmit: { entryPoint: 's3://artifacts/runners/sql_runner.py' } },
    }),
  );
  if (!jobRunId) throw new Error('moto started no EMR Serverless run');
  return { applicationId: application, jobRunId };
}

/** moto allows one virtual cluster per namespace, whatever the EKS cluster: each gets its own. */
export async function createVirtualCluster(client: emrContainers.EMRContainersClient): Promise<string> {
  const { id } = await client.send(
    new emrContainers.CreateVirtualClusterCommand({
      name: motoName('spark'),
      clientToken: motoName('token'),
      containerProvider: {
        id: motoName('eks'),
        type: 'EKS',
        info: { eksInfo: { namespace: motoName('spark') } },
      },
    }),
  );
  if (!id) throw new Error('moto created no virtual cluster');
  return id;
}

/** An EMR on EKS run named after its job. */
export async function createEksRun(
  client: emrContainers.EMRContainersClient,
  jobId: string,
  virtualClusterId?: string,
): Promise<{ virtualClusterId: string; id: string }> {
  const cluster = virtualClusterId ?? (await createVirtualCluster(client));
  const { id } = await client.send(
    new emrContainers.StartJobRunCommand({
      virtualClusterId: cluster,
      name: jobId,
      clientToken: `${jobId}-1`,
      executionRoleArn: EXECUTION_ROLE,
      releaseLabel: 'emr-7.1.0-latest',
      jobDriver: { sparkSubmitJobDriver: { entryPoint: 's3://artifacts/runners/sql_runner.py' } },
    }),
  );
  if (!id) throw new Error('moto started no EMR on EKS run');
  return { virtualClusterId: cluster, id };
}
