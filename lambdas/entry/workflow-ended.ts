import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { PowertoolsMetricsSink } from '#adapters/powertools-metrics.ts';
import { tracedHandler } from '#adapters/tracing.ts';
import { createWorkflowEndedHandler } from '#handlers/workflow-ended.ts';

// Namespace and service as every other Libra function's (lambdas/adapters/aws-environment.ts); nothing
// else is needed, so the bundle carries no AWS SDK client.
export const handler = tracedHandler(
  createWorkflowEndedHandler({
    metrics: new PowertoolsMetricsSink(new Metrics({ namespace: 'Libra', serviceName: 'libra' })),
    logger: new Logger({ serviceName: 'libra' }),
  }),
);
