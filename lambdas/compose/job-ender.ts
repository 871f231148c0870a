import { composeStores, type StoreWiring } from '#adapters/table-stores.ts';
import { JobEnder } from '#core/job-ender.ts';
import type { IntakeQueue, JobNotifier } from '#core/ports.ts';

/** What ending a job outside the workflow needs besides the table: waking its pool, and its webhook. */
export interface JobEnderWiring extends StoreWiring {
  readonly intake: IntakeQueue;
  readonly notifier: JobNotifier;
}

/** The stores, and the one way a job ends outside the workflow (JobEnder.end). */
export function composeJobEnder(wiring: JobEnderWiring, stores = composeStores(wiring)) {
  const jobEnder = new JobEnder({
    ...stores,
    intake: wiring.intake,
    notifier: wiring.notifier,
    logger: wiring.logger,
    metrics: wiring.metrics,
  });
  return { ...stores, jobEnder };
}
