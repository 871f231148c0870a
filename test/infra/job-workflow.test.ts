import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '#core/config.ts';
import { TASK_INTEGRATIONS, tasksOf } from '../../lib/job-workflow.ts';
import type { LibraConfigInput } from '../../lib/libra-props.ts';
import { JOB_WORKFLOW_PLACEHOLDERS, readJobWorkflow } from '../../state-machines/job-workflow.ts';
import {
  allowedPermissions,
  allStatements,
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

const EKS_ROLE = 'arn:aws:iam::123456789012:role/eks-jobs';
const SHARED_ROLE = 'arn:aws:iam::123456789012:role/shared-jobs';
const MIXED: LibraConfigInput = {
  pools: {
    shared: {
      backends: { emrServerless: { applicationId: '00fexisting', executionRoleArn: SHARED_ROLE } },
    },
    k8s: { backends: { eks: { virtualClusterId: 'vc0123456789', executionRoleArn: EKS_ROLE } } },
  },
};

const stack = libraStack();
const template = Template.fromStack(stack);
const workflow = stack.libra.workflow;
const stateMachine = propertiesOf(template, stack, workflow.stateMachine);
const application = stack.libra.backends.createdApplications[0];
if (!application) throw new Error('the cdk.json configuration creates an EMR Serverless application');
const applicationArn = getAtt(stack, application, 'Arn');
const jobRuns = { 'Fn::Join': ['', [applicationArn, '/jobruns/*']] };
const pseudoArn = (service: string, resource: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      `:${service}:`,
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:${resource}`,
    ],
  ],
});

describe('JobWorkflow state machine', () => {
  it('is a Standard state machine with a fixed name, logging everything to its own vended-logs group, traced', () => {
    expect(stateMachine).toMatchObject({
      StateMachineName: workflow.stateMachineName,
      StateMachineType: 'STANDARD',
      RoleArn: getAtt(stack, workflow.role, 'Arn'),
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: getAtt(stack, workflow.logGroup, 'Arn') } }],
      },
    });
    expect(propertiesOf(template, stack, workflow.logGroup)).toEqual({
      LogGroupName: `/aws/vendedlogs/states/${workflow.stateMachineName}`,
      RetentionInDays: 90,
    });
    expect(stack.resolve(workflow.stateMachineArn)).toEqual(
      pseudoArn('states', `stateMachine:${workflow.stateMachineName}`),
    );
  });

  it('is state-machines/job.asl.json, with every placeholder filled from JOB_WORKFLOW_PLACEHOLDERS', () => {
    expect(JSON.parse(stateMachine.DefinitionString)).toEqual(JSON.parse(readJobWorkflow()));
    expect(Object.keys(stateMachine.DefinitionSubstitutions).sort()).toEqual(
      [...JOB_WORKFLOW_PLACEHOLDERS].sort(),
    );
    expect(stateMachine.DefinitionSubstitutions).toEqual({
      JobTableName: ref(stack, stack.libra.jobStore.table),
      IntakeQueueUrl: ref(stack, stack.libra.intake.queue),
      NotifierFunctionArn: getAtt(stack, stack.libra.notifier.function, 'Arn'),
      FinalizerFunctionArn: getAtt(stack, workflow.finalizer, 'Arn'),
    });
  });

  it('after substitution names only resources of the stack, and Step Functions integrations', () => {
    // Fill each placeholder with its substitution as the template has it, then walk the definition.
    const substitutions = stateMachine.DefinitionSubstitutions as Record<string, unknown>;
    const filled = JSON.parse(stateMachine.DefinitionString, (_, value) => {
      if (typeof value !== 'string') return value;
      const placeholder = /^\$\{(\w+)\}$/.exec(value)?.[1];
      if (placeholder === undefined) return value;
      expect(substitutions, placeholder).toHaveProperty(placeholder);
      return substitutions[placeholder];
    });
    const resources = template.toJSON().Resources as Record<string, { Type: string }>;
    const named: { key: string; value: unknown }[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) for (const item of node) walk(item);
      else if (typeof node === 'object' && node !== null) {
        for (const [key, value] of Object.entries(node)) {
          if (/^(Resource|FunctionName|QueueUrl|TableName)(\.\$)?$/.test(key)) named.push({ key, value });
          else walk(value);
        }
      }
    };
    walk(filled);

    expect(named.length).toBeGreaterThan(20);
    const typeOf = (value: unknown): string | undefined => {
      const id = (value as { Ref?: string }).Ref ?? (value as { 'Fn::GetAtt'?: [string] })['Fn::GetAtt']?.[0];
      return id === undefined ? undefined : resources[id]?.Type;
    };
    for (const { key, value } of named) {
      switch (key) {
        case 'Resource':
          expect(Object.keys(TASK_INTEGRATIONS)).toContain(value);
          break;
        case 'TableName':
          expect(value).toEqual(ref(stack, stack.libra.jobStore.table));
          break;
        case 'QueueUrl':
          expect(value).toEqual(ref(stack, stack.libra.intake.queue));
          break;
        case 'FunctionName':
          expect(typeOf(value)).toBe('AWS::Lambda::Function');
          expect([
            getAtt(stack, stack.libra.notifier.function, 'Arn'),
            getAtt(stack, workflow.finalizer, 'Arn'),
          ]).toContainEqual(value);
          break;
        default:
          // A resource chosen from the execution input could be anything: none may be.
          throw new Error(`${key} is taken from the input: ${JSON.stringify(value)}`);
      }
    }
    // Nor is any ARN, account or region written into it.
    expect(stateMachine.DefinitionString.replaceAll('arn:aws:states:::', '')).not.toMatch(/arn:aws|\d{12}/);
  });

  it('knows every task resource the ASL uses, and each names its resource through a placeholder', () => {
    const tasks = tasksOf(JSON.parse(readJobWorkflow()));

    expect(new Set(tasks.map((task) => task.resource))).toEqual(new Set(Object.keys(TASK_INTEGRATIONS)));
    for (const task of tasks) {
      const integration = TASK_INTEGRATIONS[task.resource];
      if (integration?.kind === 'spark') expect(task.placeholder, task.state).toBeUndefined();
      else expect(integration?.placeholder, task.state).toContain(task.placeholder);
    }
  });
});

describe('JobWorkflow role', () => {
  const role = logicalId(stack, workflow.role);

  it('is assumed by Step Functions for this account only', () => {
    expect(propertiesOf(template, stack, workflow.role).AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'states.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
  });

  it('allows each task exactly its call on exactly its resource, and "*" only for log delivery and X-Ray', () => {
    const syncRule = pseudoArn('events', 'rule/StepFunctionsGetEventsForEMRServerlessJobRule');
    const tableArn = getAtt(stack, stack.libra.jobStore.table, 'Arn');

    expect(allowedPermissions(template, role)).toEqual(
      [
        // MarkRunning, MarkSucceeded, … (updateItem); RecordRunning, RecordFinal, … (putItem)
        permission('dynamodb:PutItem', tableArn),
        permission('dynamodb:UpdateItem', tableArn),
        // Wake
        permission('sqs:SendMessage', getAtt(stack, stack.libra.intake.queue, 'Arn')),
        // Notify* and StopRun / StopTimedOutRun
        permission('lambda:InvokeFunction', getAtt(stack, stack.libra.notifier.function, 'Arn')),
        permission('lambda:InvokeFunction', getAtt(stack, workflow.finalizer, 'Arn')),
        // RunOnEmrServerless (.sync)
        permission('emr-serverless:StartJobRun', applicationArn),
        permission('emr-serverless:GetJobRun', jobRuns),
        permission('emr-serverless:CancelJobRun', jobRuns),
        permission('emr-serverless:TagResource', jobRuns),
        permission('events:PutTargets', syncRule),
        permission('events:PutRule', syncRule),
        permission('events:DescribeRule', syncRule),
        permission('iam:PassRole', getAtt(stack, stack.libra.backends.executionRole ?? stack, 'Arn')),
        // Execution logs (vended log delivery) and traces: no resource-level permissions exist.
        ...[
          'logs:CreateLogDelivery',
          'logs:DeleteLogDelivery',
          'logs:DescribeLogGroups',
          'logs:DescribeResourcePolicies',
          'logs:GetLogDelivery',
          'logs:ListLogDeliveries',
          'logs:PutResourcePolicy',
          'logs:UpdateLogDelivery',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
          'xray:PutTelemetryRecords',
          'xray:PutTraceSegments',
        ].map((action) => permission(action, '*')),
      ].sort(),
    );
  });

  it('passes only the execution roles, and only to EMR Serverless', () => {
    const passRole = allStatements(template).filter((statement) => statement.Action.includes('iam:PassRole'));

    expect(passRole).toEqual([
      {
        roles: [role],
        Effect: 'Allow',
        Action: ['iam:PassRole'],
        Resource: [getAtt(stack, stack.libra.backends.executionRole ?? stack, 'Arn')],
        Condition: { StringEquals: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' } },
      },
    ]);
  });

  it('with configured backends, runs on exactly those applications, clusters and roles', () => {
    const mixed = libraStack({ config: MIXED });
    const mixedTemplate = Template.fromStack(mixed);
    const mixedRole = logicalId(mixed, mixed.libra.workflow.role);
    const created = mixed.libra.backends.createdApplications[0];
    const createdRole = mixed.libra.backends.executionRole;
    if (!created || !createdRole)
      throw new Error('the default pool still gets a created application and role');
    const existing = pseudoArn('emr-serverless', '/applications/00fexisting');
    const cluster = pseudoArn('emr-containers', '/virtualclusters/vc0123456789');
    const createdRuns = { 'Fn::Join': ['', [getAtt(mixed, created, 'Arn'), '/jobruns/*']] };
    const statements = allStatements(mixedTemplate).filter((statement) =>
      statement.roles.includes(mixedRole),
    );
    const statementFor = (action: string) =>
      statements
        .filter((statement) => statement.Action.includes(action))
        .map(({ roles: _, ...rest }) => rest);

    expect(statementFor('emr-serverless:StartJobRun')).toEqual([
      expect.objectContaining({ Resource: [getAtt(mixed, created, 'Arn'), existing] }),
    ]);
    expect(statementFor('iam:PassRole')).toEqual([
      {
        Effect: 'Allow',
        Action: ['iam:PassRole'],
        Resource: [SHARED_ROLE, getAtt(mixed, createdRole, 'Arn')],
        Condition: { StringEquals: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' } },
      },
    ]);
    // EMR on EKS takes no PassRole: the run's role is bound by a condition of StartJobRun instead.
    expect(statementFor('emr-containers:StartJobRun')).toEqual([
      {
        Effect: 'Allow',
        Action: ['emr-containers:StartJobRun'],
        Resource: [cluster],
        Condition: { StringEquals: { 'emr-containers:ExecutionRoleArn': [EKS_ROLE] } },
      },
    ]);
    expect(statementFor('emr-containers:DescribeJobRun')).toEqual([
      {
        Effect: 'Allow',
        Action: ['emr-containers:CancelJobRun', 'emr-containers:DescribeJobRun'],
        Resource: [pseudoArn('emr-containers', '/virtualclusters/vc0123456789/jobruns/*')],
      },
    ]);
    expect(
      allowedPermissions(mixedTemplate, mixedRole).filter((line) =>
        line.startsWith('emr-serverless:GetJobRun'),
      ),
    ).toEqual(
      [
        permission('emr-serverless:GetJobRun', createdRuns),
        permission(
          'emr-serverless:GetJobRun',
          pseudoArn('emr-serverless', '/applications/00fexisting/jobruns/*'),
        ),
      ].sort(),
    );
  });
});

describe('JobWorkflow finalizer', () => {
  const finalizer = workflow.finalizer;

  it('is told the state machine by name, the table, the queue and the notifier', () => {
    const variables = environmentOf(template, stack, finalizer);

    expect(variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'libra',
      LIBRA_CONFIG: expect.any(String),
      // Built from the name: the state machine invokes the finalizer, so a Ref would be a cycle.
      STATE_MACHINE_ARN: pseudoArn('states', `stateMachine:${workflow.stateMachineName}`),
      TABLE_NAME: ref(stack, stack.libra.jobStore.table),
      INTAKE_QUEUE_URL: ref(stack, stack.libra.intake.queue),
      NOTIFIER_FUNCTION_NAME: ref(stack, stack.libra.notifier.function),
    });
    expect(parseConfig(JSON.parse(String(variables.LIBRA_CONFIG)))).toEqual(
      parseConfig(CDK_JSON_CONTEXT.libra),
    );
    expect(propertiesOf(template, stack, finalizer)).toMatchObject({ Timeout: 30, MemorySize: 512 });
  });

  it('may end jobs (reading their history, no index), wake the pool, cancel Libra runs and invoke the notifier, and nothing else', () => {
    const tableArn = getAtt(stack, stack.libra.jobStore.table, 'Arn');
    const logs = getAtt(stack, finalizer.node.scope?.node.findChild('Logs') ?? finalizer, 'Arn');

    expect(allowedPermissions(template, roleOf(stack, finalizer))).toEqual(
      [
        permission('dynamodb:GetItem', tableArn),
        permission('dynamodb:Query', tableArn),
        permission('dynamodb:PutItem', tableArn),
        permission('dynamodb:UpdateItem', tableArn),
        permission('sqs:SendMessage', getAtt(stack, stack.libra.intake.queue, 'Arn')),
        permission('emr-serverless:CancelJobRun', jobRuns),
        permission('lambda:InvokeFunction', getAtt(stack, stack.libra.notifier.function, 'Arn')),
        permission('logs:CreateLogStream', logs),
        permission('logs:PutLogEvents', logs),
        permission('xray:PutTelemetryRecords', '*'),
        permission('xray:PutTraceSegments', '*'),
      ].sort(),
    );
  });

  it('runs on every execution of the job state machine that ends ABORTED, FAILED or TIMED_OUT', () => {
    expect(propertiesOf(template, stack, workflow.finalizerRule)).toEqual({
      Description: expect.any(String),
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['ABORTED', 'FAILED', 'TIMED_OUT'],
          stateMachineArn: [pseudoArn('states', `stateMachine:${workflow.stateMachineName}`)],
        },
      },
      Targets: [{ Arn: getAtt(stack, finalizer, 'Arn'), Id: 'Target0' }],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: getAtt(stack, finalizer, 'Arn'),
      Principal: 'events.amazonaws.com',
      SourceArn: getAtt(stack, workflow.finalizerRule, 'Arn'),
    });
  });
});
