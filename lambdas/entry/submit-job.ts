import * as sqs from '@aws-sdk/client-sqs';
import {
  notGivenNotifier,
  notGivenRuns,
  notGivenWorkflows,
  requiredEnv,
  storeWiringFromEnvironment,
} from '#adapters/aws-environment.ts';
import { composeApi } from '#adapters/compose.ts';
import { edgeMiddlewares } from '#adapters/edge.ts';
import { atInit } from '#adapters/sdk.ts';
import { SqsIntakeQueue } from '#adapters/sqs-intake-queue.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createSubmitJobHandler } from '#handlers/submit-job.ts';

// POST /api/v1/spark/jobs.
// At init: DynamoDB (every submit writes the job and reserves its place) and SQS (every accepted
// submit wakes admission). Never: Step Functions, EMR, Lambda, S3 — a submit stops nothing and
// ends no job.
export const handler = createSubmitJobHandler({
  ...composeApi({
    ...storeWiringFromEnvironment(),
    intake: new SqsIntakeQueue(
      atInit(sqs, (sdk) => new sdk.SQSClient({})),
      requiredEnv('INTAKE_QUEUE_URL'),
    ),
    workflows: notGivenWorkflows,
    runs: notGivenRuns,
    notifier: notGivenNotifier,
    allowInsecureWebhooks: false,
  }),
  edge: edgeMiddlewares(HTTP_EVENT),
});
