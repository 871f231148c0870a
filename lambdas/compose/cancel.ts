import type { WorkflowControl } from '#core/ports.ts';
import { composeFinalizer, type FinalizerWiring } from './finalizer.ts';

/** What a cancel needs besides ending jobs: stopping their workflow executions. */
export interface CancelWiring extends FinalizerWiring {
  readonly workflows: WorkflowControl;
}

/**
 * The cancel's deps: the stores, the workflows it stops, the finisher that ends a queued job, and
 * the finalizer, run in-process, for a job whose workflow was not running.
 */
export function composeCancel(wiring: CancelWiring) {
  const { finalizer, ...ends } = composeFinalizer(wiring);
  return {
    ...ends,
    workflows: wiring.workflows,
    finalizeStopped: async (jobId: string) => {
      await finalizer.executionEnded(jobId, 'ABORTED');
    },
  };
}
