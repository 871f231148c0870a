import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfigError, type LibraConfig, parseConfig } from '#core/config.ts';
import { newJobId } from '#core/job-record.ts';
import { JobService } from '#core/job-service.ts';
import type { ApiDeps } from '#handlers/api-deps.ts';
import { DynamoJobStore } from './dynamo-job-store.ts';

/** The composition root: the one place where adapters are chosen and wired to the use cases. */

export interface ApiWiring {
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly config: LibraConfig;
  readonly logger: Logger;
  readonly allowInsecureWebhooks: boolean;
}

export function composeApi(wiring: ApiWiring): ApiDeps {
  const store = new DynamoJobStore({
    client: wiring.documentClient,
    tableName: wiring.tableName,
    retentionDays: wiring.config.retention.days,
  });
  const jobs = new JobService({
    store,
    config: wiring.config,
    clock: () => new Date(),
    newJobId,
    allowInsecureWebhooks: wiring.allowInsecureWebhooks,
  });
  return { config: wiring.config, logger: wiring.logger, jobs };
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

/**
 * Deployed wiring, read from the environment the stack sets, once per Lambda container and
 * checked at init so that a misconfigured function fails before its first request.
 */
export function apiDepsFromEnvironment(): ApiDeps {
  let rawConfig: unknown;
  try {
    rawConfig = JSON.parse(requiredEnv('LIBRA_CONFIG'));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`LIBRA_CONFIG is not JSON: ${(error as Error).message}`);
  }
  return composeApi({
    documentClient: documentClient(new DynamoDBClient({})),
    tableName: requiredEnv('TABLE_NAME'),
    config: parseConfig(rawConfig),
    logger: new Logger({ serviceName: 'libra' }),
    allowInsecureWebhooks: false,
  });
}
