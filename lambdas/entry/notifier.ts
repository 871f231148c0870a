import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { configFromEnvironment, requiredEnv } from '#adapters/aws-environment.ts';
import { logger, traced } from '#adapters/powertools.ts';
import { SecretsManagerWebhookSecrets } from '#adapters/secrets-manager-webhook-secrets.ts';
import { documentClient, jobStore } from '#adapters/table-stores.ts';
import { HttpWebhookSender } from '#adapters/webhook-sender.ts';
import { edge } from '#compose/edge.ts';
import { Notifier } from '#core/webhook.ts';
import { createNotifier, NOTIFIER_INPUT } from '#handlers/notifier.ts';

/**
 * The notifier: the table (the job and its history), each pool's signing secret at
 * `${WEBHOOK_SECRET_PREFIX}<pool>` in Secrets Manager (default prefix `libra/webhooks/`), and the
 * sender with its guard on: https only, public addresses only. Both clients at init: every
 * delivery reads the job and signs with the pool's secret.
 */
const config = configFromEnvironment();
const prefix = process.env.WEBHOOK_SECRET_PREFIX ?? 'libra/webhooks/';
const notifier = new Notifier({
  jobs: jobStore({
    documentClient: documentClient(traced(new DynamoDBClient({}))),
    tableName: requiredEnv('TABLE_NAME'),
    config,
  }),
  sender: new HttpWebhookSender({ allowPrivateTargets: false }),
  secrets: new SecretsManagerWebhookSecrets({
    client: traced(new SecretsManagerClient({})),
    secretIdFor: (pool) => `${prefix}${pool}`,
  }),
  clock: () => new Date(),
  logger,
});

export const handler = edge(NOTIFIER_INPUT, createNotifier({ notifier, logger }));
