import { Admission, type AdmissionDeps } from '#core/admission.ts';
import type { WorkflowControl, WorkflowStarter } from '#core/ports.ts';
import { Reconciler } from '#core/reconciler.ts';
import { composeFinalizer, type FinalizerWiring } from './finalizer.ts';

/** What the tick needs besides ending jobs: the starter it admits with, and the workflows it watches. */
export interface AdmissionWiring extends FinalizerWiring {
  readonly starter: WorkflowStarter;
  readonly workflows: WorkflowControl;
}

/** Admission and the reconciler, which finalizes jobs whose workflow execution ended unseen. */
export function composeAdmission(wiring: AdmissionWiring) {
  const ends = composeFinalizer(wiring);
  const deps: AdmissionDeps = { ...wiring, ...ends };
  const admission = new Admission(deps);
  const reconciler = new Reconciler(deps, admission, {
    workflows: wiring.workflows,
    finalizer: ends.finalizer,
  });
  return { ...ends, admission, reconciler };
}
