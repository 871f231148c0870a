import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGatewayServer, type LocalRoute } from '../../local/api-gateway.ts';
import { type LocalProcess, startLocalProcess } from '../support/local-process.ts';
import { type RawReply, rawExchange, rawRequest, sleep, write } from '../support/raw-http.ts';

/**
 * The local HTTP edge faces whatever a client sends: no request, header, body, slow client or
 * disconnect may end the runtime. Each is answered 4xx as API Gateway would, or dropped alone.
 */

const KIB = 1024;
const MIB = 1024 * KIB;
const SUBMIT = '/api/v1/spark/jobs/submit';

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * KIB;
}

const request = (method: string, target: string, headers: string[] = [], body = '') =>
  `${method} ${target} HTTP/1.1\r\nhost: localhost\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`;

describe('the running runtime (node local/main.ts) against requests that used to end it', () => {
  let runtime: LocalProcess;
  let port: number;
  let pid: number;

  beforeAll(async () => {
    runtime = await startLocalProcess();
    port = Number(new URL(runtime.url).port);
    pid = runtime.child.pid as number;
  });
  afterAll(async () => {
    // Still running after everything below, and it stops cleanly.
    expect(runtime.child.exitCode).toBeNull();
    expect(await runtime.stop()).toBe(0);
  });

  async function stillServing(): Promise<void> {
    expect(runtime.child.exitCode, runtime.output()).toBeNull();
    const health = await rawRequest(port, request('GET', '/health'));
    expect(health.status, health.text).toBe(200);
  }

  it('GET and DELETE /api/v1/spark/jobs/%E0%A4%A, %ZZ and % answer 404 (no route matches a path that does not decode)', async () => {
    for (const malformed of ['%E0%A4%A', '%ZZ', '%', '%E0%A4', '%C0%AF', 'a%2Fb']) {
      for (const method of ['GET', 'DELETE']) {
        const reply = await rawRequest(port, request(method, `/api/v1/spark/jobs/${malformed}`));
        expect(reply.status, `${method} ${malformed}: ${reply.text}`).toBe(404);
        expect(reply.text).toContain('{"message":"Not Found"}');
      }
    }
    await stillServing();
  });

  it('the path // (and //health, ///api) answers 404', async () => {
    for (const path of ['//', '//health', '///api/v1/spark/jobs', '//api/v1/spark/jobs/x']) {
      const reply = await rawRequest(port, request('GET', path));
      expect(reply.status, `${path}: ${reply.text}`).toBe(404);
    }
    await stillServing();
  });

  it('a malformed request line (or framing) answers 400', async () => {
    for (const line of [
      'GARBAGE\r\n\r\n',
      'GET /a b c HTTP/1.1\r\n\r\n',
      'GET\r\n\r\n',
      'GET / HTTP/9\r\n\r\n',
      'BREW /health HTTP/1.1\r\n\r\n',
      '\x00\x01\x02 / HTTP/1.1\r\n\r\n',
      'GET /\x7f HTTP/1.1\r\n\r\n',
      'GET * HTTP/1.1\r\nhost: x\r\n\r\n',
      'POST /health HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n',
    ]) {
      const reply = await rawRequest(port, line);
      expect(reply.status, JSON.stringify(line)).toBe(400);
      expect(reply.text).toContain('{"message":"Bad Request"}');
    }
    await stillServing();
  });

  it('a client that disconnects mid-upload (head -c 5000000 /dev/zero | curl --limit-rate 200k -m 1 … /submit)', async () => {
    const slowly = async (socket: Socket, head: string) => {
      await write(socket, head);
      // 200 kB/s for one second, as curl --limit-rate 200k -m 1, then gone.
      for (let sent = 0; sent < 200_000 && !socket.destroyed; sent += 20_000) {
        await write(socket, Buffer.alloc(20_000));
        await sleep(100);
      }
      socket.destroy();
    };
    const json = 'content-type: application/json';
    // As curl sends it: the whole length declared, Expect: 100-continue.
    const declared = await rawExchange(port, {
      waitMs: 0,
      send: (socket) =>
        slowly(socket, request('POST', SUBMIT, [json, 'content-length: 5000000', 'expect: 100-continue'])),
    });
    // Refused before a byte of the body is read: the length alone is over the limit.
    expect(declared.text).not.toContain('100 Continue');
    expect(declared.status).toBe(413);
    // A length under the limit, so the edge reads the body when the client goes away.
    await rawExchange(port, {
      waitMs: 0,
      send: (socket) =>
        slowly(socket, request('POST', SUBMIT, [json, 'content-length: 250000', 'expect: 100-continue'])),
    });
    // No length at all (chunked): the same, read as it streams.
    await rawExchange(port, {
      waitMs: 0,
      async send(socket) {
        await write(socket, request('POST', SUBMIT, [json, 'transfer-encoding: chunked']));
        for (let i = 0; i < 10; i++) {
          await write(socket, `4e20\r\n${'0'.repeat(20_000)}\r\n`);
          await sleep(100);
        }
        socket.destroy();
      },
    });
    await stillServing();
  });

  it('headers over what Node parses (16 KiB) answer 431; request line and header values over API Gateway’s 10240 bytes answer 431', async () => {
    const huge = await rawRequest(port, request('GET', '/health', [`x-big: ${'a'.repeat(20 * KIB)}`]));
    expect(huge.status).toBe(431);
    const overQuota = await rawRequest(
      port,
      request('GET', '/api/v1/spark/jobs', [`x-big: ${'a'.repeat(10_300)}`]),
    );
    expect(overQuota.status).toBe(431);
    const many = await rawRequest(
      port,
      request(
        'GET',
        '/api/v1/spark/jobs',
        Array.from({ length: 3_000 }, (_, i) => `x-${i}: 1`),
      ),
    );
    expect(many.status).toBeGreaterThanOrEqual(400);
    expect(many.status).toBeLessThan(500);
    await stillServing();
  });

  it('eight concurrent 10 MiB bodies to submit, streamed: each 413 after at most the limit and a margin, RSS bounded', async () => {
    const before = rssBytes(pid);
    const oversized = async (): Promise<{ reply: RawReply; written: number }> => {
      let written = 0;
      const reply = await rawExchange(port, {
        waitMs: 2_000,
        async send(socket, answer) {
          await write(
            socket,
            request('POST', SUBMIT, ['content-type: application/json', 'transfer-encoding: chunked']),
          );
          const chunk = Buffer.concat([
            Buffer.from('10000\r\n'),
            Buffer.alloc(64 * KIB, 0x20),
            Buffer.from('\r\n'),
          ]);
          // As fast as the server takes it, until it answers or the 10 MiB are sent.
          while (written < 10 * MIB && answer().status === undefined && !socket.destroyed) {
            await write(socket, chunk);
            written += 64 * KIB;
          }
          await write(socket, '0\r\n\r\n');
        },
      });
      return { reply, written };
    };
    const results = await Promise.all(Array.from({ length: 8 }, oversized));
    const after = rssBytes(pid);
    for (const { reply } of results) {
      expect(reply.status, reply.text).toBe(413);
      expect(reply.text).toContain('urn:libra:problem:payload-too-large');
    }
    console.info(
      `8 × 10 MiB streamed bodies: RSS ${(before / MIB).toFixed(0)} → ${(after / MIB).toFixed(0)} MiB; client bytes written before the 413: ${results.map((r) => (r.written / KIB).toFixed(0)).join(', ')} KiB`,
    );
    expect(after - before).toBeLessThan(64 * MIB);
    await stillServing();
  });

  it('fuzz: methods, paths with arbitrary bytes and escapes, header sets, bodies, early closes — never a 5xx, /health always answers, RSS bounded', async () => {
    const before = rssBytes(pid);
    const byteString = (max: number) =>
      fc.uint8Array({ maxLength: max }).map((bytes) => Buffer.from(bytes).toString('latin1'));
    const percentEscape = fc.oneof(
      fc.integer({ min: 0, max: 255 }).map((n) => `%${n.toString(16).padStart(2, '0').toUpperCase()}`),
      fc.constantFrom('%', '%Z', '%ZZ', '%E0%A4%A', '%C0%AF', '%FF%FE', '%00', '%2F', '%25', '%u0041'),
    );
    const segment = fc
      .array(
        fc.oneof(
          { weight: 12, arbitrary: fc.stringMatching(/^[\w.~-]{0,8}$/) },
          { weight: 4, arbitrary: percentEscape },
          { weight: 1, arbitrary: byteString(3) },
        ),
        { maxLength: 4 },
      )
      .map((parts) => parts.join(''));
    const path = fc.oneof(
      fc.constantFrom('/health', SUBMIT, '/api/v1/spark/jobs', '/api/v1/spark/pools', '//', '/', '*'),
      segment.map((s) => `/api/v1/spark/jobs/${s}`),
      segment.map((s) => `/api/v1/spark/jobs/${s}/events`),
      segment.map((s) => `/local/jobs/${s}/runs/${s}/stdout.txt`),
      fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
      segment.map((s) => `http://example.com/api/v1/spark/jobs/${s}`),
    );
    const query = fc.option(
      fc
        .array(fc.tuple(segment, segment), { maxLength: 4 })
        .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
      { nil: '' },
    );
    const method = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.constantFrom('GET', 'POST', 'DELETE', 'GET', 'POST', 'PUT', 'HEAD', 'OPTIONS'),
      },
      { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z]{1,10}$/) },
      { weight: 1, arbitrary: byteString(6) },
    );
    const header = fc.oneof(
      {
        weight: 12,
        arbitrary: fc.constantFrom(
          'content-type: application/json',
          'content-type: text/plain',
          'content-type: application/octet-stream',
          'expect: 100-continue',
          'expect: something-else',
          'connection: close',
          'connection: keep-alive',
          'x-libra-user: fuzzer',
          'x-libra-user: ',
          'cookie: a=b; __proto__=x',
          '__proto__: x',
          'constructor: y',
          'host:',
          'content-encoding: gzip',
          'transfer-encoding: gzip, chunked',
        ),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.stringMatching(/^[!#$%&'*+.^_`|~\w-]{1,20}$/), byteString(40))
          .map(([n, v]) => `${n}: ${v}`),
      },
      { weight: 1, arbitrary: byteString(30) },
    );
    const headerSet = fc.oneof(
      { weight: 1, arbitrary: fc.constant([]) },
      { weight: 3, arbitrary: fc.array(header, { maxLength: 5 }) },
    );
    const body = fc.oneof(
      byteString(2_000),
      fc.json(),
      fc.constantFrom(
        '',
        '{"kind":"sql","code":"SELECT 1"}',
        '{"kind":"python","code":"   "}',
        '{"kind":"sql"}',
      ),
    );
    /** How the body is framed: mostly as a client would, sometimes wrong. */
    const framing = fc.oneof(
      { weight: 6, arbitrary: fc.constant<'length'>('length') },
      { weight: 2, arbitrary: fc.constant<'none'>('none') },
      { weight: 2, arbitrary: fc.constant<'chunked'>('chunked') },
      { weight: 1, arbitrary: fc.nat({ max: 20 * MIB }).map((n) => ({ wrongLength: n })) },
    );
    const version = fc.oneof(
      { weight: 8, arbitrary: fc.constant('HTTP/1.1') },
      { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 extra', '', 'http/1.1') },
    );
    const statuses = new Map<number | 'none', number>();
    const began = Date.now();
    // Early close: the client sends part of the request and goes away.
    const cut = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.nat() },
    );
    const hostile = fc.tuple(method, path, query, version, headerSet, body, framing, cut);
    // Requests a client means: they reach the handlers, whose answers must not be 5xx either.
    const plausible = fc.tuple(
      fc.constantFrom('GET', 'GET', 'POST', 'DELETE'),
      fc.oneof(
        fc.constantFrom(SUBMIT, '/api/v1/spark/jobs', '/api/v1/spark/pools', '/health'),
        fc.stringMatching(/^job-[\w-]{0,40}$/).map((id) => `/api/v1/spark/jobs/${id}`),
        fc.stringMatching(/^job-[\w-]{0,40}$/).map((id) => `/api/v1/spark/jobs/${id}/events`),
      ),
      fc.constantFrom(
        '',
        '?limit=1',
        '?status=RUNNING',
        '?limit=abc',
        '?tag=team:data',
        '?nextToken=%ZZ',
        '?limit=1&limit=2',
      ),
      fc.constant('HTTP/1.1'),
      fc.subarray([
        'content-type: application/json',
        'x-libra-user: fuzzer',
        'idempotency-key: k',
        'expect: 100-continue',
      ]),
      fc.oneof(
        fc.json(),
        fc.constantFrom('{"kind":"sql","code":"SELECT 1"}', '{"kind":"sql","code":"   "}', '{}'),
      ),
      fc.constant<'length'>('length'),
      fc.constant(undefined),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostile, plausible), async ([m, p, q, v, headers, b, frame, cutAt]) => {
        const bodyBytes = Buffer.from(b, 'latin1');
        const framed =
          frame === 'chunked'
            ? Buffer.concat([
                Buffer.from(bodyBytes.length > 0 ? `${bodyBytes.length.toString(16)}\r\n` : ''),
                bodyBytes,
                Buffer.from(bodyBytes.length > 0 ? '\r\n0\r\n\r\n' : '0\r\n\r\n'),
              ])
            : bodyBytes;
        const framingHeader =
          frame === 'length'
            ? [`content-length: ${bodyBytes.length}`]
            : frame === 'chunked'
              ? ['transfer-encoding: chunked']
              : frame === 'none'
                ? []
                : [`content-length: ${frame.wrongLength}`];
        const head = `${m} ${p}${q} ${v}\r\nhost: localhost\r\n${[...framingHeader, ...headers].map((h) => `${h}\r\n`).join('')}\r\n`;
        const whole = Buffer.concat([Buffer.from(head, 'latin1'), framed]);
        const bytes = cutAt === undefined ? whole : whole.subarray(0, cutAt % (whole.length + 1));
        const reply = await rawExchange(port, {
          waitMs: 100,
          async send(socket) {
            await write(socket, bytes);
            if (cutAt !== undefined) socket.destroy();
          },
        });
        statuses.set(reply.status ?? 'none', (statuses.get(reply.status ?? 'none') ?? 0) + 1);
        expect(
          reply.status ?? 0,
          `${JSON.stringify(bytes.toString('latin1'))}\n→ ${reply.text}`,
        ).toBeLessThan(500);
        expect(runtime.child.exitCode, runtime.output()).toBeNull();
      }),
      { numRuns: 500, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    await stillServing();
    const after = rssBytes(pid);
    console.info(
      `fuzz: ${Date.now() - began} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}; RSS ${(before / MIB).toFixed(0)} → ${(after / MIB).toFixed(0)} MiB`,
    );
    // Real answers, not only refusals: the fuzz reaches the handlers too.
    expect([...statuses.keys()].some((s) => typeof s === 'number' && s < 300)).toBe(true);
    expect(after - before).toBeLessThan(64 * MIB);
  }, 90_000);
});

describe('the edge’s limits, with short time limits and a small body limit', () => {
  let server: Server;
  let port: number;
  let serverSockets: Socket[] = [];
  const handled: { path: string; body?: string; isBase64Encoded: boolean }[] = [];
  const routes: LocalRoute[] = [
    {
      routeKey: 'POST /echo',
      functionName: 'echo',
      maxBodyBytes: 1_024,
      handler: async (event) => {
        handled.push({ path: event.rawPath, body: event.body, isBase64Encoded: event.isBase64Encoded });
        return { statusCode: 200, body: JSON.stringify({ length: event.body?.length ?? 0 }) };
      },
    },
    {
      routeKey: 'GET /things/{id}',
      functionName: 'things',
      handler: async (event) => {
        handled.push({ path: event.rawPath, body: event.body, isBase64Encoded: event.isBase64Encoded });
        return { statusCode: 200, body: JSON.stringify(event.pathParameters) };
      },
    },
    {
      routeKey: 'GET /broken',
      functionName: 'broken',
      handler: async () => {
        throw new Error('a bug');
      },
    },
  ];
  const handlerErrors: unknown[] = [];

  beforeAll(async () => {
    server = apiGatewayServer({
      routes,
      onHandlerError: (error) => handlerErrors.push(error),
      limits: { headersTimeoutMs: 500, requestTimeoutMs: 1_000, lingerMs: 300 },
    });
    server.on('connection', (socket: Socket) => serverSockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Sends `head`, then one byte every 50 ms until the edge answers; resolves with the answer and the time taken. */
  async function trickle(head: string): Promise<{ reply: RawReply; took: number }> {
    const began = Date.now();
    const reply = await rawExchange(port, {
      waitMs: 3_000,
      async send(socket, answer) {
        await write(socket, head);
        while (answer().status === undefined && !socket.destroyed && Date.now() - began < 3_000) {
          await write(socket, 'x');
          await sleep(50);
        }
      },
    });
    return { reply, took: Date.now() - began };
  }

  it('headers that arrive too slowly: 408, then the connection is closed', async () => {
    const { reply, took } = await trickle('GET /things/1 HTTP/1.1\r\nhost: x\r\n');
    expect(reply.status).toBe(408);
    expect(reply.closedByServer).toBe(true);
    expect(took).toBeLessThan(2_500);
  });

  it('a body that arrives too slowly: 408, and the handler never runs', async () => {
    const before = handled.length;
    const { reply, took } = await trickle('POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n');
    expect(reply.status).toBe(408);
    expect(took).toBeLessThan(2_500);
    expect(handled.length).toBe(before);
  });

  it('a streamed body over the limit: 413 having read at most the limit and one chunk past it', async () => {
    serverSockets = [];
    const reply = await rawExchange(port, {
      waitMs: 1_000,
      async send(socket, answer) {
        await write(socket, 'POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
        for (let i = 0; i < 100 && answer().status === undefined && !socket.destroyed; i++) {
          await write(socket, `100\r\n${'y'.repeat(256)}\r\n`);
          await sleep(10);
        }
      },
    });
    expect(reply.status).toBe(413);
    expect(reply.text).toContain('"detail":"the body is more than 1024 bytes; the limit is 1024"');
    const [socket] = serverSockets;
    // Request line, headers, the limit, one chunk past it and its framing; nothing near 100 chunks.
    expect(socket?.bytesRead).toBeLessThan(1_024 + 256 * 3 + 200);
  });

  it('Expect: 100-continue with a length over the limit: 413 at once, no 100 Continue, no body read', async () => {
    serverSockets = [];
    const reply = await rawRequest(
      port,
      'POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5000000\r\nexpect: 100-continue\r\n\r\n',
    );
    expect(reply.status).toBe(413);
    expect(reply.text).not.toContain('100 Continue');
    expect(serverSockets[0]?.bytesRead).toBeLessThan(200);
  });

  it('Expect: 100-continue with a length that fits: 100 Continue, then the body reaches the handler whole', async () => {
    const reply = await rawExchange(port, {
      waitMs: 1_000,
      async send(socket, answer) {
        await write(
          socket,
          'POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1024\r\nexpect: 100-continue\r\n\r\n',
        );
        await sleep(100);
        expect(answer().text).toMatch(/^HTTP\/1\.1 100 Continue/);
        await write(socket, 'z'.repeat(1_024));
      },
    });
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('{"length":1024}');
  });

  it('a binary body within the limit reaches the handler as base64, byte for byte', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const reply = await rawRequest(
      port,
      Buffer.concat([
        Buffer.from(
          'POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 256\r\n\r\n',
        ),
        bytes,
      ]),
    );
    expect(reply.status).toBe(200);
    const last = handled.at(-1);
    expect(last?.isBase64Encoded).toBe(true);
    expect(Buffer.from(last?.body ?? '', 'base64').equals(bytes)).toBe(true);
  });

  it('a route that reads no body drains one without holding it, and leaves it out of the event', async () => {
    const reply = await rawRequest(
      port,
      `GET /things/a%20b HTTP/1.1\r\nhost: x\r\ncontent-length: ${2 * MIB}\r\n\r\n${'q'.repeat(2 * MIB)}`,
    );
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('{"id":"a b"}');
    expect(handled.at(-1)?.body).toBeUndefined();
  });

  it('a handler that throws fails its own request with 500; the next request is served', async () => {
    const broken = await rawRequest(port, 'GET /broken HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(broken.status).toBe(500);
    expect(handlerErrors).toHaveLength(1);
    expect((await rawRequest(port, 'GET /things/1 HTTP/1.1\r\nhost: x\r\n\r\n')).status).toBe(200);
  });
});
