import { newJobId } from '#core/job-record.ts';
import type { WorkflowControl } from '#core/ports.ts';
import type { ApiDeps } from '#handlers/api-deps.ts';
import { composeFinalizer, type FinalizerWiring } from './job-ends.ts';

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

export interface ApiWiring extends CancelWiring {
  /** Local mode only: webhooks may be plain http. */
  readonly allowInsecureWebhooks: boolean;
}

/** Every route's deps at once, for one process that serves them all: the local runtime, the API tests. */
export function composeApi(wiring: ApiWiring): ApiDeps {
  return { ...wiring, ...composeCancel(wiring), newJobId };
}
