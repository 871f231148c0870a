import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Admission, type AdmissionDeps } from '#core/admission.ts';
import type { LibraConfig } from '#core/config.ts';
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

/**
 * The composition of the use cases from their adapters, shared by the deployed functions (each
 * entry in lambdas/entry chooses its adapters: lambdas/adapters/sdk.ts) and the local runtime.
 */

/** What every function that keeps jobs has: the table, its configuration, logs and metrics. */
export interface StoreWiring {
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly config: LibraConfig;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
}

export interface Wiring extends StoreWiring {
  readonly intake: IntakeQueue;
  readonly workflows: WorkflowControl;
  readonly runs: SparkRunControl;
  readonly notifier: JobNotifier;
  /** Local mode only: webhooks may be plain http. */
  readonly allowInsecureWebhooks: boolean;
}

/** The job and pool stores on the table. */
export function composeStores(wiring: StoreWiring) {
  const jobs = new DynamoJobStore({
    client: wiring.documentClient,
    tableName: wiring.tableName,
    retentionDays: wiring.config.retention.days,
  });
  const pools = new DynamoPoolStore({ client: wiring.documentClient, tableName: wiring.tableName });
  const clock = () => new Date();
  return { jobs, pools, clock };
}

/** The stores and the end-of-job use cases. */
export function composeCore(wiring: Wiring) {
  const { jobs, pools, clock } = composeStores(wiring);
  const finisher = new Finisher({
    jobs,
    pools,
    intake: wiring.intake,
    notifier: wiring.notifier,
    clock,
    logger: wiring.logger,
    metrics: wiring.metrics,
  });
  const finalizer = new Finalizer({
    jobs,
    finisher,
    runs: wiring.runs,
    clock,
    logger: wiring.logger,
  });
  return { jobs, pools, finisher, finalizer, clock };
}

export function composeApi(wiring: Wiring): ApiDeps {
  const { jobs: store, pools, finisher, finalizer, clock } = composeCore(wiring);
  const jobs = new JobService({
    store,
    pools,
    intake: wiring.intake,
    workflows: wiring.workflows,
    finisher,
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

/** What admission needs besides the table: the starter, and for a start that fails, a wake and a webhook. */
export interface AdmitterWiring extends StoreWiring {
  readonly starter: WorkflowStarter;
  readonly intake: IntakeQueue;
  readonly notifier: JobNotifier;
}

function admissionDeps(
  wiring: AdmitterWiring,
  stores: ReturnType<typeof composeStores>,
  finisher = new Finisher({
    ...stores,
    intake: wiring.intake,
    notifier: wiring.notifier,
    logger: wiring.logger,
    metrics: wiring.metrics,
  }),
): AdmissionDeps {
  return {
    jobs: stores.jobs,
    pools: stores.pools,
    starter: wiring.starter,
    finisher,
    config: wiring.config,
    metrics: wiring.metrics,
    logger: wiring.logger,
    clock: stores.clock,
  };
}

/**
 * Admission alone, as the intake queue's function runs it: it admits and starts workflows, and
 * ends the jobs whose workflow cannot start.
 */
export function composeAdmitter(wiring: AdmitterWiring) {
  return { admission: new Admission(admissionDeps(wiring, composeStores(wiring))) };
}

export interface AdmissionWiring extends Wiring {
  readonly starter: WorkflowStarter;
}

/** Admission and the reconciler, which finalizes jobs whose workflow execution ended unseen. */
export function composeAdmission(wiring: AdmissionWiring) {
  const core = composeCore(wiring);
  const deps = admissionDeps(wiring, core, core.finisher);
  const admission = new Admission(deps);
  const reconciler = new Reconciler(deps, admission, {
    workflows: wiring.workflows,
    finalizer: core.finalizer,
    progress: core.jobs,
  });
  return { ...core, admission, reconciler };
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
