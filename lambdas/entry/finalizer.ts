import * as lambda from '@aws-sdk/client-lambda';
import * as sqs from '@aws-sdk/client-sqs';
import { emrRunControlOnFirstUse } from '#adapters/aws-backends.ts';
import {
  notGivenWorkflows,
  notifierFunction,
  requiredEnv,
  storeWiringFromEnvironment,
} from '#adapters/aws-environment.ts';
import { composeCore } from '#adapters/compose.ts';
import { atInit } from '#adapters/sdk.ts';
import { SqsIntakeQueue } from '#adapters/sqs-intake-queue.ts';
import { tracedHandler } from '#adapters/tracing.ts';
import { createFinalizerHandler } from '#handlers/finalizer.ts';

// Ends the jobs whose workflow execution was stopped, failed or timed out, and stops the runs the
// workflow's StopRun step names.
// At init: DynamoDB (it reads the job every time), SQS (ending a job wakes its pool's admission)
// and Lambda (the notifier is invoked for every job it ends): an ended execution means all three.
// On first use: EMR Serverless or EMR on EKS, only the backend of a run that may still be going
// (a job stopped before its run started has none to stop). Never: Step Functions, S3.
const wiring = storeWiringFromEnvironment();

export const handler = tracedHandler(
  createFinalizerHandler({
    ...wiring,
    ...composeCore({
      ...wiring,
      intake: new SqsIntakeQueue(
        atInit(sqs, (sdk) => new sdk.SQSClient({})),
        requiredEnv('INTAKE_QUEUE_URL'),
      ),
      notifier: notifierFunction(atInit(lambda, (sdk) => new sdk.LambdaClient({}))),
      runs: emrRunControlOnFirstUse(),
      workflows: notGivenWorkflows,
      allowInsecureWebhooks: false,
    }),
  }),
);
