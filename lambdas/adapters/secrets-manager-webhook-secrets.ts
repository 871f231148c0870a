import { GetParameterError } from '@aws-lambda-powertools/parameters/errors';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { WebhookSecrets } from '#core/webhook.ts';
import { isWebhookSecret } from './webhook-sender.ts';

export interface SecretsManagerWebhookSecretsOptions {
  readonly client: SecretsManagerClient;
  /** The secret's name or ARN for a pool, e.g. `libra/webhooks/<pool>`. */
  readonly secretIdFor: (pool: string) => string;
  /** How long a read secret is used before it is read again, so that a rotated value is taken up. */
  readonly maxAgeSeconds?: number;
}

/** Five minutes: docs/deploy.md tells a pool owner that a rotated secret is taken up within that. */
const DEFAULT_MAX_AGE_SECONDS = 300;

/**
 * Each pool's signing secret from Secrets Manager, through Powertools Parameters' provider, which
 * keeps a read value for `maxAgeSeconds`. A value that is not a Standard Webhooks secret is
 * refused, and read again on the next call rather than kept; a secret that cannot be read (missing,
 * denied, throttled) fails with the SDK's own error, and nothing is kept either.
 */
export class SecretsManagerWebhookSecrets implements WebhookSecrets {
  readonly #provider: SecretsProvider;
  readonly #secretIdFor: (pool: string) => string;
  readonly #maxAge: number;
  /** Secrets whose last value was refused: the next read skips the provider's cache. */
  readonly #refused = new Set<string>();

  constructor(options: SecretsManagerWebhookSecretsOptions) {
    this.#provider = new SecretsProvider({ awsSdkV3Client: options.client });
    this.#secretIdFor = options.secretIdFor;
    this.#maxAge = options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
  }

  async secretFor(pool: string): Promise<string> {
    const secretId = this.#secretIdFor(pool);
    let value: unknown;
    try {
      value = await this.#provider.get(secretId, {
        maxAge: this.#maxAge,
        forceFetch: this.#refused.has(secretId),
      });
    } catch (error) {
      // The provider wraps the SDK's error; callers and the logs know the SDK's (ResourceNotFoundException, …).
      throw error instanceof GetParameterError && error.cause instanceof Error ? error.cause : error;
    }
    const secret = typeof value === 'string' ? value.trim() : '';
    if (!isWebhookSecret(secret)) {
      this.#refused.add(secretId);
      throw new Error(`secret ${secretId} is not a Standard Webhooks secret (whsec_ + base64)`);
    }
    this.#refused.delete(secretId);
    return secret;
  }
}
