import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { IntakeQueue } from '../../lib/intake-queue.ts';
import { getAtt, libraStack, logicalId, propertiesOf, testApp } from './app.ts';

describe('IntakeQueue', () => {
  const stack = libraStack();
  const template = Template.fromStack(stack);
  const queue = logicalId(stack, stack.libra.intake.queue);
  const deadLetterQueue = logicalId(stack, stack.libra.intake.deadLetterQueue);

  it('is encrypted and moves a message that keeps failing to a dead-letter queue kept 14 days', () => {
    expect(template.findResources('AWS::SQS::Queue')[queue]?.Properties).toEqual({
      SqsManagedSseEnabled: true,
      // Six times the admission function's 60 s timeout, as AWS advises for a Lambda event source.
      VisibilityTimeout: 360,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterQueue, 'Arn'] },
        maxReceiveCount: 5,
      },
    });
    expect(template.findResources('AWS::SQS::Queue')[deadLetterQueue]?.Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 60 * 60,
    });
  });

  it('refuses requests without TLS on both queues', () => {
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy'));
    const protectedQueues = policies.flatMap((policy) => policy.Properties.Queues).map((ref) => ref.Ref);
    expect(protectedQueues.sort()).toEqual([queue, deadLetterQueue].sort());
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sqs:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Principal: { AWS: '*' },
        }),
      );
    }
  });

  it('builds its own dead-letter alarm, which has no action until Observability adds its topic', () => {
    const alone = new Stack(testApp(), 'Alone');
    const intake = new IntakeQueue(alone, 'Intake');
    const alarm = intake.alarms.DeadLetters ?? alone;

    expect(Object.keys(intake.alarms)).toEqual(['DeadLetters']);
    expect(propertiesOf(Template.fromStack(alone), alone, alarm)).toEqual({
      AlarmDescription:
        'Libra: an intake message failed admission five times and waits in the dead-letter queue',
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(alone, intake.deadLetterQueue, 'QueueName') }],
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });
});
