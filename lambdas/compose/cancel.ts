import type { Finalizer } from '#core/finalizer.ts';
import type { WorkflowControl } from '#core/ports.ts';
import { composeFinalizer, type FinalizerWiring } from './finalizer.ts';

/** What a cancel needs besides ending jobs: stopping their workflow executions. */
export interface CancelWiring extends FinalizerWiring {
  readonly workflows: WorkflowControl;
}

/** The finalizer run in-process on a cancelled job whose workflow was not running, as if its execution was stopped. */
export function finalizeStoppedBy(
  finalizer: Pick<Finalizer, 'executionEnded'>,
): (jobId: string) => Promise<void> {
  return async (jobId) => {
    await finalizer.executionEnded(jobId, 'ABORTED');
  };
}

/**
 * The cancel's deps: the stores, the workflows it stops, the job ender that ends a queued job, and
 * the finalizer, run in-process, for a job whose workflow was not running.
 */
export function composeCancel(wiring: CancelWiring) {
  const { finalizer, ...ends } = composeFinalizer(wiring);
  return {
    ...ends,
    workflows: wiring.workflows,
    finalizeStopped: finalizeStoppedBy(finalizer),
  };
}
