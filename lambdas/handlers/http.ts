import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { isThrottling } from '#adapters/aws-errors.ts';
import {
  BudgetExhaustedError,
  LibraError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '#core/errors.ts';
import { THROTTLED_RETRY_AFTER_SECONDS } from '#core/retry-after.ts';
import * as z from '#core/zod.ts';
import { eventContract, InputInvalid } from './parse-input.ts';

/**
 * The HTTP edge shared by every API Lambda: headers normalized, Powertools context in the
 * logs, caller identity from the authorizer, JSON in and out, and errors as RFC 9457
 * problems — 4xx explained to the caller, 5xx masked and logged with the request id.
 */

/** HTTP API v2 event with either authorizer: IAM (SigV4) or JWT. */
export type HttpEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2['requestContext'] & {
    authorizer?: {
      iam?: { userArn?: string };
      jwt?: { claims?: Record<string, string | number | boolean | string[]> };
    };
  };
};
export type HttpResult = APIGatewayProxyStructuredResultV2;
export type Route = (event: HttpEvent, context: Context) => Promise<HttpResult>;

/**
 * API Gateway's HTTP API event (payload 2.0): what the routes read. The authorizer's part is kept
 * as API Gateway sends it (the routes read it through principalOf, which refuses what names no caller).
 */
export const httpApiEvent = z.looseObject({
  version: z.literal('2.0'),
  routeKey: z.string(),
  rawPath: z.string(),
  headers: z.record(z.string(), z.string()),
  queryStringParameters: z.optional(z.record(z.string(), z.string())),
  pathParameters: z.optional(z.record(z.string(), z.string())),
  body: z.optional(z.string()),
  isBase64Encoded: z.boolean(),
  requestContext: z.looseObject({
    requestId: z.string(),
    http: z.looseObject({ method: z.string(), path: z.string() }),
  }),
});

/** Not an HTTP API event: API Gateway is not what invoked the function, and there is no one to answer. */
export const HTTP_EVENT = eventContract('HttpEventInvalid', httpApiEvent, 'an HTTP API event (payload 2.0)');

export interface HttpDeps {
  readonly logger: Logger;
  /**
   * The deployed edge's middlewares (lambdas/compose/edge.ts: tracing, the logger's context, the
   * metrics), put outermost in the route's one stack. Without them (the local runtime), the
   * route puts the invocation's context in its logs itself.
   */
  readonly edge?: readonly MiddlewareObj[];
}

export function principalOf(event: HttpEvent): string {
  const authorizer = event.requestContext.authorizer;
  const principal = authorizer?.iam?.userArn ?? authorizer?.jwt?.claims?.sub;
  if (typeof principal !== 'string' || principal === '') {
    throw new UnauthorizedError('the request carries no caller identity');
  }
  return principal;
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

export function pathParameter(event: HttpEvent, name: string): string {
  const value = event.pathParameters?.[name];
  if (!value)
    throw new ValidationError(`missing path parameter ${name}`, [{ field: name, message: 'required' }]);
  return value;
}

/** The JSON body, refused before anything else reads it when too large, not JSON, or of another media type. */
export function jsonBody(event: HttpEvent, maxBytes: number): unknown {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > maxBytes) {
    throw new PayloadTooLargeError(`the body is ${bytes.length} bytes; the limit is ${maxBytes}`, [
      { field: '', message: `at most ${maxBytes} bytes` },
    ]);
  }
  const contentType = (event.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (contentType !== 'application/json' && !/^application\/[\w.+-]+\+json$/.test(contentType)) {
    throw new UnsupportedMediaTypeError(
      `send the body as application/json, not ${contentType || 'no content type'}`,
    );
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ValidationError('the body is not valid JSON', [
      { field: '', message: (error as Error).message },
    ]);
  }
}

function problem(
  event: HttpEvent,
  status: number,
  fields: Record<string, unknown>,
  headers: Record<string, string> = {},
): HttpResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/problem+json', ...headers },
    body: JSON.stringify({ ...fields, status, instance: event.rawPath }),
  };
}

export function toProblem(thrown: unknown, event: HttpEvent, requestId: string, logger: Logger): HttpResult {
  // AWS throttling that outlasted the SDK's retries is the caller's to retry later, not a fault.
  const error = isThrottling(thrown)
    ? new TooManyRequestsError(
        `too many requests for now; try again in ${THROTTLED_RETRY_AFTER_SECONDS} s`,
        [],
        THROTTLED_RETRY_AFTER_SECONDS,
        'throttled',
      )
    : thrown;
  if (error !== thrown) logger.warn('AWS throttled a request', { requestId, error: thrown as Error });
  if (error instanceof LibraError) {
    logger.info('request refused', { status: error.status, detail: error.message });
    const retryAfter = error instanceof TooManyRequestsError ? error.retryAfterSeconds : undefined;
    return problem(
      event,
      error.status,
      {
        type: error.type,
        title: error.title,
        detail: error.message,
        errors: error.errors,
        ...(retryAfter !== undefined && { retryAfter }),
        ...(error instanceof BudgetExhaustedError && { budget: error.budget }),
      },
      retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {},
    );
  }
  logger.error('request failed', { requestId, error: thrown as Error });
  return problem(event, 500, {
    type: 'about:blank',
    title: 'Internal Server Error',
    detail: `The request failed. Quote request id ${requestId} when reporting it.`,
    requestId,
  });
}

/**
 * A route in the HTTP edge's one middy stack. The route's errors become problem responses inside
 * the handler, so that the middlewares around it see an answered request, as API Gateway does;
 * anything thrown outside the route (a middleware) is answered the same way by onError.
 */
export function httpHandler(deps: HttpDeps, route: Route) {
  const answer = (thrown: unknown, event: HttpEvent, context: Context) =>
    toProblem(thrown, event, event.requestContext?.requestId ?? context.awsRequestId, deps.logger);
  return middy<HttpEvent, HttpResult>()
    .use([...(deps.edge ?? [injectLambdaContext(deps.logger, { resetKeys: true })])])
    .use(httpHeaderNormalizer())
    .use({
      onError: async (request) => {
        // An event that is not an HTTP API event has no request to answer: it fails the invocation.
        if (request.error instanceof InputInvalid) return;
        request.response = answer(request.error, request.event, request.context);
      },
    })
    .handler(async (event, context) => {
      try {
        return await route(event, context);
      } catch (error) {
        return answer(error, event, context);
      }
    });
}
