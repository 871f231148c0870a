import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger, metrics, tracer } from '#adapters/powertools.ts';
import type * as z from '#core/zod.ts';
import { type EventContract, parseInput } from '#handlers/parse-input.ts';

/**
 * The Lambda edge every deployed function shares (lambdas/entry): one middy stack, the same for
 * all, holding from the outside in
 * - the invocation's X-Ray subsegment (the Powertools Tracer of #adapters/powertools.ts), errors recorded, responses not;
 * - the invocation's context in every log line (function, request id, cold start), reset after;
 * - the metrics flushed, whatever the outcome;
 * - for a function with an event contract, the event parsed by Powertools' parser before the
 *   handler sees it (lambdas/handlers/events.ts): input that is not what the function takes is
 *   logged once and refused with the contract's error, and the handler gets typed data.
 * The local runtime calls the handlers (lambdas/handlers) without any of this: they parse their
 * own input there, with the same schemas.
 */

/**
 * The middlewares of the edge, outermost first: tracing, the logger's context, the metrics' flush,
 * and the event parsed by `contract` when there is one.
 */
export function edgeMiddlewares<S extends z.ZodMiniType>(contract?: EventContract<S>): MiddlewareObj[] {
  return [
    captureLambdaHandler(tracer, { captureResponse: false }),
    injectLambdaContext(logger, { resetKeys: true }),
    logMetrics(metrics),
    ...(contract ? [parsed(contract)] : []),
  ];
}

/** Parses the event by `contract` before the handler runs; refused input throws the contract's error. */
function parsed<S extends z.ZodMiniType>(contract: EventContract<S>): MiddlewareObj {
  return {
    before: (request) => {
      request.event = parseInput(contract, request.event, logger);
    },
  };
}

/** A deployed function: its handler inside the edge, its event parsed by `contract`. */
export function edge<S extends z.ZodMiniType, R>(
  contract: EventContract<S>,
  handler: (event: z.infer<S>, context: Context) => Promise<R>,
): (event: unknown, context: Context) => Promise<R>;
/** A deployed function whose event is not parsed at the edge (the tick, which reads none). */
export function edge<R>(
  contract: undefined,
  handler: (event: unknown, context: Context) => Promise<R>,
): (event: unknown, context: Context) => Promise<R>;
export function edge<R>(
  contract: EventContract<z.ZodMiniType> | undefined,
  handler: (event: never, context: Context) => Promise<R>,
): (event: unknown, context: Context) => Promise<R> {
  return middy<unknown, R>()
    .use(edgeMiddlewares(contract))
    .handler(handler as (event: unknown, context: Context) => Promise<R>);
}
