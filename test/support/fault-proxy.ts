import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with one request. */
export type ProxyAction =
  | { readonly kind: 'forward' }
  /** Answers by itself; the target never sees the request. */
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly headers?: Record<string, string>;
      readonly body?: string;
    }
  /** Forwards, lets the target act on it, then cuts the connection: the caller never gets the answer. */
  | { readonly kind: 'drop-answer' };

export interface ProxiedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly at: number;
}

export interface FaultProxy {
  readonly url: string;
  readonly requests: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of a real server that injects the faults a network and an API Gateway
 * produce (throttling, 5xx, answers lost after the work was done) as `plan` decides per request.
 * Like an API Gateway stage it serves the API below a path, `/prod/`, which it takes off before
 * forwarding: its own answers are not the API's, and the contract check on the tests' fetch
 * (which looks at answers on `/api/…` paths) leaves them alone.
 */
export async function startFaultProxy(
  target: string,
  plan: (request: ProxiedRequest, index: number) => ProxyAction,
): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const request: ProxiedRequest = {
        method: incoming.method ?? 'GET',
        url: incoming.url ?? '/',
        headers: incoming.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      requests.push(request);
      const action = plan(request, requests.length - 1);
      if (action.kind === 'answer') {
        outgoing.writeHead(action.status, action.headers ?? {}).end(action.body ?? '');
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(incoming.headers).filter(
          ([name]) => !['host', 'connection', 'content-length'].includes(name),
        ),
      ) as Record<string, string>;
      fetch(new URL(request.url.replace(/^\/prod(?=\/)/, ''), target), {
        method: request.method,
        headers,
        ...(request.body !== '' && { body: request.body }),
      }).then(
        async (response) => {
          const text = await response.text();
          if (action.kind === 'drop-answer') {
            outgoing.socket?.destroy();
            return;
          }
          const answerHeaders: Record<string, string> = {};
          response.headers.forEach((value, name) => {
            if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection')
              answerHeaders[name] = value;
          });
          outgoing.writeHead(response.status, answerHeaders).end(text);
        },
        () => outgoing.socket?.destroy(),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/prod/`,
    requests,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
