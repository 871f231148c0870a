import {
  CancelJobRunCommand as CancelEksJobRunCommand,
  type EMRContainersClient,
} from '@aws-sdk/client-emr-containers';
import {
  CancelJobRunCommand,
  type EMRServerlessClient,
  GetJobRunCommand,
} from '@aws-sdk/client-emr-serverless';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '#core/config.ts';
import type { JobRecord } from '#core/job-record.ts';
import type { ArtifactStore, SparkRunControl } from '#core/ports.ts';
import type { ArtifactLocations, BackendTargets } from '#core/workflow-input.ts';
import * as z from '#core/zod.ts';

/**
 * The Spark backends and the artifacts bucket as deployed: where each pool's jobs run (the
 * stack resolves what the configuration leaves out and passes it as LIBRA_BACKENDS), inline
 * code in the artifacts bucket, cancelling runs, and invoking the notifier.
 */

const nonEmpty = () => z.string().check(z.minLength(1));

const backendTargetsSchema = z.record(
  z.string(),
  z.object({
    emrServerless: z.optional(z.object({ applicationId: nonEmpty(), executionRoleArn: nonEmpty() })),
    eks: z.optional(
      z.object({
        virtualClusterId: nonEmpty(),
        executionRoleArn: nonEmpty(),
        releaseLabel: nonEmpty(),
      }),
    ),
  }),
);

export function targetsFromJson(json: string): (pool: string) => BackendTargets {
  let parsed: z.infer<typeof backendTargetsSchema>;
  try {
    parsed = backendTargetsSchema.parse(JSON.parse(json));
  } catch (error) {
    throw new ConfigError(`LIBRA_BACKENDS is not valid: ${(error as Error).message}`);
  }
  return (pool) => {
    const targets = parsed[pool];
    if (!targets) throw new ConfigError(`LIBRA_BACKENDS has no pool '${pool}'`);
    return targets;
  };
}

export function artifactLocations(bucket: string): ArtifactLocations {
  return {
    runnersUri: `s3://${bucket}/runners/`,
    codeUri: (jobId, jobType) => `s3://${bucket}/jobs/${jobId}/code.${jobType === 'sql' ? 'sql' : 'py'}`,
    logUri: `s3://${bucket}/logs/`,
  };
}

export class S3ArtifactStore implements ArtifactStore {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(client: S3Client, bucket: string) {
    this.#client = client;
    this.#bucket = bucket;
  }

  async putCode(jobId: string, jobType: 'sql' | 'python', code: string): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: `jobs/${jobId}/code.${jobType === 'sql' ? 'sql' : 'py'}`,
        Body: code,
        ContentType: 'text/plain; charset=utf-8',
      }),
    );
  }
}

/**
 * A job's recorded run is `<applicationId or virtualClusterId>/<run id>` (the run recorder
 * writes it so), which is all CancelJobRun needs.
 */
export class EmrRunControl implements SparkRunControl {
  readonly #serverless: EMRServerlessClient;
  readonly #containers: EMRContainersClient;

  constructor(serverless: EMRServerlessClient, containers: EMRContainersClient) {
    this.#serverless = serverless;
    this.#containers = containers;
  }

  async cancelRun(job: JobRecord): Promise<void> {
    const [target, runId] = (job.backendRunId ?? '').split('/');
    if (!target || !runId) return;
    if (['SUCCESS', 'FAILED', 'CANCELLED', 'COMPLETED'].includes(job.backendState ?? '')) return;
    if (job.backend === 'eks') {
      await this.#containers.send(new CancelEksJobRunCommand({ virtualClusterId: target, id: runId }));
    } else {
      await this.#serverless.send(new CancelJobRunCommand({ applicationId: target, jobRunId: runId }));
    }
  }

  /** The job id of an EMR Serverless run: Libra names each run after its job. */
  async jobIdOf(applicationId: string, jobRunId: string): Promise<string | undefined> {
    const { jobRun } = await this.#serverless.send(new GetJobRunCommand({ applicationId, jobRunId }));
    return jobRun?.name;
  }
}

export function lambdaInvoker(client: LambdaClient) {
  return async (functionName: string, payload: unknown): Promise<void> => {
    await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(payload)),
      }),
    );
  };
}
