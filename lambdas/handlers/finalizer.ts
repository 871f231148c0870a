import type { Logger } from '@aws-lambda-powertools/logger';
import type { Finalizer } from '#core/finalizer.ts';
import { type FinalizerInput, finalizerInput } from './events.ts';
import { eventContract, parsing } from './parse-input.ts';

/**
 * The finalizer Lambda. Two callers: the EventBridge rule on the job workflow's executions
 * ending ABORTED, FAILED or TIMED_OUT (the execution name is the job id), and the workflow's
 * StopRun step after a run's state timed out.
 */
export const FINALIZER_INPUT = eventContract(
  'FinalizerInputInvalid',
  finalizerInput,
  'an execution status event or a stop-run request',
);

export interface FinalizerHandlerDeps {
  readonly finalizer: Finalizer;
  readonly logger: Logger;
}

export type FinalizerResult = { jobId: string; status?: string };

/** The finalizer on input already parsed (the deployed edge parses it). */
export function createFinalizer(deps: FinalizerHandlerDeps) {
  return async (input: FinalizerInput): Promise<FinalizerResult> => {
    if ('action' in input) {
      await deps.finalizer.stopRun(input.jobId);
      return { jobId: input.jobId };
    }
    const { name, status, cause, error } = input.detail;
    if (status !== 'ABORTED' && status !== 'FAILED' && status !== 'TIMED_OUT') {
      return { jobId: name };
    }
    const job = await deps.finalizer.executionEnded(
      name,
      status,
      [error, cause].filter(Boolean).join(': ') || undefined,
    );
    deps.logger.info('job finalized', { jobId: name, execution: status, status: job?.status });
    return { jobId: name, ...(job && { status: job.status }) };
  };
}

export function createFinalizerHandler(deps: FinalizerHandlerDeps) {
  return parsing(FINALIZER_INPUT, deps.logger, createFinalizer(deps));
}
