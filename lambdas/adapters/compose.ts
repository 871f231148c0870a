import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Admission, type AdmissionDeps } from '#core/admission.ts';
import { ConfigError, type LibraConfig, parseConfig } from '#core/config.ts';
import { Finalizer } from '#core/finalizer.ts';
import { Finisher } from '#core/finisher.ts';
import { newJobId } from '#core/job-record.ts';
import { JobService } from '#core/job-service.ts';
import type {
  IntakeQueue,
  JobNotifier,
  MetricsSink,
  SparkRunControl,
  WorkflowControl,
  WorkflowStarter,
} from '#core/ports.ts';
import { Reconciler } from '#core/reconciler.ts';
import type { ApiDeps } from '#handlers/api-deps.ts';
import { DynamoJobStore } from './dynamo-job-store.ts';
import { DynamoPoolStore } from './dynamo-pool-store.ts';
import { PowertoolsMetricsSink } from './powertools-metrics.ts';
import { StepFunctionsControl } from './sfn-workflow-starter.ts';
import { SqsIntakeQueue } from './sqs-intake-queue.ts';

/** The composition root: the one place where adapters are chosen and wired to the use cases. */

export interface Wiring {
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly config: LibraConfig;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  readonly intake: IntakeQueue;
  readonly workflows: WorkflowControl;
  readonly runs: SparkRunControl;
  readonly notifier: JobNotifier;
  /** Local mode only: webhooks may be plain http. */
  readonly allowInsecureWebhooks: boolean;
}

/** The stores and the end-of-job use cases every Lambda shares. */
export function composeCore(wiring: Wiring) {
  const jobs = new DynamoJobStore({
    client: wiring.documentClient,
    tableName: wiring.tableName,
    retentionDays: wiring.config.retention.days,
  });
  const pools = new DynamoPoolStore({ client: wiring.documentClient, tableName: wiring.tableName });
  const clock = () => new Date();
  const finisher = new Finisher({
    jobs,
    pools,
    intake: wiring.intake,
    clock,
    logger: wiring.logger,
    metrics: wiring.metrics,
  });
  const finalizer = new Finalizer({
    jobs,
    finisher,
    runs: wiring.runs,
    notifier: wiring.notifier,
    clock,
    logger: wiring.logger,
  });
  return { jobs, pools, finisher, finalizer, clock };
}

export function composeApi(wiring: Wiring): ApiDeps {
  const { jobs: store, pools, finalizer, clock } = composeCore(wiring);
  const jobs = new JobService({
    store,
    pools,
    intake: wiring.intake,
    workflows: wiring.workflows,
    finalizeStopped: async (jobId) => {
      await finalizer.executionEnded(jobId, 'ABORTED');
    },
    metrics: wiring.metrics,
    logger: wiring.logger,
    config: wiring.config,
    clock,
    newJobId,
    allowInsecureWebhooks: wiring.allowInsecureWebhooks,
  });
  return { config: wiring.config, logger: wiring.logger, jobs, pools };
}

export interface AdmissionWiring extends Wiring {
  readonly starter: WorkflowStarter;
}

export function composeAdmission(wiring: AdmissionWiring) {
  const core = composeCore(wiring);
  const deps: AdmissionDeps = {
    jobs: core.jobs,
    pools: core.pools,
    starter: wiring.starter,
    config: wiring.config,
    metrics: wiring.metrics,
    logger: wiring.logger,
    clock: core.clock,
  };
  const admission = new Admission(deps);
  const reconciler = new Reconciler(deps, admission, {
    workflows: wiring.workflows,
    finalizer: core.finalizer,
  });
  return { ...core, admission, reconciler };
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export function requiredEnv(name: string): string {
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

/** Notifications from Lambdas other than the workflow's notifier task go through the notifier function. */
class NotifierFunction implements JobNotifier {
  readonly #functionName: string;
  readonly #invoke: (functionName: string, payload: unknown) => Promise<void>;

  constructor(functionName: string, invoke: (functionName: string, payload: unknown) => Promise<void>) {
    this.#functionName = functionName;
    this.#invoke = invoke;
  }

  async notify(jobId: string, status: string): Promise<void> {
    await this.#invoke(this.#functionName, { jobId, status });
  }
}

/** For functions the stack gives no state machine: they never stop or inspect executions. */
const unavailableWorkflows: WorkflowControl = {
  stop: async () => {
    throw new ConfigError('STATE_MACHINE_ARN is not set for this function');
  },
  state: async () => {
    throw new ConfigError('STATE_MACHINE_ARN is not set for this function');
  },
};

export interface EnvironmentAdapters {
  /** Stops EMR runs; the functions that never cancel runs leave it out. */
  readonly runs?: SparkRunControl;
  /** Invokes a Lambda asynchronously. */
  readonly invokeAsync?: (functionName: string, payload: unknown) => Promise<void>;
}

/**
 * Deployed wiring, read from the environment the stack sets, once per Lambda container and
 * checked at init so that a misconfigured function fails before its first request.
 */
export function wiringFromEnvironment(adapters: EnvironmentAdapters = {}): Wiring {
  const metrics = new Metrics({ namespace: 'Libra', serviceName: 'libra' });
  const notifierName = process.env.NOTIFIER_FUNCTION_NAME;
  return {
    documentClient: documentClient(new DynamoDBClient({})),
    tableName: requiredEnv('TABLE_NAME'),
    config: configFromEnvironment(),
    logger: new Logger({ serviceName: 'libra' }),
    metrics: new PowertoolsMetricsSink(metrics),
    intake: new SqsIntakeQueue(new SQSClient({}), requiredEnv('INTAKE_QUEUE_URL')),
    workflows: process.env.STATE_MACHINE_ARN
      ? new StepFunctionsControl(new SFNClient({}), process.env.STATE_MACHINE_ARN)
      : unavailableWorkflows,
    runs: adapters.runs ?? {
      cancelRun: async () => {
        throw new Error('this function cannot cancel Spark runs');
      },
    },
    notifier:
      notifierName && adapters.invokeAsync
        ? new NotifierFunction(notifierName, adapters.invokeAsync)
        : { notify: async () => undefined },
    allowInsecureWebhooks: false,
  };
}

export function apiDepsFromEnvironment(adapters: EnvironmentAdapters = {}): ApiDeps {
  return composeApi(wiringFromEnvironment(adapters));
}
