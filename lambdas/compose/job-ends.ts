import { composeStores, type StoreWiring } from '#adapters/compose.ts';
import { Finalizer } from '#core/finalizer.ts';
import { Finisher } from '#core/finisher.ts';
import type { IntakeQueue, JobNotifier, SparkRunControl } from '#core/ports.ts';

/** What ending a job outside the workflow needs besides the table: waking its pool, and its webhook. */
export interface FinisherWiring extends StoreWiring {
  readonly intake: IntakeQueue;
  readonly notifier: JobNotifier;
}

/** The stores, and the one way a job ends outside the workflow (Finisher.end). */
export function composeFinisher(wiring: FinisherWiring, stores = composeStores(wiring)) {
  const finisher = new Finisher({
    ...stores,
    intake: wiring.intake,
    notifier: wiring.notifier,
    logger: wiring.logger,
    metrics: wiring.metrics,
  });
  return { ...stores, finisher };
}

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
