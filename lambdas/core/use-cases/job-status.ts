import { type JobCost, jobCost } from '../cost.ts';
import type { JobRecord } from '../job-record.ts';
import type { JobStatus } from '../job-states.ts';
import type { Backend } from '../placement.ts';
import type { JobStore, PoolStore } from '../ports.ts';
import type { Progress } from '../progress.ts';
import { EXACT_QUEUE_POSITIONS, estimateQueuePosition, type QueuePosition } from '../queue-position.ts';
import { type VisibleJobDeps, visibleJob } from './visible-job.ts';

/** What a status read calls: the job, and for a queued one its place in the queue. */
export interface JobStatusDeps extends VisibleJobDeps {
  readonly jobs: Pick<JobStore, 'getJob' | 'queuePosition'>;
  readonly pools: Pick<PoolStore, 'getPool'>;
  /** Queue positions up to this are counted exactly, later ones estimated (EXACT_QUEUE_POSITIONS when absent). */
  readonly exactQueuePositions?: number;
}

export interface StatusView {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly name?: string;
  readonly pool: string;
  readonly backend: Backend;
  readonly priority: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly attempts: number;
  readonly submittedAt: string;
  readonly queuedAt?: string;
  readonly scheduledAt?: string;
  readonly startedAt?: string;
  readonly completedAt?: string;
  readonly cancelledAt?: string;
  readonly reason?: JobRecord['reason'];
  readonly resources: JobRecord['resources'];
  readonly queuePosition?: number;
  /** Present with queuePosition: true when the position is estimated (past the counted head of the queue). */
  readonly queuePositionEstimated?: boolean;
  /** The backend's run: its id and EMR's own state of it. */
  readonly run?: { readonly id: string; readonly state?: string };
  /** Where to look at the run: Spark UI and logs; locally its stdout, stderr and SQL result. */
  readonly links?: Readonly<Record<string, string>>;
  /** The job this one re-runs. */
  readonly rerunOf?: string;
  /** The newest re-runs of this job (at most MAX_LINKED_RERUNS), oldest first. */
  readonly reruns?: readonly string[];
  /** Re-runs of this job, all told. */
  readonly rerunCount?: number;
  /** How far the run has got, as last reported; kept once the job ends. */
  readonly progress?: Progress;
  /** What its ended runs used and cost, summed (core/cost.ts). */
  readonly cost?: JobCost;
}

/** The caller's job as the API shows it: status, timestamps, attempts, reason and queue position. */
export async function jobStatus(deps: JobStatusDeps, principal: string, jobId: string): Promise<StatusView> {
  const job = await visibleJob(deps, principal, jobId);
  return toStatusView(job, job.status === 'QUEUED' ? await queuePositionOf(deps, job) : undefined);
}

/** At most two requests whatever the queue's depth: a bounded count, then the pool item if it did not reach the job. */
async function queuePositionOf(deps: JobStatusDeps, job: JobRecord): Promise<QueuePosition> {
  const counted = await deps.jobs.queuePosition(job, deps.exactQueuePositions ?? EXACT_QUEUE_POSITIONS);
  if (!counted.more) return { position: counted.ahead + 1, estimated: false };
  const usage = await deps.pools.getPool(job.pool);
  return { position: estimateQueuePosition(job, counted, usage.queue, usage.waiting), estimated: true };
}

export function toStatusView(job: JobRecord, queued?: QueuePosition): StatusView {
  return {
    jobId: job.jobId,
    status: job.status,
    ...(job.name !== undefined && { name: job.name }),
    pool: job.pool,
    backend: job.backend,
    priority: job.priority,
    tags: job.tags,
    attempts: job.attempts,
    submittedAt: job.submittedAt,
    ...(job.queuedAt !== undefined && { queuedAt: job.queuedAt }),
    ...(job.scheduledAt !== undefined && { scheduledAt: job.scheduledAt }),
    ...(job.startedAt !== undefined && { startedAt: job.startedAt }),
    ...(job.completedAt !== undefined && { completedAt: job.completedAt }),
    ...(job.cancelledAt !== undefined && { cancelledAt: job.cancelledAt }),
    ...(job.reason !== undefined && { reason: job.reason }),
    resources: job.resources,
    ...(queued !== undefined && {
      queuePosition: queued.position,
      queuePositionEstimated: queued.estimated,
    }),
    ...(job.backendRunId !== undefined && {
      run: { id: job.backendRunId, ...(job.backendState !== undefined && { state: job.backendState }) },
    }),
    ...(job.links !== undefined && { links: job.links }),
    ...(job.rerunOf !== undefined && { rerunOf: job.rerunOf }),
    ...(job.reruns !== undefined && { reruns: job.reruns }),
    ...(job.rerunCount !== undefined && { rerunCount: job.rerunCount }),
    ...(job.progress !== undefined && { progress: job.progress }),
    ...costOf(job),
  };
}

function costOf(job: JobRecord): { cost?: JobCost } {
  const cost = jobCost(Object.values(job.runCosts ?? {}));
  return cost === undefined ? {} : { cost };
}
