import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from 'aws-lambda';
import { newWebhookSecret } from '#adapters/webhook-sender.ts';

/**
 * The custom resource behind lib/webhook-secrets.ts. Secrets Manager can generate random
 * characters but not a Standard Webhooks secret (`whsec_` + base64 of random bytes), so this
 * writes one into the pool's secret when the secret is created, and never again: a deploy must
 * not change a secret that webhook receivers verify with. The value goes straight to Secrets
 * Manager; neither the template, nor the response to CloudFormation, nor the logs carry it.
 */

export interface WebhookSecretWriterDeps {
  readonly putSecretValue: (secretId: string, value: string) => Promise<void>;
  readonly newSecret: () => string;
  /** Sends the custom resource's response to the pre-signed URL CloudFormation gave. */
  readonly respond: (url: string, response: CloudFormationCustomResourceResponse) => Promise<void>;
}

export function createWebhookSecretHandler(deps: WebhookSecretWriterDeps) {
  return async (event: CloudFormationCustomResourceEvent): Promise<void> => {
    const secretId = String(event.ResourceProperties.SecretId ?? '');
    const base = {
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
    };
    let response: CloudFormationCustomResourceResponse;
    try {
      if (!secretId) throw new Error('the SecretId property is required');
      // A new secret (created, or replaced by another) gets a value; anything else keeps the one it has.
      const isNewSecret =
        event.RequestType === 'Create' ||
        (event.RequestType === 'Update' && event.OldResourceProperties.SecretId !== secretId);
      if (isNewSecret) await deps.putSecretValue(secretId, deps.newSecret());
      response = {
        ...base,
        Status: 'SUCCESS',
        PhysicalResourceId: event.RequestType === 'Delete' ? event.PhysicalResourceId : secretId,
      };
    } catch (error) {
      response = {
        ...base,
        Status: 'FAILED',
        Reason: `could not write the webhook secret ${secretId}: ${(error as Error).message}`.slice(0, 1000),
        // A failed create still needs an id; CloudFormation then deletes it, which does nothing.
        PhysicalResourceId:
          event.RequestType === 'Create' ? `failed-${event.RequestId}` : event.PhysicalResourceId,
      };
    }
    await deps.respond(event.ResponseURL, response);
  };
}

/** PUT of the response as cfn-response does it: the pre-signed URL was signed with no content type. */
export async function respondToCloudFormation(
  url: string,
  response: CloudFormationCustomResourceResponse,
): Promise<void> {
  const reply = await fetch(url, {
    method: 'PUT',
    body: JSON.stringify(response),
    headers: { 'content-type': '' },
  });
  if (!reply.ok) throw new Error(`CloudFormation refused the response: HTTP ${reply.status}`);
}

const client = new SecretsManagerClient({});

export const handler = createWebhookSecretHandler({
  putSecretValue: async (secretId, value) => {
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
  },
  newSecret: newWebhookSecret,
  respond: respondToCloudFormation,
});
