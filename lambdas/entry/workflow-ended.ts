import { logger, metrics } from '#adapters/powertools.ts';
import { PowertoolsMetricsSink } from '#adapters/powertools-metrics.ts';
import { edge } from '#compose/edge.ts';
import { createWorkflowEndedHandler } from '#handlers/workflow-ended.ts';

// Namespace and service as every other Libra function's (lambdas/adapters/aws-environment.ts); nothing
// else is needed, so the bundle carries no AWS SDK client.
export const handler = edge(
  undefined,
  createWorkflowEndedHandler({
    metrics: new PowertoolsMetricsSink(metrics),
    logger,
  }),
);
