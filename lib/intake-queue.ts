import { Duration } from 'aws-cdk-lib';
import type { Metric, MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type LibraAlarms, libraAlarms, METRIC_PERIOD } from './libra-metrics.ts';

/** A message that fails admission this many times is kept aside instead of retried forever. */
const MAX_RECEIVE_COUNT = 5;

/**
 * How long the admission function may take on one batch (lib/admission-functions.ts uses it as the
 * function's timeout).
 */
export const ADMISSION_TIMEOUT = Duration.seconds(60);

/**
 * AWS's advice for a queue that feeds a Lambda function: a visibility timeout of six times the
 * function's timeout, so that a batch still being worked on, or retried by the event source
 * mapping after throttling, is not handed out a second time.
 */
export const INTAKE_VISIBILITY_TIMEOUT = Duration.seconds(ADMISSION_TIMEOUT.toSeconds() * 6);

/**
 * The admission intake (DESIGN §1): submit sends `{ kind, pool, jobId }` here after writing the
 * job, and the workflow sends a wake after each release; the admission function consumes it.
 * Its alarm: a message in the dead-letter queue.
 */
export class IntakeQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly alarms: LibraAlarms;

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
      visibilityTimeout: INTAKE_VISIBILITY_TIMEOUT,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    this.alarms = libraAlarms(this, {
      DeadLetters: {
        metric: this.metricDeadLetters(),
        threshold: 1,
        description: 'an intake message failed admission five times and waits in the dead-letter queue',
      },
    });
  }

  /** Messages waiting in the dead-letter queue: intake messages admission failed on five times. */
  metricDeadLetters(options?: MetricOptions): Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: METRIC_PERIOD,
      ...options,
    });
  }

  /** Lets `fn` send messages, and nothing else, and tells it the queue URL. */
  grantSend(fn: LambdaFunction): void {
    this.queue.grant(fn, 'sqs:SendMessage');
    fn.addEnvironment('INTAKE_QUEUE_URL', this.queue.queueUrl);
  }
}
