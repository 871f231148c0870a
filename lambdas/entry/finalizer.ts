import { emrRunControlOnFirstUse } from '#adapters/aws-backends.ts';
import {
  intakeOnFirstUse,
  notifierOnFirstUse,
  storeWiringFromEnvironment,
} from '#adapters/aws-environment.ts';
import { edge } from '#compose/edge.ts';
import { composeFinalizer } from '#compose/finalizer.ts';
import { createFinalizer, FINALIZER_INPUT } from '#handlers/finalizer.ts';

// Ends the jobs whose workflow execution was stopped, failed or timed out, and stops the runs the
// workflow's StopRun step names. It is invoked two ways, and only the table serves both:
// - an execution that ended (a cancel stopped it, or it failed or timed out): the job is ended,
//   which gives its lease back, wakes the pool's admission (SQS) and notifies (Lambda);
// - the workflow's StopTimedOutRun and StopRun, after a run's state timeout: the run is stopped
//   (EMR), and nothing is woken or notified.
// So at init: DynamoDB. On first use: SQS and Lambda, once the container first ends a job, and
// EMR Serverless or EMR on EKS, the backend of a run that may still be going. Never: Step
// Functions, S3.
const wiring = storeWiringFromEnvironment();

export const handler = edge(
  FINALIZER_INPUT,
  createFinalizer({
    ...wiring,
    ...composeFinalizer({
      ...wiring,
      intake: intakeOnFirstUse(),
      notifier: notifierOnFirstUse(),
      runs: emrRunControlOnFirstUse(),
    }),
  }),
);
