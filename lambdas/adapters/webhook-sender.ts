import { randomBytes } from 'node:crypto';
import { type ClientRequest, Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { Webhook } from 'standardwebhooks';
import type { WebhookRequest, WebhookResponse, WebhookSecrets, WebhookSender } from '#core/webhook.ts';

/** DESIGN §6: connect and response together. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** The receiver's body is read up to this much, then dropped unread; it is never used. */
export const WEBHOOK_MAX_RESPONSE_BYTES = 4096;
export const WEBHOOK_USER_AGENT = 'Libra-Webhooks/1';

export interface HttpWebhookSenderOptions {
  /**
   * Local runtime only: plain http and any address (loopback included), so that a developer
   * can receive webhooks on their machine. Deployed: https only, public addresses only.
   */
  readonly allowPrivateTargets?: boolean;
  readonly timeoutMs?: number;
  readonly maxResponseBytes?: number;
  /** Name resolution (dns.lookup by default); the guard checks whatever it answers. For tests. */
  readonly lookup?: LookupFunction;
}

/** The Standard Webhooks headers: HMAC-SHA256 over `id.timestamp.body`, keyed with the secret. */
export function signatureHeaders(
  id: string,
  timestamp: Date,
  body: string,
  secret: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, timestamp, body),
  };
}

/**
 * The agent's refusal. request-filtering-agent fails the connection with a plain Error whose
 * message says the address "is not allowed"; the integration tests pin this wording.
 */
function isGuardRefusal(error: Error): boolean {
  return /is not allowed\. Because/.test(error.message);
}

/** A short, address-free account of a network error: the history is shown to the job's owner. */
function networkError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `network error ${code}` : `network error: ${error.message.slice(0, 200)}`;
}

type Target =
  | { readonly ok: true; readonly url: URL; readonly hostname: string }
  | { readonly ok: false; readonly error: string };

/**
 * Sends webhooks with node:http(s) (fetch ignores agents). Deployed, the connection goes
 * through request-filtering-agent, which checks the address it is about to connect to, after
 * name resolution and on every connection: loopback, private, link-local (the metadata
 * address too), unique-local, IPv4-mapped, unspecified and every other non-unicast range are
 * refused, and so is a name that resolves to one (DNS rebinding included). IP literals written
 * in decimal, octal or hex are turned into dotted form by the URL parser before the agent sees
 * them. Redirects are never followed: a 3xx is an answer like any other non-2xx.
 */
export class HttpWebhookSender implements WebhookSender {
  readonly #allowPrivate: boolean;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #lookup: LookupFunction | undefined;
  readonly #httpAgent: HttpAgent;
  readonly #httpsAgent: HttpsAgent;

  constructor(options: HttpWebhookSenderOptions = {}) {
    this.#allowPrivate = options.allowPrivateTargets ?? false;
    this.#timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.#maxResponseBytes = options.maxResponseBytes ?? WEBHOOK_MAX_RESPONSE_BYTES;
    this.#lookup = options.lookup;
    if (this.#allowPrivate) {
      this.#httpAgent = new HttpAgent({ keepAlive: false });
      this.#httpsAgent = new HttpsAgent({ keepAlive: false });
    } else {
      const guard = { keepAlive: false, allowPrivateIPAddress: false, allowMetaIPAddress: false };
      this.#httpAgent = new RequestFilteringHttpAgent(guard);
      this.#httpsAgent = new RequestFilteringHttpsAgent(guard);
    }
  }

  #target(raw: string): Target {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { ok: false, error: 'the webhook is not a valid URL' };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      return { ok: false, error: `${url.protocol} webhooks are not sent` };
    }
    if (url.protocol === 'http:' && !this.#allowPrivate) {
      return { ok: false, error: 'webhooks must use https' };
    }
    // URL keeps IPv6 literals in brackets; without them the agent sees (and checks) an IP literal.
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (hostname === '') return { ok: false, error: 'the webhook has no host' };
    if (url.port === '0') return { ok: false, error: 'the webhook has port 0' };
    return { ok: true, url, hostname };
  }

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const target = this.#target(request.url);
    if (!target.ok) return { outcome: 'refused', error: target.error, durationMs: elapsed() };
    const { url, hostname } = target;
    const https = url.protocol === 'https:';
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(request.body)),
      'user-agent': WEBHOOK_USER_AGENT,
      ...signatureHeaders(request.id, request.timestamp, request.body, request.secret),
    };

    return new Promise<WebhookResponse>((resolve) => {
      let statusCode: number | undefined;
      let settled = false;
      let outgoing: ClientRequest | undefined;
      const finish = (failure?: { refused: boolean; error: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // Nothing more is read or sent; the connection is not kept.
        outgoing?.destroy();
        const durationMs = elapsed();
        if (statusCode !== undefined) resolve({ outcome: 'response', statusCode, durationMs });
        else if (failure?.refused) resolve({ outcome: 'refused', error: failure.error, durationMs });
        else resolve({ outcome: 'failed', error: failure?.error ?? 'no response', durationMs });
      };
      const timer = setTimeout(
        () => finish({ refused: false, error: `no response within ${this.#timeoutMs} ms` }),
        this.#timeoutMs,
      );

      try {
        outgoing = (https ? httpsRequest : httpRequest)(
          {
            protocol: url.protocol,
            hostname,
            port: url.port === '' ? undefined : Number(url.port),
            path: `${url.pathname}${url.search}`,
            method: 'POST',
            headers,
            agent: https ? this.#httpsAgent : this.#httpAgent,
            ...(this.#lookup && { lookup: this.#lookup }),
            ...(url.username !== '' && {
              auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
            }),
          },
          (response) => {
            statusCode = response.statusCode ?? 0;
            let read = 0;
            response.on('data', (chunk: Buffer) => {
              read += chunk.length;
              if (read > this.#maxResponseBytes) finish();
            });
            response.on('end', () => finish());
            response.on('error', () => finish());
            response.on('close', () => finish());
          },
        );
      } catch (error) {
        // Whatever node:http refuses before connecting: the send fails, and the sender does not throw.
        finish({ refused: false, error: networkError(error as Error) });
        return;
      }
      outgoing.on('error', (error: Error) =>
        finish(
          isGuardRefusal(error)
            ? { refused: true, error: 'the destination is not a public address' }
            : { refused: false, error: networkError(error) },
        ),
      );
      outgoing.end(request.body);
    });
  }
}

/** A Standard Webhooks secret: `whsec_` and base64 of 24 to 64 random bytes. */
export function isWebhookSecret(secret: string): boolean {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!match?.[1] || match[1].length % 4 !== 0) return false;
  const bytes = Buffer.from(match[1], 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface LocalWebhookSecrets {
  readonly secrets: WebhookSecrets;
  readonly secret: string;
  /** True when LIBRA_WEBHOOK_SECRET was unset and a secret was made: the runtime prints it. */
  readonly generated: boolean;
}

/** The local runtime's one secret for every pool: LIBRA_WEBHOOK_SECRET, or a new one. */
export function localWebhookSecrets(env: Readonly<Record<string, string | undefined>>): LocalWebhookSecrets {
  const given = env.LIBRA_WEBHOOK_SECRET?.trim();
  if (given !== undefined && given !== '' && !isWebhookSecret(given)) {
    throw new Error(
      'LIBRA_WEBHOOK_SECRET must be a Standard Webhooks secret: whsec_ followed by base64 of 24 to 64 bytes',
    );
  }
  const secret = given || newWebhookSecret();
  return { secrets: { secretFor: async () => secret }, secret, generated: !given };
}
