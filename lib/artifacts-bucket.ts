import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Effect, Grant, type IGrantable, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import type { ArtifactsBucketProps } from './artifacts-bucket-props.ts';
import {
  acknowledgeBucketDeploymentRuntimes,
  acknowledgeWildcardResource,
  acknowledgeWildcardsSoFar,
} from './nag.ts';

const BUCKET_DEPLOYMENT_REASON =
  "Statements aws-cdk-lib's BucketDeployment grants its function to copy the runner scripts: read the " +
  'deployment asset from the CDK bootstrap asset bucket, and sync it into the artifacts bucket (list, ' +
  'get, put, delete of stale runners). An explicit Deny on jobs/ and logs/ keeps it to runners/. The ' +
  'function runs only during deployments.';

const JOB_OBJECTS_REASON =
  "Each job's inline code is stored at jobs/<jobId>/code.<sql|py>, a key known only when the job is " +
  'admitted; the jobs/ prefix is the narrowest ARN that covers every job, and the action is PutObject or GetObject only.';

/** The prefixes lambdas/adapters/aws-backends.ts (artifactLocations) writes and reads. */
export const ARTIFACT_PREFIXES = { runners: 'runners/', jobs: 'jobs/', logs: 'logs/' } as const;

/** What every bucket of the stack is: S3-managed encryption, TLS only, never public. */
export const PRIVATE_BUCKET = {
  encryption: BucketEncryption.S3_MANAGED,
  enforceSSL: true,
  blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
} as const;

const RUNNERS_DIR = fileURLToPath(new URL('../runners/', import.meta.url));

/**
 * Where Spark jobs find what Libra gives them and leave what they produce: the runner scripts
 * the stack deploys (`runners/`), each job's inline code (`jobs/<jobId>/`, written at admission)
 * and the Spark logs EMR writes (`logs/<jobId>/`). Encrypted, TLS only, never public, with
 * server access logs to a bucket of their own.
 *
 * Not versioned: nothing in it is the only copy of anything. The runners are in the repository
 * and deployed again by every deploy, the inline code is also in the job record (which has
 * point-in-time recovery), and logs are written once. Versions would only keep deleted and
 * overwritten copies that the lifecycle would then have to expire.
 */
export class ArtifactsBucket extends Construct {
  readonly bucket: Bucket;
  readonly accessLogsBucket: Bucket;
  readonly runnersDeployment: BucketDeployment;

  constructor(scope: Construct, id: string, props: ArtifactsBucketProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const expiration = Duration.days(props.retentionDays);

    this.accessLogsBucket = new Bucket(this, 'AccessLogs', {
      // Server access logs can be delivered only to buckets encrypted with S3 managed keys.
      ...PRIVATE_BUCKET,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration }],
      removalPolicy,
    });
    this.bucket = new Bucket(this, 'Bucket', {
      ...PRIVATE_BUCKET,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [
        { id: 'expire-job-code', prefix: ARTIFACT_PREFIXES.jobs, expiration },
        { id: 'expire-spark-logs', prefix: ARTIFACT_PREFIXES.logs, expiration },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy,
    });

    this.runnersDeployment = this.#deployRunners(props);
  }

  /** Lets `fn` store a job's inline code under `jobs/`, and nothing else, and tells it the bucket. */
  grantPutJobCode(fn: LambdaFunction): void {
    const jobObjects = this.bucket.arnForObjects(`${ARTIFACT_PREFIXES.jobs}*`);
    Grant.addToPrincipal({ grantee: fn, actions: ['s3:PutObject'], resourceArns: [jobObjects] });
    acknowledgeWildcardResource(fn, jobObjects, JOB_OBJECTS_REASON);
    this.shareName(fn);
  }

  /** Tells `fn` the bucket (the run recorder builds log links from it) without any access. */
  shareName(fn: LambdaFunction): void {
    fn.addEnvironment('ARTIFACTS_BUCKET', this.bucket.bucketName);
  }

  /**
   * What a Spark job run needs, for the job execution roles the stack creates: read the runner
   * scripts and the job's code, write its logs. Listing is limited to those prefixes; Spark's S3
   * file system lists a path's prefix to tell a file from a directory.
   */
  grantJobRunAccess(grantee: IGrantable): void {
    const { runners, jobs, logs } = ARTIFACT_PREFIXES;
    const [runnerObjects, jobObjects, logObjects] = [runners, jobs, logs].map((prefix) =>
      this.bucket.arnForObjects(`${prefix}*`),
    ) as [string, string, string];
    Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [runnerObjects, jobObjects] });
    Grant.addToPrincipal({ grantee, actions: ['s3:PutObject'], resourceArns: [logObjects] });
    acknowledgeWildcardResource(
      grantee,
      runnerObjects,
      'Read-only access to the runner scripts the stack deploys under runners/; a job picks its runner at run time.',
    );
    acknowledgeWildcardResource(grantee, jobObjects, `${JOB_OBJECTS_REASON} Read-only for a job run.`);
    acknowledgeWildcardResource(
      grantee,
      logObjects,
      "EMR writes each run's Spark logs under logs/<jobId>/, with names EMR chooses as the run goes; " +
        'write-only, to that prefix only.',
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${runners}*`, `${jobs}*`, `${logs}*`] } },
      }),
    );
  }

  #deployRunners(props: ArtifactsBucketProps): BucketDeployment {
    const construct = new Construct(this, 'Runners');
    const logGroup = new LogGroup(construct, 'Logs', { retention: props.logRetention });
    // Our own role, so that the deployment function gets no AWS managed policy and writes only its own logs.
    const role = new Role(construct, 'Role', {
      description: 'Libra: deploys the runner scripts to the artifacts bucket',
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    });
    logGroup.grantWrite(role);
    // BucketDeployment grants read and write on the whole bucket; it syncs runners/ only, and must
    // never touch the jobs' code or their logs, which its pruning would otherwise be allowed to delete.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        actions: ['s3:GetObject*', 's3:PutObject*', 's3:DeleteObject*', 's3:Abort*'],
        resources: [
          this.bucket.arnForObjects(`${ARTIFACT_PREFIXES.jobs}*`),
          this.bucket.arnForObjects(`${ARTIFACT_PREFIXES.logs}*`),
        ],
      }),
    );
    const deployment = new BucketDeployment(construct, 'Deployment', {
      sources: [Source.asset(RUNNERS_DIR, { exclude: ['__pycache__', '*.pyc'] })],
      destinationBucket: this.bucket,
      destinationKeyPrefix: ARTIFACT_PREFIXES.runners,
      // Only runners/ is ever pruned: a runner removed from the repository is removed from the bucket.
      prune: true,
      role,
      logGroup,
    });
    acknowledgeWildcardsSoFar(role, BUCKET_DEPLOYMENT_REASON);
    acknowledgeBucketDeploymentRuntimes(Stack.of(this));
    return deployment;
  }
}
