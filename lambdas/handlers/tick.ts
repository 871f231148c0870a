import type { Logger } from '@aws-lambda-powertools/logger';
import type { Admission } from '#core/admission.ts';
import type { MetricsSink } from '#core/ports.ts';
import type { Reconciler } from '#core/reconciler.ts';

export interface TickHandlerDeps {
  readonly admission: Admission;
  readonly reconciler: Reconciler;
  readonly metrics: MetricsSink;
  readonly logger: Logger;
}

/**
 * The one-minute tick: reconcile every pool first (so released leases and recounted queues
 * are seen), then run an admission pass, which also admits jobs whose intake message was lost.
 */
export function createTickHandler(deps: TickHandlerDeps) {
  return async (): Promise<{ reconciled: number; admitted: number }> => {
    try {
      const reports = await deps.reconciler.reconcileAll();
      for (const report of reports) {
        const changed =
          report.released.length + report.scheduled.length + report.restarted.length + report.expired.length;
        if (changed > 0) deps.logger.info('reconciled', { ...report });
      }
      const outcomes = await deps.admission.admitAll();
      return {
        reconciled: reports.length,
        admitted: outcomes.reduce((sum, outcome) => sum + outcome.admitted.length, 0),
      };
    } finally {
      deps.metrics.flush();
    }
  };
}
