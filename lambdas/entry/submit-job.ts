import * as sqs from '@aws-sdk/client-sqs';
import { requiredEnv, storeWiringFromEnvironment } from '#adapters/aws-environment.ts';
import { atInit } from '#adapters/sdk.ts';
import { SqsIntakeQueue } from '#adapters/sqs-intake-queue.ts';
import { jobStore, poolStore, systemClock } from '#adapters/table-stores.ts';
import { edgeMiddlewares } from '#compose/edge.ts';
import { newJobId } from '#core/job-record.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createSubmitJobHandler } from '#handlers/submit-job.ts';

// POST /api/v1/spark/jobs.
// At init: DynamoDB (every submit writes the job and reserves its place) and SQS (every accepted
// submit wakes admission). Never: Step Functions, EMR, Lambda, S3 — a submit stops nothing and
// ends no job, so it is given nothing to do either with.
const wiring = storeWiringFromEnvironment();

export const handler = createSubmitJobHandler({
  ...wiring,
  jobs: jobStore(wiring),
  pools: poolStore(wiring),
  intake: new SqsIntakeQueue(
    atInit(sqs, (sdk) => new sdk.SQSClient({})),
    requiredEnv('INTAKE_QUEUE_URL'),
  ),
  clock: systemClock,
  newJobId,
  allowInsecureWebhooks: false,
  edge: edgeMiddlewares(HTTP_EVENT),
});
