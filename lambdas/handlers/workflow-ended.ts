import { countJobFinished, workflowFinalStatus } from '#core/job-ends.ts';
import type { LogPort, MetricsSink } from '#core/ports.ts';
import * as z from '#core/zod.ts';
import { executionStatusChange } from './events.ts';
import { eventContract, parseInput } from './parse-input.ts';

/**
 * The job workflow's SUCCEEDED executions (EventBridge, "Step Functions Execution Status
 * Change"): counts jobsFinished for the job ends the workflow wrote itself, which pass neither
 * the job ender nor the finalizer. The execution is named after its job, one per job, so each
 * such end is seen once.
 */
const workflowOutput = z.object({
  pool: z.string(),
  final: z.optional(z.object({ status: z.string() })),
});

/** Not an execution status event: the rule or its target is wrong, and no retry will fix it. */
export const WORKFLOW_EVENT = eventContract(
  'WorkflowEventInvalid',
  executionStatusChange,
  'a Step Functions execution status event',
);

export interface WorkflowEndedHandlerDeps {
  readonly metrics: MetricsSink;
  readonly logger: LogPort;
}

export interface WorkflowEndedResult {
  readonly jobId: string;
  /** The final state counted; absent when the execution wrote none. */
  readonly counted?: string;
}

export function createWorkflowEndedHandler(deps: WorkflowEndedHandlerDeps) {
  return async (event: unknown): Promise<WorkflowEndedResult> => {
    const { name: jobId, status, output } = parseInput(WORKFLOW_EVENT, event, deps.logger).detail;
    if (status !== 'SUCCEEDED') return { jobId };
    if (output === undefined || output === null) {
      deps.logger.warn('execution output left out of the event; its job end is not counted', { jobId });
      return { jobId };
    }
    let data: unknown;
    try {
      data = JSON.parse(output);
    } catch {
      data = undefined;
    }
    const ended = workflowOutput.safeParse(data);
    if (!ended.success) {
      deps.logger.warn('execution output is not a job workflow output; nothing counted', { jobId });
      return { jobId };
    }
    const final = workflowFinalStatus(ended.data);
    if (final === undefined) return { jobId };
    countJobFinished(deps.metrics, ended.data.pool, final);
    deps.metrics.flush();
    return { jobId, counted: final };
  };
}
