import { Admission, type AdmissionDeps } from '#core/admission.ts';
import type { WorkflowControl, WorkflowStarter } from '#core/ports.ts';
import { Reconciler } from '#core/reconciler.ts';
import { composeFinalizer, composeFinisher, type FinalizerWiring, type FinisherWiring } from './job-ends.ts';

/** What admission needs besides the table: the starter, and for a start that fails, a wake and a webhook. */
export interface AdmitterWiring extends FinisherWiring {
  readonly starter: WorkflowStarter;
}

function admissionDeps(wiring: AdmitterWiring, ends: ReturnType<typeof composeFinisher>): AdmissionDeps {
  return {
    jobs: ends.jobs,
    pools: ends.pools,
    starter: wiring.starter,
    finisher: ends.finisher,
    config: wiring.config,
    metrics: wiring.metrics,
    logger: wiring.logger,
    clock: ends.clock,
  };
}

/**
 * Admission alone, as the intake queue's function runs it: it admits and starts workflows, and
 * ends the jobs whose workflow cannot start.
 */
export function composeAdmitter(wiring: AdmitterWiring) {
  return { admission: new Admission(admissionDeps(wiring, composeFinisher(wiring))) };
}

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
