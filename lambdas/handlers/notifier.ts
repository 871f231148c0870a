import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { documentClient } from '#adapters/compose.ts';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { HttpWebhookSender, SecretsManagerWebhookSecrets } from '#adapters/webhook-sender.ts';
import { ConfigError, parseConfig } from '#core/config.ts';
import { JOB_ID_PATTERN } from '#core/job-record.ts';
import { JOB_STATUSES } from '#core/job-states.ts';
import { Notifier } from '#core/webhook.ts';
import * as z from '#core/zod.ts';

/** What the workflow's notify task passes (`arn:aws:states:::lambda:invoke`, Payload). */
export const notifierEventSchema = z.object({
  jobId: z.string().check(z.regex(JOB_ID_PATTERN)),
  status: z.enum(JOB_STATUSES),
});
export type NotifierEvent = z.infer<typeof notifierEventSchema>;

export interface NotifierResult {
  readonly delivered: boolean;
  readonly statusCode?: number;
  /** Why nothing was sent: the job is unknown, did not subscribe to the status, or had a 410. */
  readonly skipped?: 'unknown-job' | 'not-subscribed' | 'disabled';
}

/** The workflow passed something that is not a notify request; never retried. */
export class NotifierInputInvalid extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotifierInputInvalid';
  }
}

export interface NotifierHandlerDeps {
  readonly notifier: Notifier;
  readonly logger: Logger;
}

/**
 * The notifier Lambda, one invocation per subscribed event. It throws WebhookDeliveryFailed
 * (the ASL `Retry` retries it) or WebhookBlocked / NotifierInputInvalid (not retried); the
 * error's name is the `Error` the workflow sees. The ASL `Catch` then carries on.
 */
export function createNotifierHandler(deps: NotifierHandlerDeps) {
  return async (event: unknown, context?: Context): Promise<NotifierResult> => {
    if (context) deps.logger.addContext(context);
    const parsed = notifierEventSchema.safeParse(event);
    if (!parsed.success) {
      deps.logger.error('notify input is not valid', { issues: parsed.error.issues });
      throw new NotifierInputInvalid(`expected { jobId, status }: ${parsed.error.message}`);
    }
    const result = await deps.notifier.notify(parsed.data.jobId, parsed.data.status);
    if (result.delivered) return { delivered: true, statusCode: result.statusCode };
    if ('skipped' in result) return { delivered: false, skipped: result.skipped };
    return { delivered: false, statusCode: result.statusCode };
  };
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

/**
 * Deployed wiring, once per container: the table, the job history's retention from
 * LIBRA_CONFIG, and each pool's secret at `${WEBHOOK_SECRET_PREFIX}<pool>` in Secrets Manager
 * (default prefix `libra/webhooks/`). Guard on: https only, public addresses only.
 */
export function notifierFromEnvironment(): NotifierHandlerDeps {
  let rawConfig: unknown;
  try {
    rawConfig = JSON.parse(requiredEnv('LIBRA_CONFIG'));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`LIBRA_CONFIG is not JSON: ${(error as Error).message}`);
  }
  const config = parseConfig(rawConfig);
  const logger = new Logger({ serviceName: 'libra' });
  const prefix = process.env.WEBHOOK_SECRET_PREFIX ?? 'libra/webhooks/';
  const notifier = new Notifier({
    jobs: new DynamoJobStore({
      client: documentClient(new DynamoDBClient({})),
      tableName: requiredEnv('TABLE_NAME'),
      retentionDays: config.retention.days,
    }),
    sender: new HttpWebhookSender({ allowPrivateTargets: false }),
    secrets: new SecretsManagerWebhookSecrets({
      client: new SecretsManagerClient({}),
      secretIdFor: (pool) => `${prefix}${pool}`,
    }),
    clock: () => new Date(),
    logger,
  });
  return { notifier, logger };
}
