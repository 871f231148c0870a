import type { Admission, AdmissionDeps } from './admission.ts';
import { passEachPool, poolLimits } from './admission.ts';
import { TransitionConflict } from './errors.ts';
import type { Finalizer } from './finalizer.ts';
import { countJobFinished } from './job-ends.ts';
import { isTerminal } from './job-states.ts';
import type { JobNotifier, WorkflowControl } from './ports.ts';

/** What the reconciler needs to find and finish jobs whose workflow execution ended unseen. */
export interface ExecutionWatch {
  readonly workflows: WorkflowControl;
  readonly finalizer: Finalizer;
  /** Tells owners whose queued jobs waited too long. */
  readonly notifier?: JobNotifier;
}

/**
 * The reconciler, run on every tick (DESIGN §4). It makes the store true again after any
 * crash between two steps: leases of finished or missing jobs are released; a job that holds
 * a lease but is still QUEUED is scheduled (its admission stopped half-way); SCHEDULED jobs
 * whose workflow may not have started are started again (idempotent by name), after the backoff
 * of their last failed start, and end START_FAILED when they cannot be; QUEUED jobs past
 * the pool's maxWaitMinutes time out; the waiting counter is recounted.
 */

export interface ReconcileReport {
  readonly pool: string;
  readonly released: string[];
  readonly scheduled: string[];
  readonly restarted: string[];
  readonly expired: string[];
  /** Jobs whose execution had ended without the workflow finishing them. */
  readonly finalized: string[];
  readonly waiting: number;
}

/** A SCHEDULED job younger than this is left alone: its admission may still be starting it. */
export const START_GRACE_MS = 30_000;

export class Reconciler {
  readonly #deps: AdmissionDeps;
  readonly #admission: Admission;

  readonly #executions: ExecutionWatch | undefined;

  /** Without `executions`, jobs whose workflow ended unseen are left alone (admission-only setups). */
  constructor(deps: AdmissionDeps, admission: Admission, executions?: ExecutionWatch) {
    this.#deps = deps;
    this.#admission = admission;
    this.#executions = executions;
  }

  /** Reconciles every configured pool; a pool that fails does not stop the others (PoolPassesFailed). */
  async reconcileAll(): Promise<ReconcileReport[]> {
    return passEachPool(
      Object.keys(this.#deps.config.pools),
      (pool) => this.reconcilePool(pool),
      this.#deps.logger,
    );
  }

  async reconcilePool(poolName: string): Promise<ReconcileReport> {
    const { config, jobs, pools, metrics, clock } = this.#deps;
    const pool = config.pools[poolName];
    const report = {
      pool: poolName,
      released: [] as string[],
      scheduled: [] as string[],
      restarted: [] as string[],
      expired: [] as string[],
      finalized: [] as string[],
      waiting: 0,
    };
    if (!pool) return report;
    const now = clock();

    const usage = await pools.getPool(poolName);
    for (const jobId of Object.keys(usage.leases)) {
      const job = await jobs.getJob(jobId);
      if (!job || isTerminal(job.status)) {
        if (await pools.release(poolName, jobId)) report.released.push(jobId);
      } else if (job.status === 'QUEUED') {
        const outcome = await this.#admission.schedule(poolName, job);
        if (outcome === 'started' || outcome === 'start-failed') report.scheduled.push(jobId);
        if (outcome === 'released') report.released.push(jobId);
      } else {
        const state = await this.#executions?.workflows.state(jobId);
        if (state !== undefined && state !== 'RUNNING' && this.#executions) {
          // The execution ended without ending the job (stopped, failed, or it found the job
          // being cancelled): finish what its EventBridge event would have.
          await this.#executions.finalizer.executionEnded(jobId, state === 'SUCCEEDED' ? 'ABORTED' : state);
          report.finalized.push(jobId);
        } else if (state === undefined && job.status !== 'SCHEDULED' && this.#executions) {
          // Running without any execution (lost with a local runtime's restart): nothing will end it.
          await this.#executions.finalizer.executionEnded(
            jobId,
            'FAILED',
            'its workflow execution no longer exists',
          );
          report.finalized.push(jobId);
        } else if (state === undefined && job.status === 'SCHEDULED') {
          // After a failed start, when its backoff is over; else once admission had time to start it.
          const due =
            job.nextStartAt !== undefined
              ? Date.parse(job.nextStartAt)
              : Date.parse(job.scheduledAt ?? job.updatedAt) + START_GRACE_MS;
          if (now.getTime() >= due && (await this.#admission.startWorkflow(job))) {
            report.restarted.push(jobId);
          }
        }
      }
    }

    const cutoff = now.getTime() - pool.maxWaitMinutes * 60_000;
    let waiting = 0;
    const waitingByPriority: Record<number, number> = {};
    let oldestWaitMs = 0;
    let start: Readonly<Record<string, unknown>> | undefined;
    do {
      const page = await jobs.listWaiting(poolName, 100, start);
      for (const job of page.jobs) {
        const submitted = Date.parse(job.submittedAt);
        if (submitted > cutoff) {
          waiting++;
          waitingByPriority[job.priority] = (waitingByPriority[job.priority] ?? 0) + 1;
          oldestWaitMs = Math.max(oldestWaitMs, now.getTime() - submitted);
          continue;
        }
        try {
          await jobs.transition(job.jobId, ['QUEUED'], 'TIMEOUT', {
            at: now.toISOString(),
            reason: {
              code: 'QUEUE_WAIT_EXCEEDED',
              message: `waited more than ${pool.maxWaitMinutes} minutes in pool '${poolName}'`,
            },
          });
          report.expired.push(job.jobId);
          countJobFinished(metrics, poolName, 'TIMEOUT');
          await this.#executions?.notifier?.notify(job.jobId, 'TIMEOUT').catch((error: unknown) => {
            this.#deps.logger.warn('webhook for a queue-wait timeout not delivered', {
              jobId: job.jobId,
              error: error as Error,
            });
          });
          // Its place in the queue is free now, as a cancel frees it: the recount below may not
          // lower the counter while submits keep coming.
          await pools.freeQueueSlot(poolName, [job.priority]);
        } catch (error) {
          if (!(error instanceof TransitionConflict)) throw error;
        }
      }
      start = page.next;
    } while (start);
    report.waiting = waiting;
    await pools.setWaiting(poolName, waiting, waitingByPriority);

    const after = report.released.length > 0 ? await pools.getPool(poolName) : usage;
    const limits = poolLimits(pool);
    metrics.gauge('cpuUsed', poolName, after.cpuUsed, 'Count');
    metrics.gauge('cpuLimit', poolName, limits.cpuCores, 'Count');
    metrics.gauge('memoryUsed', poolName, after.memoryUsedMiB, 'Megabytes');
    metrics.gauge('memoryLimit', poolName, limits.memoryMiB, 'Megabytes');
    metrics.gauge('jobsActive', poolName, after.running, 'Count');
    metrics.gauge('waiting', poolName, waiting, 'Count');
    metrics.gauge('oldestWaitSeconds', poolName, Math.round(oldestWaitMs / 1000), 'Seconds');
    if (report.expired.length > 0) metrics.count('queueWaitExceeded', poolName, report.expired.length);
    return report;
  }
}
