import { Finalizer } from '#core/finalizer.ts';
import type { SparkRunControl } from '#core/ports.ts';
import { composeFinisher, type FinisherWiring } from './finisher.ts';

/** What the finalizer needs besides the finisher: stopping a Spark run that may still be going. */
export interface FinalizerWiring extends FinisherWiring {
  readonly runs: SparkRunControl;
}

/** The finisher, and the finalizer of jobs whose workflow execution ended. */
export function composeFinalizer(wiring: FinalizerWiring) {
  const ends = composeFinisher(wiring);
  const finalizer = new Finalizer({
    jobs: ends.jobs,
    finisher: ends.finisher,
    runs: wiring.runs,
    clock: ends.clock,
    logger: wiring.logger,
  });
  return { ...ends, finalizer };
}
