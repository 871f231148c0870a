import * as sqs from '@aws-sdk/client-sqs';
import { requiredEnv, storeWiringFromEnvironment } from '#adapters/aws-environment.ts';
import { atInit } from '#adapters/sdk.ts';
import { SqsIntakeQueue } from '#adapters/sqs-intake-queue.ts';
import { jobStore, poolStore, systemClock, usageLedger } from '#adapters/table-stores.ts';
import { newJobId } from '#core/job-record.ts';

/**
 * What a deployed function that queues new jobs (submit, re-run) is composed of. At init:
 * DynamoDB (it writes the job and reserves its place) and SQS (every accepted job wakes
 * admission). Never: Step Functions, EMR, Lambda, S3 — queueing a job stops nothing and ends no
 * job, so it is given nothing to do either with.
 */
export function queueingFromEnvironment() {
  const wiring = storeWiringFromEnvironment();
  return {
    ...wiring,
    jobs: jobStore(wiring),
    pools: poolStore(wiring),
    spend: usageLedger(wiring),
    intake: new SqsIntakeQueue(
      atInit(sqs, (sdk) => new sdk.SQSClient({})),
      requiredEnv('INTAKE_QUEUE_URL'),
    ),
    clock: systemClock,
    newJobId,
    allowInsecureWebhooks: false,
  };
}
