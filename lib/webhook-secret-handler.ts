import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import { newWebhookSecret } from '#adapters/webhook-sender.ts';

/**
 * The custom resource behind lib/notifier-function.ts, the onEvent handler of aws-cdk-lib's
 * `Provider`, whose framework function answers CloudFormation: with the physical id this returns,
 * or FAILED with the message of what this throws. Secrets Manager can generate random characters
 * but not a Standard Webhooks secret (`whsec_` + base64 of random bytes), so this writes one into
 * the pool's secret when the secret is created, and never again: a deploy must not change a secret
 * that webhook receivers verify with. The value goes straight to Secrets Manager; neither the
 * template, nor the answer to CloudFormation, nor the logs carry it.
 */

export interface WebhookSecretWriterDeps {
  readonly putSecretValue: (secretId: string, value: string) => Promise<void>;
  readonly newSecret: () => string;
}

export function createWebhookSecretHandler(deps: WebhookSecretWriterDeps) {
  return async (event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> => {
    const secretId = String(event.ResourceProperties.SecretId ?? '');
    if (!secretId) throw new Error('the SecretId property is required');
    // A new secret (created, or replaced by another) gets a value; anything else keeps the one it has.
    const isNewSecret =
      event.RequestType === 'Create' ||
      (event.RequestType === 'Update' && event.OldResourceProperties.SecretId !== secretId);
    if (isNewSecret) {
      try {
        await deps.putSecretValue(secretId, deps.newSecret());
      } catch (error) {
        throw new Error(`could not write the webhook secret ${secretId}: ${(error as Error).message}`);
      }
    }
    return { PhysicalResourceId: event.RequestType === 'Delete' ? event.PhysicalResourceId : secretId };
  };
}

const client = new SecretsManagerClient({});

export const handler = createWebhookSecretHandler({
  putSecretValue: async (secretId, value) => {
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
  },
  newSecret: newWebhookSecret,
});
