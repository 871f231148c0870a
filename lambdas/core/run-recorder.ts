import { type LibraConfig, poolNamed } from './config.ts';
import { DEFAULT_PRICES, priceRun, type RunUsage, runTotalUsd, sizedUsage } from './cost.ts';
import type { JobEvent, JobRecord } from './job-record.ts';
import type { JobStore, LogPort, MetricsSink, RunCostLog, RunStateChange, UsageLedger } from './ports.ts';

export interface RunRecorderDeps {
  readonly jobs: Pick<JobStore, 'recordRun' | 'getJob' | 'listEvents'> & RunCostLog;
  readonly ledger: Pick<UsageLedger, 'add'>;
  readonly config: LibraConfig;
  readonly metrics: MetricsSink;
  readonly logger: LogPort;
}

/** EMR's final job-run states: SUCCESS/FAILED/CANCELLED on EMR Serverless, COMPLETED/FAILED/CANCELLED on EMR on EKS. */
const RUN_ENDS: ReadonlySet<string> = new Set(['SUCCESS', 'COMPLETED', 'FAILED', 'CANCELLED']);

export function isRunEnd(state: string): boolean {
  return RUN_ENDS.has(state);
}

/** The metric each run's cost adds to, per pool (USD, compute and orchestration). */
export const RUN_COST_METRIC = 'runCostUsd';
/** The pool's spend in the month so far, reported as each run's cost is counted (USD). */
export const MONTH_SPEND_METRIC = 'monthSpendUsd';

/**
 * Keeps the backend's view of a job's run on the job record: its run id (which the finalizer
 * needs to cancel it), the backend's own state and the links to the run's UI and logs. When a
 * run ends it also keeps what the run cost (docs/cost.md): on the job, once per run, and in the
 * usage totals by owner, pool and tag.
 */
export class RunRecorder {
  readonly #deps: RunRecorderDeps;

  constructor(deps: RunRecorderDeps) {
    this.#deps = deps;
  }

  async record(change: RunStateChange): Promise<void> {
    const recorded = await this.#deps.jobs.recordRun(change);
    if (!recorded) {
      this.#deps.logger.warn('run state for an unknown job', { jobId: change.jobId, runId: change.runId });
      return;
    }
    if (isRunEnd(change.state)) await this.#recordCost(change);
  }

  async #recordCost(change: RunStateChange): Promise<void> {
    const { jobs, ledger, config, metrics, logger } = this.#deps;
    const job = await jobs.getJob(change.jobId);
    if (job === undefined) return;
    if (job.runCosts?.[change.runId] !== undefined) return;
    const started = lastRunStart(await jobs.listEvents(change.jobId), change.at);
    // EMR on EKS reports no usage: it is estimated from sizing. A run elsewhere without usage
    // never ran (the local engine could not start it) and cost nothing to count.
    const usage =
      change.usage ?? (job.backend === 'eks' ? estimatedUsage(job, started, change.at) : undefined);
    if (usage === undefined) {
      logger.info('a run ended with no usage to count', { jobId: job.jobId, runId: change.runId });
      return;
    }
    const pool = poolNamed(config, job.pool);
    const cost = priceRun(
      usage,
      { compute: pool?.prices ?? DEFAULT_PRICES, orchestration: config.orchestration },
      started?.attempt ?? Math.max(0, job.attempts - 1),
      change.at,
    );
    const outcome = await jobs.recordRunCost(job.jobId, change.runId, cost);
    // A redelivered end was counted by whoever recorded it first.
    if (outcome !== 'recorded') return;
    const spend = await ledger.add({ owner: job.owner, pool: job.pool, tags: job.tags, cost });
    metrics.gauge(RUN_COST_METRIC, job.pool, runTotalUsd(cost), 'None');
    metrics.gauge(MONTH_SPEND_METRIC, job.pool, spend, 'None');
  }
}

/** The start of the run that ended at `endedAt`: the last move to RUNNING before it, with its attempt. */
export function lastRunStart(
  events: readonly JobEvent[],
  endedAt: string,
): { readonly at: string; readonly attempt: number } | undefined {
  let found: { at: string; attempt: number } | undefined;
  for (const event of events) {
    if (event.type !== 'STATUS' || event.status !== 'RUNNING' || event.at > endedAt) continue;
    if (found !== undefined && event.at < found.at) continue;
    const attempt = (event as JobEvent & { readonly attempt?: unknown }).attempt;
    found = { at: event.at, attempt: typeof attempt === 'number' ? attempt : 0 };
  }
  return found;
}

/** A run with no usage of its own (EMR on EKS): its sized resources for as long as it ran. */
function estimatedUsage(
  job: JobRecord,
  started: { readonly at: string } | undefined,
  endedAt: string,
): RunUsage | undefined {
  const from = started?.at ?? job.startedAt;
  if (from === undefined) return undefined;
  return sizedUsage(job.resources, (Date.parse(endedAt) - Date.parse(from)) / 1000);
}
