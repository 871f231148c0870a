import { Template } from 'aws-cdk-lib/assertions';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { describe, expect, it } from 'vitest';
import type { LibraConfigInput } from '../../lib/libra-props.ts';
import {
  allStatements,
  CONFIGURED_BACKEND_POOLS,
  getAtt,
  libraStack,
  logicalId,
  propertiesOf,
} from './app.ts';

/** The calls that support no resource-level permissions, so that AWS requires Resource "*". */
const STAR_ONLY = new Set([
  // X-Ray, for every traced function and the state machine.
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  // CloudWatch Logs vended delivery, for the state machine's execution logs.
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
]);

const CONFIGURATIONS: [string, LibraConfigInput | undefined][] = [
  ['the cdk.json configuration', undefined],
  [
    'configured applications, roles and an EMR on EKS pool',
    {
      pools: {
        ...CONFIGURED_BACKEND_POOLS,
      },
    },
  ],
];

describe.each(CONFIGURATIONS)('permissions with %s', (_, config) => {
  const stack = libraStack(config ? { config } : {});
  const template = Template.fromStack(stack);
  const statements = allStatements(template).filter((statement) => statement.Effect === 'Allow');

  it('use Resource "*" only for calls that have no resource-level permissions', () => {
    const starred = statements.filter((statement) => statement.Resource.includes('*'));

    expect(starred.length).toBeGreaterThan(0);
    for (const statement of starred) {
      expect(statement.Action.filter((action) => !STAR_ONLY.has(action))).toEqual([]);
    }
  });

  it('use wildcard actions only in the statements aws-cdk-lib writes for BucketDeployment', () => {
    const deploymentRole = logicalId(stack, stack.libra.artifacts.runnersDeployment.handlerRole);

    for (const statement of statements.filter((s) => s.Action.some((action) => action.includes('*')))) {
      expect(statement.roles).toEqual([deploymentRole]);
    }
  });

  it('pass roles only to EMR Serverless, only the execution roles, and only from the workflow', () => {
    const passing = statements.filter((statement) =>
      statement.Action.some((action) => action === 'iam:PassRole' || action === 'iam:*'),
    );
    const executionRoles = stack.libra.backends.serverlessExecutionRoleArns.map((arn) => stack.resolve(arn));

    expect(passing).toHaveLength(1);
    expect(passing[0]).toEqual({
      roles: [logicalId(stack, stack.libra.workflow.role)],
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: expect.arrayContaining(executionRoles),
      Condition: { StringEquals: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' } },
    });
    expect(passing[0]?.Resource).toHaveLength(executionRoles.length);
  });

  it('run every Libra function on Node.js 24, arm64, traced, logging JSON to a log group of its own', () => {
    const functions = stack.node.findAll().filter((child) => child instanceof NodejsFunction);
    const logGroups = new Set<string>();

    expect(functions).toHaveLength(16);
    for (const fn of functions) {
      const properties = propertiesOf(template, stack, fn);
      expect(properties, fn.node.path).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON' },
        Role: getAtt(stack, fn.role ?? fn, 'Arn'),
      });
      logGroups.add(JSON.stringify(properties.LoggingConfig.LogGroup));
    }
    expect(logGroups.size).toBe(functions.length);
  });
});
