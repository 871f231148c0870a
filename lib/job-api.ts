import { Duration } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  type CfnApi,
  HttpApi,
  HttpMethod,
  type HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { MathExpression, type Metric, type MetricOptions, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { OPENAPI_PATH, POOLS_PATH, USAGE_PATH } from '#core/api-paths.ts';
import type { LibraConfig } from '#core/config.ts';
import { JOBS_PATH } from '#handlers/api-deps.ts';
import type { JobApiProps } from './job-api-props.ts';
import type { TableUse } from './job-table.ts';
import { configEnvironment, lambdaEntry, libraFunction } from './libra-function.ts';
import { type LibraAlarms, libraAlarms, METRIC_PERIOD } from './libra-metrics.ts';

interface JobRoute {
  readonly method: HttpMethod;
  readonly path: string;
  /** File under lambdas/entry that exports `handler`. */
  readonly entry: string;
  /**
   * The calls its use case makes on the job table, and no more. A route that serves no job data
   * (the OpenAPI document) has none, and is told neither the table nor the configuration.
   */
  readonly table?: TableUse;
  /** Whether the route sends to the admission intake queue. */
  readonly sendsToIntake: boolean;
}

/** One Lambda per route (DESIGN §1), each with all the access its use case needs and no more. */
export const JOB_ROUTES = {
  SubmitJob: {
    method: HttpMethod.POST,
    path: `${JOBS_PATH}/submit`,
    entry: 'submit-job.ts',
    table: { items: ['GetItem', 'PutItem', 'UpdateItem'] },
    sendsToIntake: true,
  },
  ListJobs: {
    method: HttpMethod.GET,
    path: JOBS_PATH,
    entry: 'list-jobs.ts',
    table: { items: [], queries: ['owner'] },
    sendsToIntake: false,
  },
  GetJob: {
    method: HttpMethod.GET,
    path: `${JOBS_PATH}/{jobId}`,
    entry: 'get-job.ts',
    table: { items: ['GetItem'], queries: ['waiting'] },
    sendsToIntake: false,
  },
  ListJobEvents: {
    method: HttpMethod.GET,
    path: `${JOBS_PATH}/{jobId}/events`,
    entry: 'list-job-events.ts',
    table: { items: ['GetItem'], queries: ['history'] },
    sendsToIntake: false,
  },
  CancelJob: {
    method: HttpMethod.DELETE,
    path: `${JOBS_PATH}/{jobId}`,
    entry: 'cancel-job.ts',
    table: { items: ['GetItem', 'PutItem', 'UpdateItem'], queries: ['history'] },
    // A cancel that ends a job at once gives its lease back and wakes admission for the pool.
    sendsToIntake: true,
  },
  RerunJob: {
    method: HttpMethod.POST,
    path: `${JOBS_PATH}/{jobId}/rerun`,
    entry: 'rerun-job.ts',
    // Reads the original, then writes as a submit does (the job, its key, its queue slot) and
    // links the new job from the original.
    table: { items: ['GetItem', 'PutItem', 'UpdateItem'] },
    sendsToIntake: true,
  },
  ListPools: {
    method: HttpMethod.GET,
    path: POOLS_PATH,
    entry: 'list-pools.ts',
    table: { items: ['GetItem'] },
    sendsToIntake: false,
  },
  GetUsage: {
    method: HttpMethod.GET,
    path: USAGE_PATH,
    entry: 'get-usage.ts',
    // One Query per day asked, on the usage items (lambdas/adapters/dynamo-usage-ledger.ts).
    table: { items: [], queries: ['usage'] },
    sendsToIntake: false,
  },
  // Behind the same authorizer as the rest: the document is no secret, but an open route would
  // let anyone on the internet invoke a function of the account.
  GetOpenApi: {
    method: HttpMethod.GET,
    path: OPENAPI_PATH,
    entry: 'get-openapi.ts',
    sendsToIntake: false,
  },
} as const satisfies Record<string, JobRoute>;

export type JobRouteName = keyof typeof JOB_ROUTES;

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
 * Its alarm: too large a share of requests answered 5xx.
 */
export class JobApi extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly functions: Readonly<Record<JobRouteName, NodejsFunction>>;
  readonly alarms: LibraAlarms;

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

    const functions: Partial<Record<JobRouteName, NodejsFunction>> = {};
    for (const [name, route] of Object.entries(JOB_ROUTES) as [JobRouteName, JobRoute][]) {
      const fn = libraFunction(this, name, {
        entry: lambdaEntry(route.entry),
        description: `Libra ${route.method} ${route.path}`,
        environment: route.table ? configEnvironment(props.config) : { POWERTOOLS_SERVICE_NAME: 'libra' },
        logRetention: retention,
        memorySize: props.memorySize ?? 512,
        // API Gateway gives up on an integration after 30 s; a route that needs 10 s is already broken.
        timeout: Duration.seconds(10),
      });
      if (route.table) props.store.grant(fn, route.table);
      if (route.sendsToIntake) props.intake.grantSend(fn);
      this.httpApi.addRoutes({
        path: route.path,
        methods: [route.method],
        integration: new HttpLambdaIntegration(`${name}Integration`, fn),
      });
      functions[name] = fn;
    }
    this.functions = functions as Record<JobRouteName, NodejsFunction>;

    this.alarms = libraAlarms(this, {
      ApiServerErrors: {
        metric: this.metricServerErrorRate(),
        threshold: props.serverErrorRate ?? 0.05,
        description: 'more than the allowed share of API requests were answered 5xx over five minutes',
      },
    });
  }

  /** Requests the API answered, over every route. */
  metricRequests(options?: MetricOptions): Metric {
    return this.httpApi.metricCount({ period: METRIC_PERIOD, statistic: Stats.SUM, ...options });
  }

  /** Requests answered 5xx: a function failed or timed out, or API Gateway itself did. */
  metricServerErrors(options?: MetricOptions): Metric {
    return this.httpApi.metricServerError({ period: METRIC_PERIOD, statistic: Stats.SUM, ...options });
  }

  /** Requests answered 4xx: refused input, authorization or throttling. */
  metricClientErrors(options?: MetricOptions): Metric {
    return this.httpApi.metricClientError({ period: METRIC_PERIOD, statistic: Stats.SUM, ...options });
  }

  /** The share of requests answered 5xx; 0 in a period without requests. */
  metricServerErrorRate(): MathExpression {
    return new MathExpression({
      expression: 'IF(requests > 0, errors / requests, 0)',
      usingMetrics: { errors: this.metricServerErrors(), requests: this.metricRequests() },
      label: 'Share of requests answered 5xx',
      period: METRIC_PERIOD,
    });
  }

  /** The stage's invoke URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/ */
  /**
   * Lets pages served from `origin` (the console) call the API from a browser: API Gateway answers
   * their CORS preflights itself, before any authorizer, for that origin only.
   */
  allowBrowserOrigin(origin: string): void {
    (this.httpApi.node.defaultChild as CfnApi).corsConfiguration = {
      allowOrigins: [origin],
      allowMethods: ['GET', 'POST', 'DELETE'],
      allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
      maxAge: 600,
    };
  }

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
