import * as emrContainers from '@aws-sdk/client-emr-containers';
import * as emrServerless from '@aws-sdk/client-emr-serverless';
import * as sfn from '@aws-sdk/client-sfn';
import { MOTO_ACCOUNT, motoName } from '../support/moto.ts';

/** The resources the adapters address, made on moto for one test. */

export const EXECUTION_ROLE = `arn:aws:iam::${MOTO_ACCOUNT}:role/libra-spark`;
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
