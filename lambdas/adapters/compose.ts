import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Admission, type AdmissionDeps } from '#core/admission.ts';
import { ConfigError, type LibraConfig, parseConfig } from '#core/config.ts';
import { Finisher } from '#core/finisher.ts';
import { newJobId } from '#core/job-record.ts';
import { JobService } from '#core/job-service.ts';
import type { IntakeQueue, MetricsSink, WorkflowStarter } from '#core/ports.ts';
import { Reconciler } from '#core/reconciler.ts';
import type { ApiDeps } from '#handlers/api-deps.ts';
import { DynamoJobStore } from './dynamo-job-store.ts';
import { DynamoPoolStore } from './dynamo-pool-store.ts';
import { PowertoolsMetricsSink } from './powertools-metrics.ts';
import { StepFunctionsStarter } from './sfn-workflow-starter.ts';
import { SqsIntakeQueue } from './sqs-intake-queue.ts';

/** The composition root: the one place where adapters are chosen and wired to the use cases. */

export interface Wiring {
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly config: LibraConfig;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  readonly intake: IntakeQueue;
  /** Local mode only: webhooks may be plain http. */
  readonly allowInsecureWebhooks: boolean;
}

function stores(wiring: Wiring) {
  return {
    jobs: new DynamoJobStore({
      client: wiring.documentClient,
      tableName: wiring.tableName,
      retentionDays: wiring.config.retention.days,
    }),
    pools: new DynamoPoolStore({ client: wiring.documentClient, tableName: wiring.tableName }),
  };
}

export function composeApi(wiring: Wiring): ApiDeps {
  const { jobs: store, pools } = stores(wiring);
  const jobs = new JobService({
    store,
    pools,
    intake: wiring.intake,
    metrics: wiring.metrics,
    logger: wiring.logger,
    config: wiring.config,
    clock: () => new Date(),
    newJobId,
    allowInsecureWebhooks: wiring.allowInsecureWebhooks,
  });
  return { config: wiring.config, logger: wiring.logger, jobs, pools };
}

export interface AdmissionWiring extends Wiring {
  readonly starter: WorkflowStarter;
}

export function composeAdmission(wiring: AdmissionWiring): {
  admission: Admission;
  reconciler: Reconciler;
  finisher: Finisher;
  jobs: DynamoJobStore;
} {
  const { jobs, pools } = stores(wiring);
  const deps: AdmissionDeps = {
    jobs,
    pools,
    starter: wiring.starter,
    config: wiring.config,
    metrics: wiring.metrics,
    logger: wiring.logger,
    clock: () => new Date(),
  };
  const admission = new Admission(deps);
  const finisher = new Finisher({ ...deps, intake: wiring.intake });
  return { admission, reconciler: new Reconciler(deps, admission), finisher, jobs };
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

function configFromEnvironment(): LibraConfig {
  let rawConfig: unknown;
  try {
    rawConfig = JSON.parse(requiredEnv('LIBRA_CONFIG'));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`LIBRA_CONFIG is not JSON: ${(error as Error).message}`);
  }
  return parseConfig(rawConfig);
}

/**
 * Deployed wiring, read from the environment the stack sets, once per Lambda container and
 * checked at init so that a misconfigured function fails before its first request.
 */
function wiringFromEnvironment(): Wiring {
  const metrics = new Metrics({ namespace: 'Libra', serviceName: 'libra' });
  return {
    documentClient: documentClient(new DynamoDBClient({})),
    tableName: requiredEnv('TABLE_NAME'),
    config: configFromEnvironment(),
    logger: new Logger({ serviceName: 'libra' }),
    metrics: new PowertoolsMetricsSink(metrics),
    intake: new SqsIntakeQueue(new SQSClient({}), requiredEnv('INTAKE_QUEUE_URL')),
    allowInsecureWebhooks: false,
  };
}

export function apiDepsFromEnvironment(): ApiDeps {
  return composeApi(wiringFromEnvironment());
}

export function admissionFromEnvironment() {
  const wiring = wiringFromEnvironment();
  const starter = new StepFunctionsStarter(new SFNClient({}), requiredEnv('STATE_MACHINE_ARN'), (job) => ({
    jobId: job.jobId,
    pool: job.pool,
  }));
  return { ...wiring, ...composeAdmission({ ...wiring, starter }) };
}
