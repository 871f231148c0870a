import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';

/**
 * X-Ray tracing of the deployed functions, through the Powertools Tracer: one per container.
 * Each invocation gets a `## index.handler` subsegment (annotated ColdStart and Service, errors
 * recorded), each AWS SDK call a subsegment of its own (the clients made by `traced`), and each
 * outgoing HTTPS request — a webhook — one too. The Tracer turns itself off outside Lambda
 * (no AWS_EXECUTION_ENV: the local runtime, the tests), where all of this is a pass-through.
 */
export const tracer = new Tracer({ serviceName: 'libra' });

/** An AWS SDK v3 client whose calls are traced. */
export function traced<C>(client: C): C {
  return tracer.captureAWSv3Client(client);
}

/**
 * The function's handler inside its invocation's subsegment. Responses are not recorded: they
 * are job records and API answers, which belong in the table and the logs, not in trace metadata.
 */
export function tracedHandler<E, R>(handler: (event: E, context: Context) => Promise<R>) {
  return middy(handler).use(captureLambdaHandler(tracer, { captureResponse: false }));
}
