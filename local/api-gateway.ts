import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context } from 'aws-lambda';
import { PayloadTooLargeError } from '#core/errors.ts';
import type { HttpEvent, HttpResult } from '#handlers/http.ts';

/**
 * The local stand-in for API Gateway's HTTP API: it matches a route the way API Gateway does
 * (`METHOD /path/{param}`), turns the request into the same payload-format 2.0 event the
 * deployed Lambdas receive, calls the handler, and writes its result back.
 *
 * It is also the edge that faces whatever a client sends. No request can end the process: a
 * request that cannot be read is answered 4xx as API Gateway answers it, a client that goes away
 * is dropped alone, and nothing it sends is held beyond the route's body limit or its time limits.
 */

export type LambdaHandler = (event: HttpEvent, context: Context) => Promise<HttpResult | undefined>;

export interface LocalRoute {
  /** As API Gateway writes a route key: `GET /api/v1/spark/jobs/{jobId}`. */
  readonly routeKey: string;
  readonly functionName: string;
  readonly handler: LambdaHandler;
  /**
   * The largest body the handler accepts: a longer one is refused with 413 while it streams, so
   * no more than this is ever held. Absent, the handler reads no body: one is drained unheld (up
   * to API Gateway's payload limit) and left out of the event.
   */
  readonly maxBodyBytes?: number;
}

interface CompiledRoute extends LocalRoute {
  readonly method: string;
  readonly pattern: RegExp;
  readonly parameterNames: readonly string[];
}

/** API Gateway's own payload limit (HTTP API quota "Payload size: 10 MB"). */
export const API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** HTTP API quota "Total combined size of request line and header values: 10240 bytes". */
export const API_GATEWAY_MAX_HEADER_BYTES = 10_240;
const LAMBDA_TIMEOUT_MS = 29_000;
export const LOCAL_USER_HEADER = 'x-libra-user';
export const DEFAULT_LOCAL_USER = 'local-user';

export interface EdgeLimits {
  /** Time for the request line and headers to arrive (Node answers 408 past it). */
  readonly headersTimeoutMs: number;
  /** Time for the whole request, body included, to arrive (408 past it). */
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Bytes of request line and headers Node's parser takes at all; more is answered 431. */
  readonly maxHeaderBytes: number;
  /**
   * After a refusal the client may still be sending: its bytes are read and dropped for this long
   * (so that it reads the answer instead of a reset), then the connection is closed.
   */
  readonly lingerMs: number;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16 * 1024,
  lingerMs: 1_000,
};

function compile(route: LocalRoute): CompiledRoute {
  const [method, path] = route.routeKey.split(' ');
  if (!method || !path) throw new Error(`bad route key ${route.routeKey}`);
  const parameterNames: string[] = [];
  const source = path
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (!param?.[1]) return segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      parameterNames.push(param[1]);
      return '([^/]+)';
    })
    .join('/');
  return { ...route, method, pattern: new RegExp(`^${source}$`), parameterNames };
}

function lambdaContext(functionName: string, requestId: string): Context {
  const deadline = Date.now() + LAMBDA_TIMEOUT_MS;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const TEXT_TYPES = /^(text\/|application\/([\w.+-]+\+)?(json|xml|x-www-form-urlencoded|javascript))/i;

/**
 * The request target as a URL, whatever its form: origin-form (`/a?b`, `//` included, which
 * `new URL(target, base)` would read as a host), or absolute-form. Undefined when it is neither.
 */
export function parseTarget(target: string): URL | undefined {
  const url = URL.parse(target.startsWith('/') ? `http://localhost${target}` : target);
  return url && (url.protocol === 'http:' || url.protocol === 'https:') ? url : undefined;
}

/** The path as API Gateway matches routes on it: percent-decoded; undefined when it does not decode. */
export function decodePath(path: string): string | undefined {
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}

/** What API Gateway counts against its header quota: the request line and the header values. */
function headerBytes(request: IncomingMessage): number {
  let bytes = Buffer.byteLength(`${request.method} ${request.url} HTTP/${request.httpVersion}`, 'latin1');
  for (let i = 1; i < request.rawHeaders.length; i += 2) {
    bytes += Buffer.byteLength(request.rawHeaders[i] ?? '', 'latin1');
  }
  return bytes;
}

/** Body bytes may still be on their way (the request event comes as soon as the headers are in). */
function bodyPending(request: IncomingMessage): boolean {
  if (request.complete) return false;
  return (
    request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0
  );
}

type BodyRead =
  | { readonly kind: 'body'; readonly bytes: Buffer }
  | { readonly kind: 'too-large' }
  /** The client went away, or the request timed out (Node has answered 408 then). */
  | { readonly kind: 'gone' };

/**
 * Reads the body as it streams, holding at most `limit` bytes (none when `keep` is false): one
 * chunk past the limit is all that is read before it answers 'too-large'. Never rejects.
 */
function readBody(request: IncomingMessage, limit: number, keep: boolean): Promise<BodyRead> {
  return new Promise<BodyRead>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (read: BodyRead) => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onGone);
      request.off('close', onGone);
      if (read.kind === 'too-large') request.pause();
      resolve(read);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) settle({ kind: 'too-large' });
      else if (keep) chunks.push(chunk);
    };
    const onEnd = () => settle({ kind: 'body', bytes: Buffer.concat(chunks, keep ? size : 0) });
    const onGone = () => settle({ kind: 'gone' });
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onGone);
    request.once('close', onGone);
  });
}

function send(response: ServerResponse, result: HttpResult): void {
  const headers: Record<string, string | string[]> = { ...(result.headers as Record<string, string>) };
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  const body = result.body ?? '';
  const bytes = result.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  headers['content-length'] = String(bytes.length);
  response.writeHead(result.statusCode ?? 200, headers);
  response.end(bytes);
}

/** API Gateway's own answers carry `{"message": …}`: "Not Found", "Request Entity Too Large", … */
function gatewayAnswer(status: number, message = STATUS_CODES[status] ?? 'Error'): HttpResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message }),
  };
}

/** The 413 the submit handler itself gives, so a client sees one answer however it sent the body. */
function tooLargeAnswer(limit: number, instance: string): HttpResult {
  const error = new PayloadTooLargeError(`the body is more than ${limit} bytes; the limit is ${limit}`, [
    { field: '', message: `at most ${limit} bytes` },
  ]);
  return {
    statusCode: error.status,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify({
      type: error.type,
      title: error.title,
      detail: error.message,
      errors: error.errors,
      status: error.status,
      instance,
    }),
  };
}

export interface ApiGatewayOptions {
  readonly routes: readonly LocalRoute[];
  /** Local-only routes outside the API (run output files); true when it answered. */
  readonly extra?: (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<boolean>;
  /** Called for each error a handler throws past its own error handling (a bug). */
  readonly onHandlerError: (error: unknown, routeKey: string) => void;
  readonly limits?: Partial<EdgeLimits>;
}

type Listener = (
  request: IncomingMessage,
  response: ServerResponse,
  expectsContinue?: boolean,
) => Promise<void>;

/** A Node request listener that serves the routes as API Gateway would. It never rejects. */
export function apiGateway(options: ApiGatewayOptions): Listener {
  const routes = options.routes.map(compile);
  const limits = { ...DEFAULT_EDGE_LIMITS, ...options.limits };

  /**
   * Answers without reading (the rest of) the body. A client still sending gets `lingerMs` to
   * read the answer while the rest of its body is read and dropped, unheld: closing at once,
   * with its bytes unread, would reset the connection and could lose the answer on the way.
   * Past `lingerMs` the connection is closed; a body that ends sooner leaves it open for more.
   */
  const answerUnread = (request: IncomingMessage, response: ServerResponse, result: HttpResult): void => {
    if (bodyPending(request)) {
      const linger = setTimeout(() => {
        if (!request.complete) request.socket.destroy();
      }, limits.lingerMs);
      linger.unref();
      request.once('end', () => clearTimeout(linger));
      request.once('close', () => clearTimeout(linger));
      request.resume();
    }
    send(response, result);
  };

  const serve: Listener = async (request, response, expectsContinue = false) => {
    const url = parseTarget(request.url ?? '');
    const method = (request.method ?? 'GET').toUpperCase();
    if (url === undefined) return answerUnread(request, response, gatewayAnswer(400));
    if (headerBytes(request) > API_GATEWAY_MAX_HEADER_BYTES)
      return answerUnread(request, response, gatewayAnswer(431));

    if (method === 'GET' && url.pathname === '/health') {
      return answerUnread(request, response, {
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'ok' }),
      });
    }
    if (options.extra && (await options.extra(request, response, url))) return;

    // API Gateway matches routes on the decoded path; one that does not decode matches none.
    const path = decodePath(url.pathname);
    let match: { route: CompiledRoute; values: string[] } | undefined;
    for (const route of path === undefined ? [] : routes) {
      if (route.method !== method) continue;
      const found = route.pattern.exec(path as string);
      if (found) {
        match = { route, values: found.slice(1) };
        break;
      }
    }
    if (!match) return answerUnread(request, response, gatewayAnswer(404));

    const keepBody = match.route.maxBodyBytes !== undefined;
    const limit = match.route.maxBodyBytes ?? API_GATEWAY_MAX_PAYLOAD_BYTES;
    const declared = Number(request.headers['content-length'] ?? 0);
    const tooLarge = () =>
      keepBody ? tooLargeAnswer(limit, url.pathname) : gatewayAnswer(413, 'Request Entity Too Large');
    if (declared > limit) return answerUnread(request, response, tooLarge());
    if (expectsContinue) response.writeContinue();
    const body = await readBody(request, limit, keepBody);
    if (body.kind === 'gone') return;
    if (body.kind === 'too-large') return answerUnread(request, response, tooLarge());

    const headers: Record<string, string> = {};
    const cookies: string[] = [];
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined) continue;
      if (name === 'cookie') cookies.push(...String(value).split(/;\s*/));
      else headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const queryStringParameters: Record<string, string> = {};
    for (const [name, value] of url.searchParams) {
      queryStringParameters[name] =
        queryStringParameters[name] === undefined ? value : `${queryStringParameters[name]},${value}`;
    }
    const pathParameters: Record<string, string> = {};
    match.route.parameterNames.forEach((name, i) => {
      pathParameters[name] = match.values[i] ?? '';
    });

    const user = headers[LOCAL_USER_HEADER]?.trim() || DEFAULT_LOCAL_USER;
    const isText = body.bytes.length === 0 || TEXT_TYPES.test(headers['content-type'] ?? '');
    const requestId = randomUUID();
    const now = new Date();
    const event: HttpEvent = {
      version: '2.0',
      routeKey: match.route.routeKey,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      ...(cookies.length > 0 && { cookies }),
      ...(url.search.length > 1 && { queryStringParameters }),
      ...(match.route.parameterNames.length > 0 && { pathParameters }),
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        domainName: headers.host ?? 'localhost',
        domainPrefix: 'localhost',
        http: {
          method,
          path: url.pathname,
          protocol: `HTTP/${request.httpVersion}`,
          sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
          userAgent: headers['user-agent'] ?? '',
        },
        requestId,
        routeKey: match.route.routeKey,
        stage: '$default',
        time: now.toISOString(),
        timeEpoch: now.getTime(),
        // Local only: the caller names itself. Deployed, API Gateway's authorizer does.
        authorizer: { jwt: { claims: { sub: user } } },
      },
      isBase64Encoded: !isText,
      ...(body.bytes.length > 0 && {
        body: isText ? body.bytes.toString('utf8') : body.bytes.toString('base64'),
      }),
    };

    let result: HttpResult | undefined;
    try {
      result = await match.route.handler(event, lambdaContext(match.route.functionName, requestId));
    } catch (error) {
      options.onHandlerError(error, match.route.routeKey);
      result = gatewayAnswer(500);
    }
    try {
      send(response, result ?? { statusCode: 200 });
    } catch (error) {
      // A result API Gateway could not send either (say, a header value it cannot carry).
      options.onHandlerError(error, match.route.routeKey);
      if (!response.headersSent) send(response, gatewayAnswer(502));
    }
  };

  return async (request, response, expectsContinue) => {
    try {
      await serve(request, response, expectsContinue);
    } catch (error) {
      // A bug in the edge itself: this request fails, the server goes on.
      options.onHandlerError(error, `${request.method} ${request.url}`);
      if (!response.headersSent && !response.destroyed) send(response, gatewayAnswer(500));
      else response.destroy();
    }
  };
}

type ServerSocket = Duplex & { _httpMessage?: ServerResponse };

/**
 * What the edge answers on a connection whose request Node could not parse or that ran out of
 * time: 431 for headers over the limit, 408 for a request too slow to arrive, 400 otherwise;
 * nothing at all to a client that is gone. When the fault is in a request pipelined behind one
 * still being answered, that answer goes out first and the connection ends after it.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: ServerSocket, patienceMs: number): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // A client that neither reads nor closes is not waited for.
  const giveUp = (ms: number) => setTimeout(() => socket.destroy(), ms).unref();
  const pending = socket._httpMessage;
  if (pending && (pending.headersSent || pending.req.complete)) {
    const end = () => {
      socket.end();
      giveUp(1_000);
    };
    if (pending.writableFinished) end();
    else pending.once('finish', end);
    giveUp(patienceMs);
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify({ message: STATUS_CODES[status] });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
  giveUp(1_000);
}

/** The HTTP server of the local API: the routes behind API Gateway's edge, with its limits. */
export function apiGatewayServer(options: ApiGatewayOptions): Server {
  const limits = { ...DEFAULT_EDGE_LIMITS, ...options.limits };
  const listener = apiGateway(options);
  const server = createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    // How often Node checks the two timeouts above: by default only every 30 s.
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
  });
  server.on(
    'request',
    (request: IncomingMessage, response: ServerResponse) => void listener(request, response),
  );
  // `Expect: 100-continue` is answered only once the route and the declared length are known.
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    void listener(request, response, true);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: ServerSocket) =>
    answerClientError(error, socket, limits.requestTimeoutMs),
  );
  return server;
}
