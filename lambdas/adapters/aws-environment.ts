import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConfigError, type LibraConfig, parseConfig } from '#core/config.ts';
import type { IntakeQueue, JobNotifier } from '#core/ports.ts';
import type { ProgressTarget } from '#core/workflow-input.ts';
import { type LambdaSdk, lambdaInvoker } from './aws-backends.ts';
import { logger, metrics, traced } from './powertools.ts';
import { PowertoolsMetricsSink } from './powertools-metrics.ts';
import { onFirstUse } from './sdk.ts';
import { SqsIntakeQueue } from './sqs-intake-queue.ts';
import { documentClient, type StoreWiring } from './table-stores.ts';

/**
 * What the deployed functions share, read from the environment the stack sets, once per
 * container and checked at init, so that a misconfigured function fails before its first
 * request. Each entry (lambdas/entry) adds the adapters its function uses, and chooses for each
 * AWS client whether it is loaded at init or on first use (lambdas/adapters/sdk.ts). DynamoDB is
 * loaded here, at init: every one of these functions reads or writes the table on every invocation.
 */

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

export function configFromEnvironment(): LibraConfig {
  let rawConfig: unknown;
  try {
    rawConfig = JSON.parse(requiredEnv('LIBRA_CONFIG'));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`LIBRA_CONFIG is not JSON: ${(error as Error).message}`);
  }
  return parseConfig(rawConfig);
}

/** The table (DynamoDB, at init), the configuration, the logger and the metrics. */
export function storeWiringFromEnvironment(): StoreWiring {
  return {
    documentClient: documentClient(traced(new DynamoDBClient({}))),
    tableName: requiredEnv('TABLE_NAME'),
    config: configFromEnvironment(),
    logger,
    metrics: new PowertoolsMetricsSink(metrics),
  };
}

/**
 * Where a job's driver reports its progress: the job table, in the function's own region (Lambda
 * always sets AWS_REGION). The job execution roles may update that table's `progress` attribute.
 */
export function progressTarget(wiring: Pick<StoreWiring, 'tableName'>): ProgressTarget {
  return { table: wiring.tableName, region: requiredEnv('AWS_REGION') };
}

/** Waking admission for a function that sends only when it ends a job: SQS imported on the first send. */
export function intakeOnFirstUse(): IntakeQueue {
  return new SqsIntakeQueue(
    onFirstUse(
      () => import('@aws-sdk/client-sqs'),
      (sdk) => new sdk.SQSClient({}),
    ),
    requiredEnv('INTAKE_QUEUE_URL'),
  );
}

/**
 * Notifications from functions other than the workflow's notify task: the notifier function
 * (NOTIFIER_FUNCTION_NAME), invoked asynchronously. Without it, nothing is sent.
 */
export function notifierFunction(lambda: LambdaSdk): JobNotifier {
  const functionName = process.env.NOTIFIER_FUNCTION_NAME;
  if (!functionName) return { notify: async () => undefined };
  const invoke = lambdaInvoker(lambda);
  return {
    notify: async (jobId, status) => {
      await invoke(functionName, { jobId, status });
    },
  };
}

/** The notifier function for a function that notifies only when it ends a job: Lambda imported then. */
export function notifierOnFirstUse(): JobNotifier {
  return notifierFunction(
    onFirstUse(
      () => import('@aws-sdk/client-lambda'),
      (sdk) => new sdk.LambdaClient({}),
    ),
  );
}
