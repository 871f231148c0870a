import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  allowedPermissions,
  environmentOf,
  getAtt,
  libraStack,
  permission,
  propertiesOf,
  ref,
  roleOf,
} from './app.ts';

const stack = libraStack();
const template = Template.fromStack(stack);
const recorder = stack.libra.runRecorder;
const application = stack.libra.backends.createdApplications[0];
if (!application) throw new Error('the cdk.json configuration creates an application');

describe('RunRecorderFunction', () => {
  it('hears the job-run state changes of the applications Libra runs on, and nothing else', () => {
    expect(propertiesOf(template, stack, recorder.serverlessRule ?? recorder)).toEqual({
      Description: expect.any(String),
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.emr-serverless'],
        'detail-type': ['EMR Serverless Job Run State Change'],
        detail: { applicationId: [getAtt(stack, application, 'ApplicationId')] },
      },
      Targets: [{ Arn: getAtt(stack, recorder.function, 'Arn'), Id: 'Target0' }],
    });
    // No EMR on EKS pool, no rule for it.
    expect(recorder.eksRule).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: getAtt(stack, recorder.function, 'Arn'),
      Principal: 'events.amazonaws.com',
      SourceArn: getAtt(stack, recorder.serverlessRule ?? recorder, 'Arn'),
    });
  });

  it('hears EMR on EKS job-run state changes of the configured virtual clusters only', () => {
    const eks = libraStack({
      config: {
        pools: {
          k8s: {
            backends: {
              eks: {
                virtualClusterId: 'vc0123456789',
                executionRoleArn: 'arn:aws:iam::123456789012:role/eks',
              },
            },
          },
        },
      },
    });
    const eksTemplate = Template.fromStack(eks);

    expect(propertiesOf(eksTemplate, eks, eks.libra.runRecorder.eksRule ?? eks).EventPattern).toEqual({
      source: ['aws.emr-containers'],
      'detail-type': ['EMR Job Run State Change'],
      detail: { virtualClusterId: ['vc0123456789'] },
    });
  });

  it('is told the table and the bucket its log links point into, and not the queue it never sends to', () => {
    expect(environmentOf(template, stack, recorder.function)).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'libra',
      LIBRA_CONFIG: expect.any(String),
      TABLE_NAME: ref(stack, stack.libra.jobStore.table),
      ARTIFACTS_BUCKET: ref(stack, stack.libra.artifacts.bucket),
    });
  });

  it('updates jobs and reads them back, creates nothing, and reads runs of Libra applications only', () => {
    const tableArn = getAtt(stack, stack.libra.jobStore.table, 'Arn');
    const logs = getAtt(stack, recorder.function.node.scope?.node.findChild('Logs') ?? recorder, 'Arn');

    expect(allowedPermissions(template, roleOf(stack, recorder.function))).toEqual(
      [
        permission('dynamodb:GetItem', tableArn),
        // When an ended run started: the job's history items.
        permission('dynamodb:Query', tableArn),
        permission('dynamodb:UpdateItem', tableArn),
        permission('emr-serverless:GetJobRun', {
          'Fn::Join': ['', [getAtt(stack, application, 'Arn'), '/jobruns/*']],
        }),
        permission('logs:CreateLogStream', logs),
        permission('logs:PutLogEvents', logs),
        permission('xray:PutTelemetryRecords', '*'),
        permission('xray:PutTraceSegments', '*'),
      ].sort(),
    );
  });
});
