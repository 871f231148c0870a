import { isTerminal, JOB_STATUSES, type JobStatus, type TerminalStatus } from './job-states.ts';
import type { MetricsSink } from './ports.ts';

/**
 * `jobsFinished`: one count per job that reached a final state, with dimensions pool and status.
 * The original Libra's `libra.jobs.succeeded` and `libra.jobs.failed` are its SUCCEEDED and
 * FAILED series.
 *
 * A job's final move is one conditional write, made by exactly one party, and that party counts
 * it: the job ender for the ends the finalizer decides (a stopped, failed or timed-out execution),
 * and, for the ends the job workflow writes itself (its MarkSucceeded, MarkFailed,
 * MarkRefused and MarkTimeout states), the execution that then SUCCEEDED, whose output
 * names the final state (see workflowFinalStatus).
 */
export const JOBS_FINISHED = 'jobsFinished';

export function countJobFinished(metrics: MetricsSink, pool: string, status: TerminalStatus): void {
  metrics.count(JOBS_FINISHED, pool, 1, { status });
}

/** The part of a job workflow execution's output that says how the job ended. */
export interface WorkflowOutput {
  readonly pool: string;
  readonly final?: { readonly status: string };
}

/**
 * The final state a job workflow execution that SUCCEEDED wrote itself, or undefined when it
 * wrote none. Each Mark state puts the status it wrote in `$.final` (ResultPath) only when its
 * conditional write succeeded; a write that lost (the job had moved on: cancelled, ended by the
 * finalizer) goes to NotRunnable with `$.final` still RUNNING or RETRYING, or absent. So a
 * terminal `final.status` means this execution made the job's final move, and nobody else did.
 */
export function workflowFinalStatus(output: WorkflowOutput): TerminalStatus | undefined {
  const status = output.final?.status;
  if (status === undefined || !(JOB_STATUSES as readonly string[]).includes(status)) return undefined;
  return isTerminal(status as JobStatus) ? (status as TerminalStatus) : undefined;
}
