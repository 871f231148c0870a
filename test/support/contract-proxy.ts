import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A proxy in front of a local runtime for clients that are not this process's fetch (curl in the
 * README's examples): it forwards each request with fetch, so the answer is checked against
 * docs/openapi.json on its way back (test/support/contract-setup.ts), and returns it unchanged.
 */
export interface ContractProxy {
  readonly url: string;
  close(): Promise<void>;
}

/** Hop-by-hop headers, and those fetch sets itself. */
const NOT_FORWARDED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startContractProxy(target: string): Promise<ContractProxy> {
  const server: Server = createServer((request, response) => {
    void (async () => {
      try {
        const headers = new Headers();
        for (const [name, value] of Object.entries(request.headers)) {
          if (value === undefined || NOT_FORWARDED.has(name)) continue;
          headers.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        const body = await bodyOf(request);
        const answer = await fetch(`${target}${request.url ?? '/'}`, {
          method: request.method ?? 'GET',
          headers,
          ...(body.length > 0 && { body }),
        });
        const bytes = Buffer.from(await answer.arrayBuffer());
        const out: Record<string, string> = {};
        answer.headers.forEach((value, name) => {
          if (!NOT_FORWARDED.has(name) && name !== 'content-encoding') out[name] = value;
        });
        out['content-length'] = String(bytes.length);
        response.writeHead(answer.status, out).end(bytes);
      } catch (error) {
        // A broken contract: the client gets a 599 naming it, and the test fails after it anyway.
        const message = (error as Error).message;
        response.writeHead(599, { 'content-type': 'text/plain' }).end(message);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
