import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import { newWebhookSecret } from '#adapters/webhook-sender.ts';
import * as z from '#core/zod.ts';

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

/** What the handler reads of the provider's event: anything else is not a request it can answer. */
const writerEvent = z.looseObject({
  RequestType: z.enum(['Create', 'Update', 'Delete']),
  ResourceProperties: z.looseObject({ SecretId: z.optional(z.string()) }),
  OldResourceProperties: z.optional(z.looseObject({ SecretId: z.optional(z.unknown()) })),
  PhysicalResourceId: z.optional(z.string()),
  RequestId: z.optional(z.string()),
});

export function createWebhookSecretHandler(deps: WebhookSecretWriterDeps) {
  return async (input: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> => {
    const parsed = writerEvent.safeParse(input);
    if (!parsed.success) throw new Error(`not a custom resource request: ${parsed.error.message}`);
    const event = parsed.data;
    const secretId = event.ResourceProperties.SecretId ?? '';
    if (!secretId) throw new Error('the SecretId property is required');
    // A new secret (created, or replaced by another) gets a value; anything else keeps the one it has.
    const isNewSecret =
      event.RequestType === 'Create' ||
      (event.RequestType === 'Update' && event.OldResourceProperties?.SecretId !== secretId);
    if (isNewSecret) {
      try {
        await deps.putSecretValue(secretId, deps.newSecret());
      } catch (error) {
        throw new Error(`could not write the webhook secret ${secretId}: ${(error as Error).message}`);
      }
    }
    // Deleting keeps the id CloudFormation names; a Delete without one is answered with the secret's.
    return {
      PhysicalResourceId: event.RequestType === 'Delete' ? (event.PhysicalResourceId ?? secretId) : secretId,
    };
  };
}

const client = new SecretsManagerClient({});

export const handler = createWebhookSecretHandler({
  putSecretValue: async (secretId, value) => {
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
  },
  newSecret: newWebhookSecret,
});
