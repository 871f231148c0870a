import * as sfn from '@aws-sdk/client-sfn';
import {
  artifactLocations,
  emrRunControlOnFirstUse,
  s3ArtifactStoreOnFirstUse,
  targetsFromJson,
} from '#adapters/aws-backends.ts';
import {
  intakeOnFirstUse,
  notifierOnFirstUse,
  progressTarget,
  requiredEnv,
  storeWiringFromEnvironment,
} from '#adapters/aws-environment.ts';
import { atInit } from '#adapters/sdk.ts';
import { StepFunctionsControl, StepFunctionsExecutions } from '#adapters/sfn-workflow-starter.ts';
import { edge } from '#compose/edge.ts';
import { composeAdmission } from '#compose/tick.ts';
import { JobLauncher } from '#core/launcher.ts';
import { createTickHandler } from '#handlers/tick.ts';

// The one-minute tick: reconciles every pool, then admits.
// At init: DynamoDB (every tick reads each pool, its leases and its waiting jobs) and Step
// Functions (the reconciler describes the execution of every job that holds a lease, and
// admitting starts workflows). On first use, for the rare job whose execution ended unseen, which
// the reconciler finalizes, or whose workflow cannot start: EMR Serverless or EMR on EKS (stopping
// its run, if one may be going), SQS (waking its pool) and Lambda (invoking the notifier); and S3,
// for inline code only.
const wiring = storeWiringFromEnvironment();
const stateMachineArn = requiredEnv('STATE_MACHINE_ARN');
const stepFunctions = atInit(sfn, (sdk) => new sdk.SFNClient({}));
const bucket = requiredEnv('ARTIFACTS_BUCKET');
const starter = new JobLauncher({
  artifacts: s3ArtifactStoreOnFirstUse(bucket),
  locations: artifactLocations(bucket, progressTarget(wiring)),
  targets: targetsFromJson(requiredEnv('LIBRA_BACKENDS')),
  executions: new StepFunctionsExecutions(stepFunctions, stateMachineArn),
  retentionDays: wiring.config.retention.days,
});

export const handler = edge(
  undefined,
  createTickHandler({
    ...wiring,
    ...composeAdmission({
      ...wiring,
      starter,
      workflows: new StepFunctionsControl(stepFunctions, stateMachineArn),
      intake: intakeOnFirstUse(),
      runs: emrRunControlOnFirstUse(),
      notifier: notifierOnFirstUse(),
    }),
  }),
);
