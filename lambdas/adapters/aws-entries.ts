import { EMRContainersClient } from '@aws-sdk/client-emr-containers';
import { EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { JobLauncher } from '#core/launcher.ts';
import { RunRecorder } from '#core/run-recorder.ts';
import {
  artifactLocations,
  EmrRunControl,
  lambdaInvoker,
  S3ArtifactStore,
  targetsFromJson,
} from './aws-backends.ts';
import { composeAdmission, composeCore, requiredEnv, wiringFromEnvironment } from './compose.ts';
import { StepFunctionsExecutions } from './sfn-workflow-starter.ts';

/** Deployed wiring of the Lambdas behind the queue, the schedule and the workflow's events. */

function emrRunControl(): EmrRunControl {
  return new EmrRunControl(new EMRServerlessClient({}), new EMRContainersClient({}));
}

/** Admission and the tick: they start workflows, and the tick finalizes jobs whose execution ended unseen. */
export function admissionFromEnvironment() {
  const wiring = wiringFromEnvironment({
    runs: emrRunControl(),
    invokeAsync: lambdaInvoker(new LambdaClient({})),
  });
  const bucket = requiredEnv('ARTIFACTS_BUCKET');
  const starter = new JobLauncher({
    artifacts: new S3ArtifactStore(new S3Client({}), bucket),
    locations: artifactLocations(bucket),
    targets: targetsFromJson(requiredEnv('LIBRA_BACKENDS')),
    executions: new StepFunctionsExecutions(new SFNClient({}), requiredEnv('STATE_MACHINE_ARN')),
    retentionDays: wiring.config.retention.days,
  });
  return { ...wiring, ...composeAdmission({ ...wiring, starter }) };
}

export function finalizerFromEnvironment() {
  const wiring = wiringFromEnvironment({
    runs: emrRunControl(),
    invokeAsync: lambdaInvoker(new LambdaClient({})),
  });
  return { ...wiring, ...composeCore(wiring) };
}

export function runRecorderFromEnvironment() {
  const wiring = wiringFromEnvironment();
  const { jobs } = composeCore(wiring);
  const runs = emrRunControl();
  return {
    recorder: new RunRecorder({ jobs, logger: wiring.logger }),
    logger: wiring.logger,
    logUri: artifactLocations(requiredEnv('ARTIFACTS_BUCKET')).logUri ?? '',
    region: requiredEnv('AWS_REGION'),
    serverlessJobIdOf: (applicationId: string, jobRunId: string) => runs.jobIdOf(applicationId, jobRunId),
  };
}

/** The API: only the cancel route stops executions and may have to end a job at once. */
export function cancelApiFromEnvironment() {
  return wiringFromEnvironment({ runs: emrRunControl(), invokeAsync: lambdaInvoker(new LambdaClient({})) });
}
