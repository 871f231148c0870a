import type * as EmrContainers from '@aws-sdk/client-emr-containers';
import type * as EmrServerless from '@aws-sdk/client-emr-serverless';
import type * as Lambda from '@aws-sdk/client-lambda';
import type * as S3 from '@aws-sdk/client-s3';
import { ConfigError } from '#core/config.ts';
import type { RunUsage } from '#core/cost.ts';
import type { JobRecord } from '#core/job-record.ts';
import { keyedRecord } from '#core/keyed-record.ts';
import type { ArtifactStore, SparkRunControl } from '#core/ports.ts';
import type { BackendTargets } from '#core/workflow-input.ts';
import * as z from '#core/zod.ts';
import { asStartRefusal, type OperationErrors } from './aws-errors.ts';
import { onFirstUse, type Sdk } from './sdk.ts';

/**
 * The Spark backends and the artifacts bucket as deployed: where each pool's jobs run (the
 * stack resolves what the configuration leaves out and passes it as LIBRA_BACKENDS), inline
 * code in the artifacts bucket, cancelling runs, and invoking the notifier.
 */

const nonEmpty = () => z.string().check(z.minLength(1));

const backendTargetsSchema = keyedRecord(
  z.string(),
  z.object({
    emrServerless: z.optional(z.object({ applicationId: nonEmpty(), executionRoleArn: nonEmpty() })),
    eks: z.optional(
      z.object({
        virtualClusterId: nonEmpty(),
        executionRoleArn: nonEmpty(),
        releaseLabel: nonEmpty(),
        jobTemplateId: z.optional(nonEmpty()),
        podTemplate: z.optional(
          z.object({ driver: z.optional(nonEmpty()), executor: z.optional(nonEmpty()) }),
        ),
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

/** The artifacts bucket's layout; core owns it, since submit measures workflow inputs with it. */
export { s3ArtifactLocations as artifactLocations } from '#core/workflow-input.ts';

export type S3Sdk = Sdk<typeof S3, S3.S3Client>;
export type EmrServerlessSdk = Sdk<typeof EmrServerless, EmrServerless.EMRServerlessClient>;
export type EmrContainersSdk = Sdk<typeof EmrContainers, EmrContainers.EMRContainersClient>;
export type LambdaSdk = Sdk<typeof Lambda, Lambda.LambdaClient>;

/**
 * PutObject of a job's inline code, the first half of its start. S3 answers most errors as
 * unmodeled codes: its client faults (AccessDenied, NoSuchBucket, a KMS key it may not use …)
 * are permanent; these few client faults clear by themselves.
 */
export const PUT_CODE_ERRORS: OperationErrors = {
  call: 'S3 PutObject of the inline code',
  permanent: ['AccessDenied', 'NoSuchBucket', 'InvalidBucketName', 'EntityTooLarge'],
  // OperationAborted: a conflicting operation on the bucket is under way.
  transient: ['OperationAborted', 'InternalError', 'ServiceUnavailable'],
};

export class S3ArtifactStore implements ArtifactStore {
  readonly #s3: S3Sdk;
  readonly #bucket: string;

  constructor(s3: S3Sdk, bucket: string) {
    this.#s3 = s3;
    this.#bucket = bucket;
  }

  async putCode(jobId: string, jobType: 'sql' | 'python', code: string): Promise<void> {
    const { sdk, client } = await this.#s3();
    try {
      await client.send(
        new sdk.PutObjectCommand({
          Bucket: this.#bucket,
          Key: `jobs/${jobId}/code.${jobType === 'sql' ? 'sql' : 'py'}`,
          Body: code,
          ContentType: 'text/plain; charset=utf-8',
        }),
      );
    } catch (error) {
      throw asStartRefusal(error, PUT_CODE_ERRORS);
    }
  }
}

/**
 * A job's recorded run is `<applicationId or virtualClusterId>/<run id>` (the run recorder
 * writes it so), which is all CancelJobRun needs.
 */
export class EmrRunControl implements SparkRunControl {
  readonly #serverless: EmrServerlessSdk;
  readonly #containers: EmrContainersSdk;

  constructor(backends: { serverless: EmrServerlessSdk; containers: EmrContainersSdk }) {
    this.#serverless = backends.serverless;
    this.#containers = backends.containers;
  }

  async cancelRun(job: JobRecord): Promise<void> {
    const [target, runId] = (job.backendRunId ?? '').split('/');
    if (!target || !runId) return;
    if (['SUCCESS', 'FAILED', 'CANCELLED', 'COMPLETED'].includes(job.backendState ?? '')) return;
    if (job.backend === 'eks') {
      const { sdk, client } = await this.#containers();
      await client.send(new sdk.CancelJobRunCommand({ virtualClusterId: target, id: runId }));
    } else {
      const { sdk, client } = await this.#serverless();
      await client.send(new sdk.CancelJobRunCommand({ applicationId: target, jobRunId: runId }));
    }
  }

  /**
   * What an ended EMR Serverless run used: `billedResourceUtilization` (what AWS charged: a
   * minute's minimum per worker, storage beyond the free 20 GB) and its execution time. A run
   * that reports no billed figures gives its `totalResourceUtilization`, marked `reported`.
   */
  async runUsage(applicationId: string, jobRunId: string): Promise<RunUsage | undefined> {
    const { sdk, client } = await this.#serverless();
    const { jobRun } = await client.send(new sdk.GetJobRunCommand({ applicationId, jobRunId }));
    if (jobRun === undefined) return undefined;
    const figures = jobRun.billedResourceUtilization ?? jobRun.totalResourceUtilization;
    if (figures === undefined) return undefined;
    return {
      source: jobRun.billedResourceUtilization === undefined ? 'reported' : 'billed',
      vcpuHours: figures.vCPUHour ?? 0,
      memoryGbHours: figures.memoryGBHour ?? 0,
      storageGbHours: figures.storageGBHour ?? 0,
      durationSeconds: jobRun.totalExecutionDurationSeconds ?? 0,
    };
  }

  /** The job id of an EMR Serverless run: Libra names each run after its job. */
  async jobIdOf(applicationId: string, jobRunId: string): Promise<string | undefined> {
    const { sdk, client } = await this.#serverless();
    const { jobRun } = await client.send(new sdk.GetJobRunCommand({ applicationId, jobRunId }));
    return jobRun?.name;
  }
}

/**
 * Stopping runs, each backend's client imported the first time a run on it is stopped: no
 * function stops runs on most of its invocations, and a deployment without EMR on EKS never
 * loads its client.
 */
export function emrRunControlOnFirstUse(): EmrRunControl {
  return new EmrRunControl({
    serverless: onFirstUse(
      () => import('@aws-sdk/client-emr-serverless'),
      (sdk) => new sdk.EMRServerlessClient({}),
    ),
    containers: onFirstUse(
      () => import('@aws-sdk/client-emr-containers'),
      (sdk) => new sdk.EMRContainersClient({}),
    ),
  });
}

/** Inline code to the artifacts bucket, S3 imported with the first job that has some. */
export function s3ArtifactStoreOnFirstUse(bucket: string): S3ArtifactStore {
  return new S3ArtifactStore(
    onFirstUse(
      () => import('@aws-sdk/client-s3'),
      (sdk) => new sdk.S3Client({}),
    ),
    bucket,
  );
}

/** Invokes a Lambda function asynchronously (`Event`). */
export function lambdaInvoker(lambda: LambdaSdk) {
  return async (functionName: string, payload: unknown): Promise<void> => {
    const { sdk, client } = await lambda();
    await client.send(
      new sdk.InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(payload)),
      }),
    );
  };
}
