import { Admission, type AdmissionDeps } from '#core/admission.ts';
import type { WorkflowStarter } from '#core/ports.ts';
import { composeFinisher, type FinisherWiring } from './finisher.ts';

/** What admission needs besides the table: the starter, and for a start that fails, a wake and a webhook. */
export interface AdmitterWiring extends FinisherWiring {
  readonly starter: WorkflowStarter;
}

export function admissionDeps(
  wiring: AdmitterWiring,
  ends: ReturnType<typeof composeFinisher>,
): AdmissionDeps {
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
