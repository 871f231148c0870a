import type { Logger } from '@aws-lambda-powertools/logger';
import type { Finalizer } from '#core/finalizer.ts';
import { JOB_ID_PATTERN } from '#core/job-record.ts';
import * as z from '#core/zod.ts';

/**
 * The finalizer Lambda. Two callers: the EventBridge rule on the job workflow's executions
 * ending ABORTED, FAILED or TIMED_OUT (the execution name is the job id), and the workflow's
 * StopRun step after a run's state timed out.
 */
const executionStatusEvent = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    name: z.string().check(z.regex(JOB_ID_PATTERN)),
    status: z.string(),
    cause: z.nullish(z.string()),
    error: z.nullish(z.string()),
  }),
});

const stopRunRequest = z.object({
  action: z.literal('stop-run'),
  jobId: z.string().check(z.regex(JOB_ID_PATTERN)),
});

export interface FinalizerHandlerDeps {
  readonly finalizer: Finalizer;
  readonly logger: Logger;
}

export function createFinalizerHandler(deps: FinalizerHandlerDeps) {
  return async (event: unknown): Promise<{ jobId: string; status?: string }> => {
    const stop = stopRunRequest.safeParse(event);
    if (stop.success) {
      await deps.finalizer.stopRun(stop.data.jobId);
      return { jobId: stop.data.jobId };
    }
    const parsed = executionStatusEvent.safeParse(event);
    if (!parsed.success) {
      deps.logger.error('finalizer input is not valid', { issues: parsed.error.issues });
      throw new Error(`not an execution status event nor a stop-run request: ${parsed.error.message}`);
    }
    const { name, status, cause, error } = parsed.data.detail;
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
