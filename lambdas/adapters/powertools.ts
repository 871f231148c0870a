import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

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

/** The logger of the container's function: one per container, as the function is. */
export const logger = new Logger({ serviceName: 'libra' });

/**
 * Libra writes every metric as a single metric, published when it is written (powertools-metrics.ts),
 * so the buffer logMetrics flushes is empty on purpose: Powertools' warning about an empty
 * flush would be logged on every invocation, and is the only message dropped here.
 */
const EMPTY_FLUSH_WARNING = 'No application metrics to publish';
const metricsLog = {
  debug: (...args: unknown[]) => logger.debug(String(args[0]), { details: args.slice(1) }),
  info: (...args: unknown[]) => logger.info(String(args[0]), { details: args.slice(1) }),
  warn: (...args: unknown[]) => {
    if (!String(args[0]).startsWith(EMPTY_FLUSH_WARNING))
      logger.warn(String(args[0]), { details: args.slice(1) });
  },
  error: (...args: unknown[]) => logger.error(String(args[0]), { details: args.slice(1) }),
};

/** The metrics of the container's function, in the Libra namespace. */
export const metrics = new Metrics({ namespace: 'Libra', serviceName: 'libra', logger: metricsLog });
