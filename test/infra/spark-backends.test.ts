import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { LibraConfigInput } from '../../lib/libra-props.ts';
import {
  allowedPermissions,
  allStatements,
  environmentOf,
  getAtt,
  libraStack,
  logicalId,
  permission,
  propertiesOf,
} from './app.ts';
import { ACCOUNT, roleDecider } from './iam-decide.ts';

const SHARED_ROLE = 'arn:aws:iam::123456789012:role/shared-jobs';
const EKS_ROLE = 'arn:aws:iam::123456789012:role/eks-jobs';

const stack = libraStack();
const template = Template.fromStack(stack);
const backends = stack.libra.backends;

/** LIBRA_BACKENDS as the admission function will read it, with each reference written `<id.Attribute>`. */
function deployedTargets(variables: Record<string, unknown>): unknown {
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const intrinsic = value as Record<string, unknown>;
    if ('Fn::Join' in intrinsic)
      return (intrinsic['Fn::Join'] as [string, unknown[]])[1].map(render).join('');
    if ('Fn::GetAtt' in intrinsic) return `<${(intrinsic['Fn::GetAtt'] as string[]).join('.')}>`;
    return `<${String(intrinsic.Ref)}>`;
  };
  return JSON.parse(render(variables.LIBRA_BACKENDS));
}

describe('SparkBackends with the cdk.json configuration', () => {
  const application = backends.createdApplications[0];
  if (!application) throw new Error('the default pool gets a created application');
  const role = backends.executionRole;
  if (!role) throw new Error('the default pool gets a created execution role');

  it('creates one Spark application sized to the pool, stopping when idle, without interactive endpoints', () => {
    template.resourceCountIs('AWS::EMRServerless::Application', 1);
    expect(propertiesOf(template, stack, application)).toEqual({
      Name: 'libra-emr-7.5.0',
      Type: 'SPARK',
      ReleaseLabel: 'emr-7.5.0',
      Architecture: 'X86_64',
      // The default pool's 16 cores and 64 GB: admission never leases more.
      MaximumCapacity: { Cpu: '16 vCPU', Memory: '64 GB' },
      AutoStartConfiguration: { Enabled: true },
      AutoStopConfiguration: { Enabled: true, IdleTimeoutMinutes: 15 },
      InteractiveConfiguration: { StudioEnabled: false, LivyEndpointEnabled: false },
      Tags: [{ Key: 'libra:pools', Value: 'default' }],
    });
  });

  it('creates a job execution role only EMR Serverless may assume, for its application in this account', () => {
    expect(propertiesOf(template, stack, role).AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'emr-serverless.amazonaws.com' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: { 'aws:SourceArn': [getAtt(stack, application, 'Arn')] },
        },
      },
    ]);
    expect(propertiesOf(template, stack, role).ManagedPolicyArns).toBeUndefined();
  });

  it('lets a run read the runners and its code, write its logs, list only those prefixes, and use the default database', () => {
    const bucket = getAtt(stack, stack.libra.artifacts.bucket, 'Arn');
    const objects = (prefix: string) => ({ 'Fn::Join': ['', [bucket, `/${prefix}*`]] });
    const glue = (resource: string) => ({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':glue:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          `:${resource}`,
        ],
      ],
    });

    expect(allowedPermissions(template, logicalId(stack, role))).toEqual(
      [
        permission('s3:GetObject', objects('runners/')),
        permission('s3:GetObject', objects('jobs/')),
        permission('s3:PutObject', objects('logs/')),
        permission('s3:ListBucket', bucket),
        // Reporting progress: conditioned to the progress attribute of job records (progress-grant.test.ts).
        permission('dynamodb:UpdateItem', getAtt(stack, stack.libra.jobStore.table, 'Arn')),
        ...['glue:GetDatabase', 'glue:CreateDatabase'].flatMap((action) => [
          permission(action, glue('catalog')),
          permission(action, glue('database/default')),
        ]),
      ].sort(),
    );
    expect(
      allStatements(template).filter(
        (statement) =>
          statement.roles.includes(logicalId(stack, role)) && statement.Action.includes('s3:ListBucket'),
      ),
    ).toEqual([
      {
        roles: [logicalId(stack, role)],
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [bucket],
        Condition: { StringLike: { 's3:prefix': ['runners/*', 'jobs/*', 'logs/*'] } },
      },
    ]);
  });

  it('tells admission the application and role of each pool', () => {
    const variables = environmentOf(template, stack, stack.libra.admission.admission);

    expect(deployedTargets(variables)).toEqual({
      default: {
        emrServerless: {
          applicationId: `<${logicalId(stack, application)}.ApplicationId>`,
          executionRoleArn: `<${logicalId(stack, role)}.Arn>`,
        },
      },
    });
  });
});

describe('SparkBackends with pools of their own', () => {
  const config: LibraConfigInput = {
    pools: {
      default: { cpuCores: 8, memoryGb: 32 },
      etl: { cpuCores: 32, memoryGb: 128, backends: { emrServerless: { releaseLabel: 'emr-7.2.0' } } },
      adhoc: { cpuCores: 4.5, memoryGb: 20.5 },
      shared: {
        backends: { emrServerless: { applicationId: '00fexisting', executionRoleArn: SHARED_ROLE } },
      },
      k8s: {
        backends: { eks: { virtualClusterId: 'vc0123456789', executionRoleArn: EKS_ROLE } },
      },
    },
  };
  const own = libraStack({ config, sparkBackends: { architecture: 'ARM64', idleTimeoutMinutes: 5 } });
  const ownTemplate = Template.fromStack(own);
  const applications = Object.values(ownTemplate.findResources('AWS::EMRServerless::Application')).map(
    (resource) => resource.Properties,
  );

  it('creates one application per release label, sized to the sum of the pools it serves', () => {
    expect(applications).toEqual([
      expect.objectContaining({
        ReleaseLabel: 'emr-7.5.0',
        Architecture: 'ARM64',
        // default and adhoc: 8 + 4.5 cores, 32 + 20.5 GB, rounded up to what EMR accepts.
        MaximumCapacity: { Cpu: '13 vCPU', Memory: '53 GB' },
        AutoStopConfiguration: { Enabled: true, IdleTimeoutMinutes: 5 },
        Tags: [{ Key: 'libra:pools', Value: 'default adhoc' }],
      }),
      expect.objectContaining({
        ReleaseLabel: 'emr-7.2.0',
        MaximumCapacity: { Cpu: '32 vCPU', Memory: '128 GB' },
        Tags: [{ Key: 'libra:pools', Value: 'etl' }],
      }),
    ]);
  });

  it('uses the configured application and roles as given, and creates one role for the rest', () => {
    const [created75, created72] = own.libra.backends.createdApplications;
    const role = own.libra.backends.executionRole;
    if (!created75 || !created72 || !role) throw new Error('two applications and a role are created');
    const createdRole = `<${logicalId(own, role)}.Arn>`;

    expect(deployedTargets(environmentOf(ownTemplate, own, own.libra.admission.tick))).toEqual({
      default: {
        emrServerless: {
          applicationId: `<${logicalId(own, created75)}.ApplicationId>`,
          executionRoleArn: createdRole,
        },
      },
      etl: {
        emrServerless: {
          applicationId: `<${logicalId(own, created72)}.ApplicationId>`,
          executionRoleArn: createdRole,
        },
      },
      adhoc: {
        emrServerless: {
          applicationId: `<${logicalId(own, created75)}.ApplicationId>`,
          executionRoleArn: createdRole,
        },
      },
      shared: { emrServerless: { applicationId: '00fexisting', executionRoleArn: SHARED_ROLE } },
      k8s: {
        eks: {
          virtualClusterId: 'vc0123456789',
          executionRoleArn: EKS_ROLE,
          releaseLabel: 'emr-7.5.0-latest',
        },
      },
    });
    // The created role serves the created applications only: the shared pool runs as its own role.
    expect(
      propertiesOf(ownTemplate, own, role).AssumeRolePolicyDocument.Statement[0].Condition.ArnLike,
    ).toEqual({
      'aws:SourceArn': [getAtt(own, created75, 'Arn'), getAtt(own, created72, 'Arn')],
    });
  });

  it('creates nothing for EMR Serverless when every pool brings its own application and role, or runs on EKS', () => {
    const bring = libraStack({
      config: {
        pools: {
          default: {
            backends: { emrServerless: { applicationId: '00fexisting', executionRoleArn: SHARED_ROLE } },
          },
          k8s: { backends: { eks: { virtualClusterId: 'vc0123456789', executionRoleArn: EKS_ROLE } } },
        },
      },
    });
    const bringTemplate = Template.fromStack(bring);

    bringTemplate.resourceCountIs('AWS::EMRServerless::Application', 0);
    expect(bring.libra.backends.executionRole).toBeUndefined();
    expect(bring.libra.backends.serverlessExecutionRoleArns).toEqual([SHARED_ROLE]);
    expect(bring.libra.backends.eksExecutionRoleArns).toEqual([EKS_ROLE]);
  });
});

describe("SparkBackends with an EKS pool's job template and pod templates", () => {
  const eks = {
    virtualClusterId: 'vc0123456789',
    executionRoleArn: EKS_ROLE,
    jobTemplateId: 'tpl0abc',
    podTemplate: {
      driver: 's3://platform-templates/spark/driver.yaml',
      executor: 's3://platform-templates/spark/executor.yaml',
    },
  };
  const withTemplates = libraStack({ config: { pools: { k8s: { backends: { eks } } } } });
  const synthesized = Template.fromStack(withTemplates);

  it('tells admission the job template and the pod templates of the pool', () => {
    const targets = deployedTargets(
      environmentOf(synthesized, withTemplates, withTemplates.libra.admission.tick),
    );
    expect(targets).toMatchObject({ k8s: { eks: { ...eks, releaseLabel: 'emr-7.5.0-latest' } } });
  });

  it('lets the workflow describe that job template only, and the job role read those pod templates only', () => {
    const statements = allStatements(synthesized);
    const describeTemplate = statements.filter((s) =>
      s.Action.includes('emr-containers:DescribeJobTemplate'),
    );
    expect(describeTemplate).toHaveLength(1);
    expect(JSON.stringify(describeTemplate[0]?.Resource)).toContain(':/jobtemplates/tpl0abc');
    expect(describeTemplate[0]?.roles).toEqual([logicalId(withTemplates, withTemplates.libra.workflow.role)]);

    const reads = Object.values(synthesized.findResources('AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes('platform-templates'),
    );
    expect(reads).toHaveLength(1);
    expect(reads[0]?.Properties.Roles).toEqual(['eks-jobs']);
    expect(reads[0]?.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: [
          {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':s3:::platform-templates/spark/driver.yaml'],
            ],
          },
          {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':s3:::platform-templates/spark/executor.yaml'],
            ],
          },
        ],
      },
    ]);
  });

  const decide = roleDecider(synthesized);

  it('allows, as IAM evaluates it, the workflow to start templated runs and the job role to read the pod templates', async () => {
    const workflow = logicalId(withTemplates, withTemplates.libra.workflow.role);
    const templateArn = (id: string) => `arn:aws:emr-containers:eu-west-1:${ACCOUNT}:/jobtemplates/${id}`;
    expect(await decide(workflow, 'emr-containers:DescribeJobTemplate', templateArn('tpl0abc'))).toBe(
      'Allowed',
    );
    expect(await decide(workflow, 'emr-containers:DescribeJobTemplate', templateArn('other1'))).toBe(
      'ImplicitlyDenied',
    );
    const cluster = `arn:aws:emr-containers:eu-west-1:${ACCOUNT}:/virtualclusters/vc0123456789`;
    expect(
      await decide(workflow, 'emr-containers:StartJobRun', cluster, {
        'emr-containers:ExecutionRoleArn': EKS_ROLE,
      }),
    ).toBe('Allowed');
    expect(
      await decide(workflow, 'emr-containers:StartJobRun', cluster, {
        'emr-containers:ExecutionRoleArn': `arn:aws:iam::${ACCOUNT}:role/admin`,
      }),
    ).toBe('ImplicitlyDenied');

    expect(
      await decide('eks-jobs', 's3:GetObject', 'arn:aws:s3:::platform-templates/spark/driver.yaml'),
    ).toBe('Allowed');
    expect(await decide('eks-jobs', 's3:GetObject', 'arn:aws:s3:::platform-templates/spark/other.yaml')).toBe(
      'ImplicitlyDenied',
    );
  });
});
