import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LibraConfig } from '#core/config.ts';
import type { MetricsSink } from '#core/ports.ts';
import { DynamoJobStore } from './dynamo-job-store.ts';
import { DynamoPoolStore } from './dynamo-pool-store.ts';
import { DynamoUsageLedger } from './dynamo-usage-ledger.ts';

/**
 * The table's adapters, as every function that keeps jobs builds them: each entry takes the
 * stores its use case calls (lambdas/entry), the shared compositions both (lambdas/compose).
 */

/** What every function that keeps jobs has: the table, its configuration, logs and metrics. */
export interface StoreWiring {
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly config: LibraConfig;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
}

/** The jobs on the table: records, history, indexes, idempotency keys. */
export function jobStore(
  wiring: Pick<StoreWiring, 'documentClient' | 'tableName' | 'config'>,
): DynamoJobStore {
  return new DynamoJobStore({
    client: wiring.documentClient,
    tableName: wiring.tableName,
    retentionDays: wiring.config.retention.days,
  });
}

/** The pools on the table: leases, queue slots, counters. */
export function poolStore(wiring: Pick<StoreWiring, 'documentClient' | 'tableName'>): DynamoPoolStore {
  return new DynamoPoolStore({ client: wiring.documentClient, tableName: wiring.tableName });
}

/** The usage totals on the table: per-day sums by owner, pool and tag, and each pool's month spend. */
export function usageLedger(wiring: Pick<StoreWiring, 'documentClient' | 'tableName'>): DynamoUsageLedger {
  return new DynamoUsageLedger({ client: wiring.documentClient, tableName: wiring.tableName });
}

export const systemClock = (): Date => new Date();

/** The job and pool stores on the table, and the clock. */
export function composeStores(wiring: StoreWiring) {
  return {
    jobs: jobStore(wiring),
    pools: poolStore(wiring),
    ledger: usageLedger(wiring),
    clock: systemClock,
  };
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
