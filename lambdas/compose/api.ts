import { newJobId } from '#core/job-record.ts';
import type { ApiDeps } from '#handlers/api-deps.ts';
import { type CancelWiring, composeCancel } from './cancel.ts';

export interface ApiWiring extends CancelWiring {
  /** Local mode only: webhooks may be plain http. */
  readonly allowInsecureWebhooks: boolean;
}

/** Every route's deps at once, for one process that serves them all: the local runtime, the API tests. */
export function composeApi(wiring: ApiWiring): ApiDeps {
  const cancel = composeCancel(wiring);
  return { ...wiring, ...cancel, spend: cancel.ledger, usage: cancel.ledger, newJobId };
}
