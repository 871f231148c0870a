import type { Logger } from '@aws-lambda-powertools/logger';
import { type Admission, type AdmitOutcome, PoolPassesFailed } from '#core/admission.ts';
import type { MetricsSink } from '#core/ports.ts';
import type { ReconcileReport, Reconciler } from '#core/reconciler.ts';
import type { DurationWarnings, WarningReport } from '#core/use-cases/duration-warnings.ts';

export interface TickHandlerDeps {
  readonly admission: Admission;
  readonly reconciler: Reconciler;
  /** Runs past their warnAfterMinutes: one query per pool. */
  readonly warnings: DurationWarnings;
  readonly metrics: MetricsSink;
  readonly logger: Logger;
}

/** The results of the pools that passed, keeping the first failure to report once both passes ran. */
function completedOf<T>(error: unknown, keep: (error: unknown) => void): T[] {
  keep(error);
  return error instanceof PoolPassesFailed ? (error.completed as T[]) : [];
}

/**
 * The one-minute tick: reconcile every pool first (so released leases and recounted queues
 * are seen), then run an admission pass, which also admits jobs whose intake message was lost,
 * then give the duration warnings that are due. A pool that fails is reported (the tick fails)
 * but does not stop any pass for the others.
 */
export function createTickHandler(deps: TickHandlerDeps) {
  return async (): Promise<{ reconciled: number; admitted: number; warned: number }> => {
    let failure: unknown;
    const keep = (error: unknown) => {
      failure ??= error;
    };
    try {
      const reports = await deps.reconciler
        .reconcileAll()
        .catch((error: unknown) => completedOf<ReconcileReport>(error, keep));
      for (const report of reports) {
        const changed =
          report.released.length + report.scheduled.length + report.restarted.length + report.expired.length;
        if (changed > 0) deps.logger.info('reconciled', { ...report });
      }
      const outcomes = await deps.admission
        .admitAll()
        .catch((error: unknown) => completedOf<AdmitOutcome>(error, keep));
      const warnings = await deps.warnings
        .checkAll()
        .catch((error: unknown) => completedOf<WarningReport>(error, keep));
      if (failure !== undefined) throw failure;
      return {
        reconciled: reports.length,
        admitted: outcomes.reduce((sum, outcome) => sum + outcome.admitted.length, 0),
        warned: warnings.reduce((sum, report) => sum + report.warned.length, 0),
      };
    } finally {
      deps.metrics.flush();
    }
  };
}
