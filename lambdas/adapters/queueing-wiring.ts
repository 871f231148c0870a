import * as sqs from '@aws-sdk/client-sqs';
import {
  notGivenNotifier,
  notGivenRuns,
  notGivenWorkflows,
  requiredEnv,
  storeWiringFromEnvironment,
} from './aws-environment.ts';
import type { Wiring } from './compose.ts';
import { atInit } from './sdk.ts';
import { SqsIntakeQueue } from './sqs-intake-queue.ts';

/**
 * The wiring of a function that queues new jobs (submit, re-run). At init: DynamoDB (it writes
 * the job and reserves its place) and SQS (every accepted job wakes admission). Never: Step
 * Functions, EMR, Lambda, S3 — queueing a job stops nothing and ends no job.
 */
export function queueingWiringFromEnvironment(): Wiring {
  return {
    ...storeWiringFromEnvironment(),
    intake: new SqsIntakeQueue(
      atInit(sqs, (sdk) => new sdk.SQSClient({})),
      requiredEnv('INTAKE_QUEUE_URL'),
    ),
    workflows: notGivenWorkflows,
    runs: notGivenRuns,
    notifier: notGivenNotifier,
    allowInsecureWebhooks: false,
  };
}
