import { composeStores, type StoreWiring } from '#adapters/table-stores.ts';
import { Finisher } from '#core/finisher.ts';
import type { IntakeQueue, JobNotifier } from '#core/ports.ts';

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
