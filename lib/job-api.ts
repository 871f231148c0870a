import { fileURLToPath } from 'node:url';
import { Duration, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  type HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { LibraConfig } from '#core/config.ts';
import { JOBS_PATH } from '#handlers/api-deps.ts';
import type { JobApiProps } from './job-api-props.ts';

type TableAccess = 'read' | 'readWrite';

interface JobRoute {
  readonly method: HttpMethod;
  readonly path: string;
  /** File under lambdas/entry that exports `handler`. */
  readonly entry: string;
  readonly access: TableAccess;
  /** Whether the route sends to the admission intake queue. */
  readonly sendsToIntake: boolean;
}

/** One Lambda per route (DESIGN §1), each with all the access its use case needs and no more. */
export const JOB_ROUTES = {
  SubmitJob: {
    method: HttpMethod.POST,
    path: `${JOBS_PATH}/submit`,
    entry: 'submit-job.ts',
    access: 'readWrite',
    sendsToIntake: true,
  },
  ListJobs: {
    method: HttpMethod.GET,
    path: JOBS_PATH,
    entry: 'list-jobs.ts',
    access: 'read',
    sendsToIntake: false,
  },
  GetJob: {
    method: HttpMethod.GET,
    path: `${JOBS_PATH}/{jobId}`,
    entry: 'get-job.ts',
    access: 'read',
    sendsToIntake: false,
  },
  ListJobEvents: {
    method: HttpMethod.GET,
    path: `${JOBS_PATH}/{jobId}/events`,
    entry: 'list-job-events.ts',
    access: 'read',
    sendsToIntake: false,
  },
  CancelJob: {
    method: HttpMethod.DELETE,
    path: `${JOBS_PATH}/{jobId}`,
    entry: 'cancel-job.ts',
    access: 'readWrite',
    sendsToIntake: false,
  },
} as const satisfies Record<string, JobRoute>;

export type JobRouteName = keyof typeof JOB_ROUTES;

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY_DIR = fileURLToPath(new URL('../lambdas/entry/', import.meta.url));

/** Lambda refuses a function whose environment, names and values together, exceeds 4 KiB. */
const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4 * 1024;
/**
 * Room left for the variables whose values are tokens until deployment: TABLE_NAME (a table name
 * is at most 255 bytes) and INTAKE_QUEUE_URL (an 80-byte queue name after region and account).
 */
const DEPLOY_TIME_VARIABLES_BYTES = 'TABLE_NAME'.length + 255 + 'INTAKE_QUEUE_URL'.length + 160;

/** One JSON object per request, with the caller under either authorizer. */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTime',
    sourceIp: '$context.identity.sourceIp',
    userAgent: '$context.identity.userAgent',
    routeKey: '$context.routeKey',
    path: '$context.path',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    errorMessage: '$context.error.message',
    authorizerError: '$context.authorizer.error',
    iamUserArn: '$context.identity.userArn',
    jwtSubject: '$context.authorizer.claims.sub',
  }),
);

/**
 * Libra's front door: an HTTP API whose every route requires IAM (SigV4) or, when configured,
 * JWT authorization, with one least-privilege Node.js function per route behind it.
 */
export class JobApi extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly functions: Readonly<Record<JobRouteName, NodejsFunction>>;

  constructor(scope: Construct, id: string, props: JobApiProps) {
    super(scope, id);
    const retention = props.logRetention ?? RetentionDays.THREE_MONTHS;

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Libra: Spark jobs over HTTPS',
      defaultAuthorizer: authorizerFor(props.config),
      // The generated default stage takes neither throttling nor access logging: add our own.
      createDefaultStage: false,
    });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 50, burstLimit: 100 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(new LogGroup(this, 'AccessLogs', { retention })),
        format: ACCESS_LOG_FORMAT,
      },
    });

    const environment = {
      POWERTOOLS_SERVICE_NAME: 'libra',
      LIBRA_CONFIG: JSON.stringify(props.config),
      // The bundles are minified: without this, the source maps shipped beside them go unused in stack traces.
      NODE_OPTIONS: '--enable-source-maps',
    };
    this.node.addValidation({ validate: () => environmentTooLarge(environment) });

    const functions: Partial<Record<JobRouteName, NodejsFunction>> = {};
    for (const [name, route] of Object.entries(JOB_ROUTES) as [JobRouteName, JobRoute][]) {
      const fn = routeFunction(this, name, route, {
        environment,
        retention,
        memorySize: props.memorySize ?? 512,
      });
      if (route.access === 'readWrite') props.store.grantReadWrite(fn);
      else props.store.grantRead(fn);
      if (route.sendsToIntake) props.intake.grantSend(fn);
      else props.intake.shareUrl(fn);
      this.httpApi.addRoutes({
        path: route.path,
        methods: [route.method],
        integration: new HttpLambdaIntegration(`${name}Integration`, fn),
      });
      functions[name] = fn;
    }
    this.functions = functions as Record<JobRouteName, NodejsFunction>;
  }

  /** The stage's invoke URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/ */
  get url(): string {
    return this.stage.url;
  }
}

function authorizerFor(config: LibraConfig): IHttpRouteAuthorizer {
  if (config.auth.mode === 'jwt') {
    return new HttpJwtAuthorizer('JwtAuthorizer', config.auth.issuer, {
      jwtAudience: [...config.auth.audience],
    });
  }
  return new HttpIamAuthorizer();
}

interface FunctionSettings {
  readonly environment: Record<string, string>;
  readonly retention: RetentionDays;
  readonly memorySize: number;
}

function routeFunction(
  scope: Construct,
  name: JobRouteName,
  route: JobRoute,
  settings: FunctionSettings,
): NodejsFunction {
  const construct = new Construct(scope, name);
  const logGroup = new LogGroup(construct, 'Logs', { retention: settings.retention });
  // Our own role instead of the default one with AWSLambdaBasicExecutionRole, which may write to any log group.
  const role = new Role(construct, 'Role', {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: `Libra ${route.method} ${route.path}`,
  });
  logGroup.grantWrite(role);
  Validations.of(role).acknowledge({
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    reason:
      'Active tracing grants xray:PutTraceSegments and xray:PutTelemetryRecords, which support no ' +
      'resource-level permissions, so AWS requires Resource "*" for them; no other statement of this ' +
      'role uses "*" (asserted in test/infra/job-api.test.ts).',
  });

  return new NodejsFunction(construct, 'Function', {
    entry: `${ENTRY_DIR}${route.entry}`,
    handler: 'handler',
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    memorySize: settings.memorySize,
    // API Gateway gives up on an integration after 30 s; a route that needs 10 s is already broken.
    timeout: Duration.seconds(10),
    tracing: Tracing.ACTIVE,
    role,
    logGroup,
    loggingFormat: LoggingFormat.JSON,
    environment: settings.environment,
    bundling: {
      format: OutputFormat.ESM,
      // Bundled CommonJS dependencies call require() for Node built-ins, which an ES module does not have.
      banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      mainFields: ['module', 'main'],
      minify: true,
      sourceMap: true,
      sourcesContent: false,
      // Pin the SDK version we test with instead of whatever the runtime ships, and let esbuild tree-shake it.
      bundleAwsSDK: true,
      forceDockerBundling: false,
      logLevel: LogLevel.WARNING,
    },
  });
}

function environmentTooLarge(environment: Record<string, string>): string[] {
  const bytes =
    Object.entries(environment).reduce(
      (sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value),
      0,
    ) + DEPLOY_TIME_VARIABLES_BYTES;
  if (bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return [];
  return [
    `the libra configuration is too large for a Lambda environment: about ${bytes} bytes with the ` +
      `other variables, over Lambda's limit of ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}; use fewer pools or shorter principal lists`,
  ];
}
