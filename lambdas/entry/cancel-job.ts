import * as sfn from '@aws-sdk/client-sfn';
import { emrRunControlOnFirstUse } from '#adapters/aws-backends.ts';
import {
  intakeOnFirstUse,
  notifierOnFirstUse,
  requiredEnv,
  storeWiringFromEnvironment,
} from '#adapters/aws-environment.ts';
import { atInit } from '#adapters/sdk.ts';
import { StepFunctionsControl } from '#adapters/sfn-workflow-starter.ts';
import { composeCancel } from '#compose/cancel.ts';
import { edgeMiddlewares } from '#compose/edge.ts';
import { createCancelJobHandler } from '#handlers/cancel-job.ts';
import { HTTP_EVENT } from '#handlers/http.ts';

// DELETE /api/v1/spark/jobs/{jobId}.
// At init: DynamoDB (every cancel reads and moves the job) and Step Functions (cancelling a
// scheduled or running job describes and stops its execution). On first use, only when a cancel
// finds no execution running and ends the job at once: EMR Serverless or EMR on EKS (stopping a
// run that may be going), SQS (waking its pool) and Lambda (invoking the notifier). A queued job's
// cancel needs none of these. Never: S3.
const wiring = storeWiringFromEnvironment();

export const handler = createCancelJobHandler({
  ...wiring,
  ...composeCancel({
    ...wiring,
    workflows: new StepFunctionsControl(
      atInit(sfn, (sdk) => new sdk.SFNClient({})),
      requiredEnv('STATE_MACHINE_ARN'),
    ),
    intake: intakeOnFirstUse(),
    runs: emrRunControlOnFirstUse(),
    notifier: notifierOnFirstUse(),
  }),
  edge: edgeMiddlewares(HTTP_EVENT),
});
