import { Admission, type AdmissionDeps } from '#core/admission.ts';
import type { WorkflowControl, WorkflowStarter } from '#core/ports.ts';
import { Reconciler } from '#core/reconciler.ts';
import { DurationWarnings } from '#core/use-cases/duration-warnings.ts';
import { composeFinalizer, type FinalizerWiring } from './finalizer.ts';

/** What the tick needs besides ending jobs: the starter it admits with, and the workflows it watches. */
export interface AdmissionWiring extends FinalizerWiring {
  readonly starter: WorkflowStarter;
  readonly workflows: WorkflowControl;
  /** The length of a minute for the duration warnings: shorter in local tests only. */
  readonly minuteMs?: number;
}

/** Admission and the reconciler, which finalizes jobs whose workflow execution ended unseen. */
export function composeAdmission(wiring: AdmissionWiring) {
  const ends = composeFinalizer(wiring);
  const deps: AdmissionDeps = { ...wiring, ...ends };
  const admission = new Admission(deps);
  const reconciler = new Reconciler(deps, admission, {
    workflows: wiring.workflows,
    finalizer: ends.finalizer,
    progress: ends.jobs,
  });
  const warnings = new DurationWarnings({
    config: wiring.config,
    jobs: ends.jobs,
    notifier: wiring.notifier,
    metrics: wiring.metrics,
    clock: ends.clock,
    logger: wiring.logger,
    ...(wiring.minuteMs !== undefined && { minuteMs: wiring.minuteMs }),
  });
  return { ...ends, admission, reconciler, warnings };
}
