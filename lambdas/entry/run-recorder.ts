import { artifactLocations, emrRunControlOnFirstUse } from '#adapters/aws-backends.ts';
import { requiredEnv, storeWiringFromEnvironment } from '#adapters/aws-environment.ts';
import { jobStore, usageLedger } from '#adapters/table-stores.ts';
import { edge } from '#compose/edge.ts';
import { RunRecorder } from '#core/run-recorder.ts';
import { createRunRecorder, RUN_RECORDER_INPUT } from '#handlers/run-recorder.ts';

// Records EMR job-run state changes on their jobs.
// At init: DynamoDB (every event is a write to its job). On first use: EMR Serverless, to read an
// ended run's billed usage, and to look up the job of a run whose event does not carry its name
// (Libra names every run, so rarely).
// Never: SQS, Step Functions, Lambda, S3, EMR on EKS.
const wiring = storeWiringFromEnvironment();
const runs = emrRunControlOnFirstUse();

export const handler = edge(
  RUN_RECORDER_INPUT,
  createRunRecorder({
    recorder: new RunRecorder({ ...wiring, jobs: jobStore(wiring), ledger: usageLedger(wiring) }),
    logger: wiring.logger,
    logUri: artifactLocations(requiredEnv('ARTIFACTS_BUCKET')).logUri ?? '',
    region: requiredEnv('AWS_REGION'),
    serverlessJobIdOf: (applicationId, jobRunId) => runs.jobIdOf(applicationId, jobRunId),
    serverlessRunUsage: (applicationId, jobRunId) => runs.runUsage(applicationId, jobRunId),
  }),
);
