import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request the receiver got, with what its signature check found. */
export interface Delivery {
  readonly webhookId: string | undefined;
  readonly body: string;
  /** The payload when the Standard Webhooks signature verified with the secret. */
  readonly payload: unknown;
  /** Why the signature did not verify; undefined when it did. */
  readonly rejected: string | undefined;
}

export interface WebhookReceiver {
  /** The URL jobs are told to deliver to. */
  readonly url: string;
  readonly deliveries: readonly Delivery[];
  /** The first delivery (already received or still to come) that `matches`, or undefined after `timeoutMs`. */
  next(matches: (delivery: Delivery) => boolean, timeoutMs: number): Promise<Delivery | undefined>;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** Where to listen. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /**
   * The URL the deployment delivers to, when that is not the listening address itself: a tunnel or
   * proxy that forwards to it. Absent, jobs deliver straight to `http://host:port/libra-smoke`.
   */
  readonly publicUrl?: string;
  /** The Standard Webhooks signing secret (`whsec_…`) of the pool the smoke's jobs run in. */
  readonly secret: string;
}

/** The most of a body the receiver reads: Libra's payloads are a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/** An HTTP server that takes webhook deliveries and checks each one's signature, as a customer's receiver would. */
export async function startWebhookReceiver(options: ReceiverOptions): Promise<WebhookReceiver> {
  const verifier = new Webhook(options.secret);
  const deliveries: Delivery[] = [];
  const waiters = new Set<(delivery: Delivery) => void>();

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      if (request.method !== 'POST' || size > MAX_BODY_BYTES) {
        response.writeHead(request.method !== 'POST' ? 405 : 413).end();
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string') headers[name] = value;
      }
      let payload: unknown;
      let rejected: string | undefined;
      try {
        payload = verifier.verify(body, headers);
      } catch (error) {
        rejected = (error as Error).message;
      }
      const delivery: Delivery = { webhookId: headers['webhook-id'], body, payload, rejected };
      deliveries.push(delivery);
      // Answered 2xx either way: the smoke judges the delivery, not the sender's retries.
      response.writeHead(204).end();
      for (const waiter of waiters) waiter(delivery);
    });
  });
  server.listen(options.port, options.host);
  try {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([error]) => {
        throw error;
      }),
    ]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`the webhook receiver cannot listen on ${options.host}:${options.port} (${code})`);
  }
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;

  return {
    url: options.publicUrl ?? `http://${host}:${port}/libra-smoke`,
    deliveries,
    next(matches, timeoutMs) {
      const found = deliveries.find(matches);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => {
        const waiter = (delivery: Delivery) => {
          if (!matches(delivery)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(delivery);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          resolve(undefined);
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
