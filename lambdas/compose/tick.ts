import { Admission } from '#core/admission.ts';
import type { WorkflowControl } from '#core/ports.ts';
import { Reconciler } from '#core/reconciler.ts';
import { type AdmitterWiring, admissionDeps } from './admission.ts';
import { composeFinalizer, type FinalizerWiring } from './finalizer.ts';

/** What the tick needs besides admission: the workflows it watches and the finalizer of those that ended. */
export interface AdmissionWiring extends AdmitterWiring, FinalizerWiring {
  readonly workflows: WorkflowControl;
}

/** Admission and the reconciler, which finalizes jobs whose workflow execution ended unseen. */
export function composeAdmission(wiring: AdmissionWiring) {
  const ends = composeFinalizer(wiring);
  const deps = admissionDeps(wiring, ends);
  const admission = new Admission(deps);
  const reconciler = new Reconciler(deps, admission, {
    workflows: wiring.workflows,
    finalizer: ends.finalizer,
  });
  return { ...ends, admission, reconciler };
}
