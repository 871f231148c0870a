import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '#core/config.ts';
import { JOB_ROUTES, type JobRouteName } from '../../lib/job-api.ts';
import {
  allowedPermissions,
  CDK_JSON_CONTEXT,
  getAtt,
  libraStack,
  logicalId,
  permission,
  testApp,
} from './app.ts';

/** The REST contract of issues 2 and 3, written out rather than read from JOB_ROUTES. */
const ROUTE_KEYS = [
  'POST /api/v1/spark/jobs/submit',
  'GET /api/v1/spark/jobs',
  'GET /api/v1/spark/jobs/{jobId}',
  'GET /api/v1/spark/jobs/{jobId}/events',
  'DELETE /api/v1/spark/jobs/{jobId}',
  'POST /api/v1/spark/jobs/{jobId}/rerun',
  'GET /api/v1/spark/pools',
  'GET /api/v1/spark/usage',
  'GET /api/v1/openapi.json',
];
const READ_ONLY_ROUTES = [
  'ListJobs',
  'GetJob',
  'ListJobEvents',
  'ListPools',
  'GetUsage',
  'GetOpenApi',
] as const satisfies JobRouteName[];
const WRITING_ROUTES: JobRouteName[] = ['SubmitJob', 'CancelJob', 'RerunJob'];
const WRITE_ACTIONS = /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem|\*)$/;
const CANCEL_SERVICES = /^(dynamodb|logs|xray|sqs|states|emr-serverless|emr-containers|lambda):/;

const JWT_AUTH = { mode: 'jwt' as const, issuer: 'https://issuer.example.com/', audience: ['libra-api'] };

// One stack per configuration serves every test below: synthesis is the slow part.
const iamStack = libraStack();
const iam = Template.fromStack(iamStack);
const jwtStack = libraStack({ config: { auth: JWT_AUTH } });
const jwt = Template.fromStack(jwtStack);

function routeKeys(template: Template): string[] {
  return Object.values(template.findResources('AWS::ApiGatewayV2::Route'))
    .map((route) => route.Properties.RouteKey as string)
    .sort();
}

describe('JobApi routes', () => {
  it('serves exactly the routes of the contract, its OpenAPI document among them', () => {
    expect(routeKeys(iam)).toEqual([...ROUTE_KEYS].sort());
    expect(Object.keys(JOB_ROUTES)).toHaveLength(ROUTE_KEYS.length);
  });

  it('requires IAM authorization on every route by default', () => {
    const routes = Object.values(iam.findResources('AWS::ApiGatewayV2::Route'));
    expect(routes.map((route) => route.Properties.AuthorizationType)).toEqual(
      ROUTE_KEYS.map(() => 'AWS_IAM'),
    );
    iam.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
  });

  it('requires a JWT from the configured issuer and audience on every route when auth.mode is jwt', () => {
    jwt.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: JWT_AUTH.issuer, Audience: [...JWT_AUTH.audience] },
    });
    const [authorizerId] = Object.keys(jwt.findResources('AWS::ApiGatewayV2::Authorizer'));
    const routes = Object.values(jwt.findResources('AWS::ApiGatewayV2::Route'));
    expect(routes).toHaveLength(ROUTE_KEYS.length);
    for (const route of routes) {
      expect(route.Properties).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: authorizerId },
      });
    }
  });

  it('sends each route to its own function with the v2 payload', () => {
    for (const [name, route] of Object.entries(JOB_ROUTES)) {
      const fn = iamStack.libra.jobApi.functions[name as JobRouteName];
      const integration = Object.entries(iam.findResources('AWS::ApiGatewayV2::Integration')).find(
        ([, resource]) =>
          JSON.stringify(resource.Properties.IntegrationUri) ===
          JSON.stringify({ 'Fn::GetAtt': [logicalId(iamStack, fn), 'Arn'] }),
      );
      expect(integration?.[1].Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
      });
      iam.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: `${route.method} ${route.path}`,
        Target: { 'Fn::Join': ['', ['integrations/', { Ref: integration?.[0] }]] },
      });
    }
  });
});

describe('JobApi stage', () => {
  it('deploys one auto-deployed $default stage with throttling and JSON access logs', () => {
    iam.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    iam.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AccessLogs'), 'Arn'] },
        Format: Match.serializedJson(
          Match.objectLike({ requestId: '$context.requestId', iamUserArn: '$context.identity.userArn' }),
        ),
      },
    });
  });

  it('keeps every log group of the stack for the configured retention', () => {
    const groups = iam.findResources('AWS::Logs::LogGroup');
    const apiGroups = [
      logicalId(iamStack, iamStack.libra.jobApi.node.findChild('AccessLogs')),
      ...Object.keys(JOB_ROUTES).map((name) =>
        logicalId(iamStack, iamStack.libra.jobApi.node.findChild(name).node.findChild('Logs')),
      ),
    ];
    // One access log and one per route function, among the stack's others.
    expect(Object.keys(groups)).toEqual(expect.arrayContaining(apiGroups));
    for (const group of Object.values(groups)) expect(group.Properties.RetentionInDays).toBe(90);
  });
});

describe('JobApi functions', () => {
  const config = parseConfig(CDK_JSON_CONTEXT.libra);

  it('runs each route on Node.js 24, arm64, traced, with JSON logs to its own log group', () => {
    expect(Object.keys(iamStack.libra.jobApi.functions)).toHaveLength(ROUTE_KEYS.length);
    for (const fn of Object.values(iamStack.libra.jobApi.functions)) {
      const resource = iam.findResources('AWS::Lambda::Function')[logicalId(iamStack, fn)];
      expect(resource?.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 512,
        Timeout: 10,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.stringMatching(/Logs/) } },
      });
    }
  });

  it('hands each function the table name, the validated configuration, the service name and what its route uses', () => {
    const table = logicalId(iamStack, iamStack.libra.jobStore.table);
    const queue = logicalId(iamStack, iamStack.libra.intake.queue);
    for (const [name, fn] of Object.entries(iamStack.libra.jobApi.functions)) {
      const resource = iam.findResources('AWS::Lambda::Function')[logicalId(iamStack, fn)];
      const variables = resource?.Properties.Environment.Variables;
      if (name === 'GetOpenApi') {
        // It serves the document bundled into it: neither table nor configuration.
        expect(variables, name).toEqual({
          POWERTOOLS_SERVICE_NAME: 'libra',
          NODE_OPTIONS: '--enable-source-maps',
        });
        continue;
      }
      expect(variables, name).toEqual({
        TABLE_NAME: { Ref: table },
        LIBRA_CONFIG: expect.any(String),
        POWERTOOLS_SERVICE_NAME: 'libra',
        NODE_OPTIONS: '--enable-source-maps',
        // The routes that send to the intake queue; the read-only routes are not told it.
        ...(WRITING_ROUTES.includes(name as JobRouteName) && { INTAKE_QUEUE_URL: { Ref: queue } }),
        // Cancel stops executions and ends a job at once when it has none: it notifies as the finalizer would.
        ...(name === 'CancelJob' && {
          STATE_MACHINE_ARN: iamStack.resolve(iamStack.libra.workflow.stateMachineArn),
          NOTIFIER_FUNCTION_NAME: { Ref: logicalId(iamStack, iamStack.libra.notifier.function) },
        }),
      });
      expect(parseConfig(JSON.parse(variables.LIBRA_CONFIG))).toEqual(config);
    }
  });

  it('refuses at synth a configuration too large for a Lambda environment', () => {
    const pools = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [
        `pool-${i}`,
        { allowedPrincipals: [`arn:aws:iam::123456789012:role/team-${i}`] },
      ]),
    );
    const stack = libraStack({ config: { pools } }, testApp());

    expect(() => Template.fromStack(stack)).toThrow(
      /libra configuration is too large for a Lambda environment/,
    );
  });
});

describe('JobApi permissions', () => {
  const roleOf = (name: JobRouteName) => {
    const role = iamStack.libra.jobApi.functions[name].role;
    if (role === undefined) throw new Error(`${name} has no role`);
    return logicalId(iamStack, role);
  };

  it('gives each function a role of its own with no AWS managed policy', () => {
    const ids = (Object.keys(JOB_ROUTES) as JobRouteName[]).map(roleOf);
    expect(new Set(ids).size).toBe(ROUTE_KEYS.length);
    const roles = ids.map((id) => iam.findResources('AWS::IAM::Role')[id]);
    for (const role of roles) {
      expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
    }
  });

  it('uses Resource "*" only for the X-Ray calls, which have no resource-level permissions', () => {
    for (const name of Object.keys(JOB_ROUTES) as JobRouteName[]) {
      const wildcards = allowedPermissions(iam, roleOf(name)).filter((line) => line.endsWith(' "*"'));
      expect(wildcards).toEqual([
        permission('xray:PutTelemetryRecords', '*'),
        permission('xray:PutTraceSegments', '*'),
      ]);
    }
  });

  it('lets read-only routes make only the reads their use case makes, and write nothing', () => {
    const tableArn = getAtt(iamStack, iamStack.libra.jobStore.table, 'Arn');
    const index = (name: string) => ({ 'Fn::Join': ['', [tableArn, `/index/${name}`]] });
    const reads: Record<(typeof READ_ONLY_ROUTES)[number], string[]> = {
      // A caller's jobs, newest first: the owner index only.
      ListJobs: [permission('dynamodb:Query', index('owner'))],
      // The job, and a queued job's place in its pool's queue.
      GetJob: [permission('dynamodb:GetItem', tableArn), permission('dynamodb:Query', index('waiting'))],
      // The job, and its history items in the table.
      ListJobEvents: [permission('dynamodb:GetItem', tableArn), permission('dynamodb:Query', tableArn)],
      // Each pool's usage item.
      ListPools: [permission('dynamodb:GetItem', tableArn)],
      // The usage totals' items of each day asked: Queries on the table, no index.
      GetUsage: [permission('dynamodb:Query', tableArn)],
      // The document is bundled into the function: no table at all.
      GetOpenApi: [],
    };
    for (const name of READ_ONLY_ROUTES) {
      const permissions = allowedPermissions(iam, roleOf(name));
      expect(permissions.filter((line) => WRITE_ACTIONS.test(line.split(' ')[0] ?? ''))).toEqual([]);
      expect(
        permissions.filter((line) => line.startsWith('dynamodb:')),
        name,
      ).toEqual(reads[name].sort());
    }
  });

  it('lets submit and cancel put and update items, and nothing deletes, scans or batches', () => {
    for (const name of WRITING_ROUTES) {
      const actions = new Set(allowedPermissions(iam, roleOf(name)).map((line) => line.split(' ')[0]));
      expect(actions).toContain('dynamodb:PutItem');
      expect(actions).toContain('dynamodb:UpdateItem');
    }
    for (const name of Object.keys(JOB_ROUTES) as JobRouteName[]) {
      const actions = allowedPermissions(iam, roleOf(name)).map((line) => line.split(' ')[0] ?? '');
      expect(actions.filter((action) => /DeleteItem|Scan|Batch|dynamodb:\*/.test(action))).toEqual([]);
      const allowed = name === 'CancelJob' ? CANCEL_SERVICES : /^(dynamodb|logs|xray|sqs):/;
      expect(
        actions.filter((action) => !allowed.test(action)),
        name,
      ).toEqual([]);
    }
  });

  it('lets cancel stop only executions of the job state machine, cancel only Libra runs and invoke only the notifier', () => {
    const permissions = allowedPermissions(iam, roleOf('CancelJob')).filter((line) =>
      /^(states|emr-serverless|emr-containers|lambda):/.test(line),
    );
    const application = iamStack.libra.backends.createdApplications[0];
    if (!application) throw new Error('the cdk.json configuration creates an application');
    const executions = iamStack.resolve(iamStack.libra.workflow.executionArnPattern);
    expect(permissions).toEqual(
      [
        permission('emr-serverless:CancelJobRun', {
          'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(iamStack, application), 'Arn'] }, '/jobruns/*']],
        }),
        permission('lambda:InvokeFunction', {
          'Fn::GetAtt': [logicalId(iamStack, iamStack.libra.notifier.function), 'Arn'],
        }),
        permission('states:DescribeExecution', executions),
        permission('states:StopExecution', executions),
      ].sort(),
    );
  });

  it('lets re-run read, put and update items of the table and nothing else of it: no index, no query', () => {
    const tableArn = getAtt(iamStack, iamStack.libra.jobStore.table, 'Arn');
    const permissions = allowedPermissions(iam, roleOf('RerunJob')).filter((line) =>
      line.startsWith('dynamodb:'),
    );
    // The original and a replayed key's job read, the new job and its key put, the queue slot and the link updated.
    expect(permissions).toEqual(
      [
        permission('dynamodb:GetItem', tableArn),
        permission('dynamodb:PutItem', tableArn),
        permission('dynamodb:UpdateItem', tableArn),
      ].sort(),
    );
  });

  it('lets submit, cancel and re-run, and only them, send to the intake queue, and nothing more on it', () => {
    const queueArn = { 'Fn::GetAtt': [logicalId(iamStack, iamStack.libra.intake.queue), 'Arn'] };
    for (const name of Object.keys(JOB_ROUTES) as JobRouteName[]) {
      const sqs = allowedPermissions(iam, roleOf(name)).filter((line) => line.startsWith('sqs:'));
      // A cancel that ends a job at once gives its lease back and wakes the pool.
      expect(sqs, name).toEqual(
        WRITING_ROUTES.includes(name) ? [permission('sqs:SendMessage', queueArn)] : [],
      );
    }
  });

  it('lets API Gateway invoke each function only through its own route', () => {
    const permissions = Object.values(
      iam.findResources('AWS::Lambda::Permission', { Properties: { Principal: 'apigateway.amazonaws.com' } }),
    );
    expect(permissions).toHaveLength(ROUTE_KEYS.length);
    for (const [name, route] of Object.entries(JOB_ROUTES)) {
      const fn = iamStack.libra.jobApi.functions[name as JobRouteName];
      const own = permissions.filter(
        (resource) =>
          JSON.stringify(resource.Properties.FunctionName) ===
          JSON.stringify({ 'Fn::GetAtt': [logicalId(iamStack, fn), 'Arn'] }),
      );
      expect(own).toHaveLength(1);
      expect(own[0]?.Properties).toMatchObject({
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
      });
      const sourceArn: unknown[] = own[0]?.Properties.SourceArn['Fn::Join'][1];
      expect(sourceArn.at(-1)).toBe(`/*/*${route.path}`);
    }
  });
});
