import type { LookupFunction } from 'node:net';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SecretsManagerWebhookSecrets } from '#adapters/secrets-manager-webhook-secrets.ts';
import {
  HttpWebhookSender,
  isWebhookSecret,
  localWebhookSecrets,
  newWebhookSecret,
  signatureHeaders,
  WEBHOOK_TIMEOUT_MS,
} from '#adapters/webhook-sender.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const BODY = JSON.stringify({ type: 'job.succeeded', timestamp: '2025-01-01T00:05:00.000Z', data: {} });

describe('Standard Webhooks signature', () => {
  it('verifies with the standardwebhooks library, and only for this body, id and secret', () => {
    const now = new Date();
    const headers = signatureHeaders('msg_1', now, BODY, SECRET);
    expect(headers['webhook-id']).toBe('msg_1');
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(now.getTime() / 1000)));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(SECRET).verify(BODY, headers)).toEqual(JSON.parse(BODY));

    expect(() => new Webhook(SECRET).verify(`${BODY} `, headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(SECRET).verify(BODY, { ...headers, 'webhook-id': 'msg_2' })).toThrow(
      WebhookVerificationError,
    );
    expect(() => new Webhook(newWebhookSecret()).verify(BODY, headers)).toThrow(WebhookVerificationError);
  });

  it('is HMAC-SHA256 over id.timestamp.body with the base64 key after whsec_', async () => {
    const { createHmac } = await import('node:crypto');
    const at = new Date('2025-01-01T00:00:00.000Z');
    const expected = createHmac('sha256', Buffer.from(SECRET.slice('whsec_'.length), 'base64'))
      .update(`msg_1.${at.getTime() / 1000}.${BODY}`)
      .digest('base64');
    expect(signatureHeaders('msg_1', at, BODY, SECRET)['webhook-signature']).toBe(`v1,${expected}`);
  });
});

describe('webhook secrets', () => {
  it('accepts whsec_ and base64 of 24 to 64 bytes only', () => {
    expect(isWebhookSecret(SECRET)).toBe(true);
    expect(isWebhookSecret(newWebhookSecret())).toBe(true);
    expect(isWebhookSecret(`whsec_${Buffer.alloc(24).toString('base64')}`)).toBe(true);
    expect(isWebhookSecret(`whsec_${Buffer.alloc(64).toString('base64')}`)).toBe(true);
    for (const bad of [
      '',
      'whsec_',
      SECRET.slice('whsec_'.length),
      `whsec_${Buffer.alloc(23).toString('base64')}`,
      `whsec_${Buffer.alloc(65).toString('base64')}`,
      'whsec_not base64 at all!!!!!!!!!!!!!!!!',
      `${SECRET}\n`,
    ]) {
      expect(isWebhookSecret(bad), bad).toBe(false);
    }
  });

  it('locally: LIBRA_WEBHOOK_SECRET for every pool, or a new one the runtime prints', async () => {
    const given = localWebhookSecrets({ LIBRA_WEBHOOK_SECRET: SECRET });
    expect(given).toMatchObject({ secret: SECRET, generated: false });
    await expect(given.secrets.secretFor('any-pool')).resolves.toBe(SECRET);

    const made = localWebhookSecrets({});
    expect(made.generated).toBe(true);
    expect(isWebhookSecret(made.secret)).toBe(true);
    await expect(made.secrets.secretFor('default')).resolves.toBe(made.secret);
    expect(localWebhookSecrets({ LIBRA_WEBHOOK_SECRET: '' }).secret).not.toBe(made.secret);

    expect(() => localWebhookSecrets({ LIBRA_WEBHOOK_SECRET: 'hunter2' })).toThrow(/whsec_/);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('in AWS: one read per pool from Secrets Manager, kept until the cache time passes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(0);
    const reads: string[] = [];
    let value = SECRET;
    // A real client whose requests end in this middleware, before any network.
    const client = new SecretsManagerClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    client.middlewareStack.add(
      (_next, context) => async (args) => {
        expect(context.commandName).toBe('GetSecretValueCommand');
        reads.push((args.input as { SecretId: string }).SecretId);
        if (value === 'fail')
          throw Object.assign(new Error('AccessDenied'), { name: 'AccessDeniedException' });
        return { output: { SecretString: value, $metadata: {} }, response: {} };
      },
      { step: 'initialize' },
    );
    const secrets = new SecretsManagerWebhookSecrets({
      client,
      secretIdFor: (pool) => `libra/webhooks/${pool}`,
      maxAgeSeconds: 1,
    });
    await expect(secrets.secretFor('a')).resolves.toBe(SECRET);
    await expect(secrets.secretFor('a')).resolves.toBe(SECRET);
    await secrets.secretFor('b');
    expect(reads).toEqual(['libra/webhooks/a', 'libra/webhooks/b']);

    vi.setSystemTime(1001);
    value = 'fail';
    await expect(secrets.secretFor('a')).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: 'AccessDenied',
    });
    value = 'plain-password';
    await expect(secrets.secretFor('a')).rejects.toThrow(/not a Standard Webhooks secret/);
    value = SECRET;
    await expect(secrets.secretFor('a')).resolves.toBe(SECRET);
    // The failed and the invalid reads were not kept: each call after them read again.
    expect(reads).toEqual(['a', 'b', 'a', 'a', 'a'].map((pool) => `libra/webhooks/${pool}`));
    await secrets.secretFor('a');
    expect(reads).toHaveLength(5);
  });
});

describe('HttpWebhookSender before any connection', () => {
  const request = (url: string) => ({ url, id: 'msg_1', timestamp: new Date(), body: BODY, secret: SECRET });

  it('refuses what is not an https URL when deployed, without resolving or connecting', async () => {
    const lookups: string[] = [];
    // Never the real resolver: were the check missing, the name would be looked up here, and fail.
    const lookup = ((hostname: string, _options: unknown, callback: (error: Error) => void) => {
      lookups.push(hostname);
      callback(new Error('no resolution in this test'));
    }) as unknown as LookupFunction;
    const sender = new HttpWebhookSender({ lookup });
    for (const [url, error] of [
      ['not a url', 'the webhook is not a valid URL'],
      ['ftp://hooks.example.com/x', 'ftp: webhooks are not sent'],
      ['file:///etc/passwd', 'file: webhooks are not sent'],
      ['http://hooks.example.com/x', 'webhooks must use https'],
    ] as const) {
      await expect(sender.send(request(url)), url).resolves.toMatchObject({ outcome: 'refused', error });
    }
    expect(lookups).toEqual([]);
  });

  it('waits 10 s at most by default', () => {
    expect(WEBHOOK_TIMEOUT_MS).toBe(10_000);
  });
});
