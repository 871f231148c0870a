import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '#core/config.ts';
import {
  allowedPermissions,
  CDK_JSON_CONTEXT,
  environmentOf,
  getAtt,
  libraStack,
  logicalId,
  permission,
  propertiesOf,
  ref,
  roleOf,
} from './app.ts';

const stack = libraStack();
const template = Template.fromStack(stack);
const { admission, tick, tickRule } = stack.libra.admission;
const queueArn = getAtt(stack, stack.libra.intake.queue, 'Arn');

describe('AdmissionFunctions', () => {
  it('consumes the intake queue ten messages at a time, reporting partial batch failures, two at once at most', () => {
    expect(Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))).toEqual([
      expect.objectContaining({
        Properties: {
          EventSourceArn: queueArn,
          FunctionName: ref(stack, admission),
          BatchSize: 10,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: 2 },
        },
      }),
    ]);
  });

  it('has a timeout the intake visibility timeout is six times, and a dead-letter queue after five receives', () => {
    const queue = propertiesOf(template, stack, stack.libra.intake.queue);

    expect(propertiesOf(template, stack, admission)).toMatchObject({ Timeout: 60 });
    expect(queue.VisibilityTimeout).toBe(6 * 60);
    expect(queue.RedrivePolicy.maxReceiveCount).toBeGreaterThan(1);
  });

  it('ticks every minute: an EventBridge schedule invokes the tick function', () => {
    expect(propertiesOf(template, stack, tickRule)).toEqual({
      Description: expect.any(String),
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [{ Arn: getAtt(stack, tick, 'Arn'), Id: 'Target0' }],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: getAtt(stack, tick, 'Arn'),
      Principal: 'events.amazonaws.com',
      SourceArn: getAtt(stack, tickRule, 'Arn'),
    });
  });

  it.each([
    ['admission', admission],
    ['tick', tick],
  ])('tells %s the table, state machine, bucket, where each pool runs, and what ends jobs', (_, fn) => {
    const variables = environmentOf(template, stack, fn);

    expect(variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'libra',
      LIBRA_CONFIG: expect.any(String),
      TABLE_NAME: ref(stack, stack.libra.jobStore.table),
      STATE_MACHINE_ARN: stack.resolve(stack.libra.workflow.stateMachineArn),
      ARTIFACTS_BUCKET: ref(stack, stack.libra.artifacts.bucket),
      LIBRA_BACKENDS: stack.resolve(stack.toJsonString(stack.libra.backends.targets)),
      // Both end jobs: admission a job whose start is refused for good, the tick what it reconciles.
      INTAKE_QUEUE_URL: ref(stack, stack.libra.intake.queue),
      NOTIFIER_FUNCTION_NAME: ref(stack, stack.libra.notifier.function),
    });
    expect(parseConfig(JSON.parse(String(variables.LIBRA_CONFIG)))).toEqual(
      parseConfig(CDK_JSON_CONTEXT.libra),
    );
  });

  it.each([
    ['admission', admission],
    ['tick', tick],
  ])(
    'lets %s do what admitting (and, for the tick, reconciling) needs, on exactly those resources',
    (name, fn) => {
      const tableArn = getAtt(stack, stack.libra.jobStore.table, 'Arn');
      const index = (indexName: string) => ({ 'Fn::Join': ['', [tableArn, `/index/${indexName}`]] });
      const executions = stack.resolve(stack.libra.workflow.executionArnPattern);
      const application = stack.libra.backends.createdApplications[0] ?? stack;
      const logs = getAtt(stack, fn.node.scope?.node.findChild('Logs') ?? fn, 'Arn');
      const consume = [
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
      ];
      // The reconciler: how executions stand, a cancelled job's history, cancelling runs, waking,
      // notifying; the duration warnings: the due ones in their index.
      const reconcile = [
        permission('dynamodb:Query', tableArn),
        permission('dynamodb:Query', index('warnings')),
        permission('states:DescribeExecution', executions),
        permission('sqs:SendMessage', queueArn),
        permission('emr-serverless:CancelJobRun', {
          'Fn::Join': ['', [getAtt(stack, application, 'Arn'), '/jobruns/*']],
        }),
        permission('lambda:InvokeFunction', getAtt(stack, stack.libra.notifier.function, 'Arn')),
      ];

      expect(allowedPermissions(template, roleOf(stack, fn))).toEqual(
        [
          permission('dynamodb:GetItem', tableArn),
          permission('dynamodb:Query', index('waiting')),
          permission('dynamodb:PutItem', tableArn),
          permission('dynamodb:UpdateItem', tableArn),
          // Only the event source mapping reads the queue, on admission's behalf; admission wakes
          // the pool and notifies when it ends a job whose start was refused for good.
          ...(name === 'admission'
            ? [
                ...consume.map((action) => permission(action, queueArn)),
                permission('sqs:SendMessage', queueArn),
                permission('lambda:InvokeFunction', getAtt(stack, stack.libra.notifier.function, 'Arn')),
              ]
            : reconcile),
          permission('states:StartExecution', stack.resolve(stack.libra.workflow.stateMachineArn)),
          permission('s3:PutObject', {
            'Fn::Join': ['', [getAtt(stack, stack.libra.artifacts.bucket, 'Arn'), '/jobs/*']],
          }),
          permission('logs:CreateLogStream', logs),
          permission('logs:PutLogEvents', logs),
          permission('xray:PutTelemetryRecords', '*'),
          permission('xray:PutTraceSegments', '*'),
        ].sort(),
      );
    },
  );

  it('starts only once the state machine exists', () => {
    const machine = logicalId(stack, stack.libra.workflow.stateMachine);
    for (const fn of [admission, tick]) {
      expect(template.toJSON().Resources[logicalId(stack, fn)].DependsOn).toContain(machine);
    }
  });
});
