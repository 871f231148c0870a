import { Duration } from 'aws-cdk-lib';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** A message that fails admission this many times is kept aside instead of retried forever. */
const MAX_RECEIVE_COUNT = 5;

/**
 * The admission intake (DESIGN §1): submit sends `{ jobId, pool }` here after writing the job.
 * Nothing consumes it yet; the admission Lambda and its event source mapping come with issue 3,
 * and until then a submitted job stays QUEUED.
 */
export class IntakeQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows: time to find out why admission kept failing.
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
  }

  /** Lets `fn` send messages, and nothing else, and tells it the queue URL. */
  grantSend(fn: LambdaFunction): void {
    this.queue.grant(fn, 'sqs:SendMessage');
    this.shareUrl(fn);
  }

  /**
   * Tells `fn` the queue URL without letting it send: the API wiring
   * (lambdas/adapters/compose.ts) requires INTAKE_QUEUE_URL at init on every route.
   */
  shareUrl(fn: LambdaFunction): void {
    fn.addEnvironment('INTAKE_QUEUE_URL', this.queue.queueUrl);
  }
}
