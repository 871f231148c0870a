import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'aws-lambda';
import type { HttpEvent, HttpResult } from '#handlers/http.ts';

/**
 * The local stand-in for API Gateway's HTTP API: it matches a route the way API Gateway does
 * (`METHOD /path/{param}`), turns the request into the same payload-format 2.0 event the
 * deployed Lambdas receive, calls the handler, and writes its result back.
 */

export type LambdaHandler = (event: HttpEvent, context: Context) => Promise<HttpResult | undefined>;

export interface LocalRoute {
  /** As API Gateway writes a route key: `GET /api/v1/spark/jobs/{jobId}`. */
  readonly routeKey: string;
  readonly functionName: string;
  readonly handler: LambdaHandler;
}

interface CompiledRoute extends LocalRoute {
  readonly method: string;
  readonly pattern: RegExp;
  readonly parameterNames: readonly string[];
}

/** API Gateway's own payload limit; the handlers enforce Libra's smaller one. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
const LAMBDA_TIMEOUT_MS = 29_000;
export const LOCAL_USER_HEADER = 'x-libra-user';
export const DEFAULT_LOCAL_USER = 'local-user';

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

async function readBody(request: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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

function sendJson(response: ServerResponse, statusCode: number, body: unknown): void {
  send(response, { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export interface ApiGatewayOptions {
  readonly routes: readonly LocalRoute[];
  /** Local-only routes outside the API (run output files); true when it answered. */
  readonly extra?: (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<boolean>;
  /** Called for each error a handler throws past its own error handling (a bug). */
  readonly onHandlerError: (error: unknown, routeKey: string) => void;
}

/** A Node request listener that serves the routes as API Gateway would. */
export function apiGateway(options: ApiGatewayOptions) {
  const routes = options.routes.map(compile);

  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = (request.method ?? 'GET').toUpperCase();

    if (method === 'GET' && url.pathname === '/health') {
      sendJson(response, 200, { status: 'ok' });
      return;
    }
    if (options.extra && (await options.extra(request, response, url))) return;

    let match: { route: CompiledRoute; values: string[] } | undefined;
    for (const route of routes) {
      if (route.method !== method) continue;
      const found = route.pattern.exec(url.pathname);
      if (found) {
        match = { route, values: found.slice(1) };
        break;
      }
    }
    if (!match) {
      sendJson(response, 404, { message: 'Not Found' });
      return;
    }

    const body = await readBody(request);
    if (body === 'too-large') {
      sendJson(response, 413, { message: 'Request Entity Too Large' });
      return;
    }

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
      pathParameters[name] = decodeURIComponent(match.values[i] ?? '');
    });

    const user = headers[LOCAL_USER_HEADER]?.trim() || DEFAULT_LOCAL_USER;
    const isText = body.length === 0 || TEXT_TYPES.test(headers['content-type'] ?? '');
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
      ...(body.length > 0 && { body: isText ? body.toString('utf8') : body.toString('base64') }),
    };

    try {
      const result = await match.route.handler(event, lambdaContext(match.route.functionName, requestId));
      send(response, result ?? { statusCode: 200 });
    } catch (error) {
      options.onHandlerError(error, match.route.routeKey);
      sendJson(response, 500, { message: 'Internal Server Error' });
    }
  };
}
