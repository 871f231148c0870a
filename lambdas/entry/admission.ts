import * as sfn from '@aws-sdk/client-sfn';
import { artifactLocations, s3ArtifactStoreOnFirstUse, targetsFromJson } from '#adapters/aws-backends.ts';
import {
  intakeOnFirstUse,
  notifierOnFirstUse,
  progressTarget,
  requiredEnv,
  storeWiringFromEnvironment,
} from '#adapters/aws-environment.ts';
import { atInit } from '#adapters/sdk.ts';
import { StepFunctionsExecutions } from '#adapters/sfn-workflow-starter.ts';
import { edge } from '#compose/edge.ts';
import { composeJobEnder } from '#compose/job-ender.ts';
import { Admission } from '#core/admission.ts';
import { JobLauncher } from '#core/launcher.ts';
import { createAdmissionHandler, SQS_EVENT } from '#handlers/admission.ts';

// The intake queue's function: it leases capacity and starts the workflow of each job it admits.
// At init: DynamoDB (every pass reads the pool and its waiting jobs) and Step Functions (starting
// workflows is what admitting a job is). On first use: S3, for jobs whose code is inline only;
// SQS and Lambda, for the rare job whose workflow cannot start, which admission ends START_FAILED
// (waking its pool, invoking the notifier). Never: EMR — admission does not stop runs.
const wiring = storeWiringFromEnvironment();
const bucket = requiredEnv('ARTIFACTS_BUCKET');
const starter = new JobLauncher({
  artifacts: s3ArtifactStoreOnFirstUse(bucket),
  locations: artifactLocations(bucket, progressTarget(wiring)),
  targets: targetsFromJson(requiredEnv('LIBRA_BACKENDS')),
  executions: new StepFunctionsExecutions(
    atInit(sfn, (sdk) => new sdk.SFNClient({})),
    requiredEnv('STATE_MACHINE_ARN'),
  ),
  retentionDays: wiring.config.retention.days,
});

const ends = composeJobEnder({ ...wiring, intake: intakeOnFirstUse(), notifier: notifierOnFirstUse() });

export const handler = edge(
  SQS_EVENT,
  createAdmissionHandler({
    ...wiring,
    admission: new Admission({ ...wiring, ...ends, starter }),
  }),
);
