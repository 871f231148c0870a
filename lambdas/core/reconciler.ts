import type { Admission, AdmissionDeps } from './admission.ts';
import { passEachPool, poolLimits } from './admission.ts';
import type { PoolConfig } from './config.ts';
import type { Finalizer } from './finalizer.ts';
import type { JobRecord } from './job-record.ts';
import { isTerminal } from './job-states.ts';
import type { PoolUsage, WaitingPage, WorkflowControl } from './ports.ts';
import { type ProgressStore, progressEntryDue } from './progress.ts';

/** What the reconciler needs to find and finish jobs whose workflow execution ended unseen. */
export interface ExecutionWatch {
  readonly workflows: WorkflowControl;
  readonly finalizer: Finalizer;
  /**
   * Where a running job's PROGRESS history entries go: the reconciler reads every running job's
   * record on each tick anyway, so the entry due every few minutes costs no read of its own.
   */
  readonly progress?: Pick<ProgressStore, 'addProgressEntry'>;
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
  /** Running jobs whose history got a PROGRESS entry. */
  readonly progressed: string[];
  readonly waiting: number;
}

/** The report as a pass fills it in. */
type Report = { -readonly [K in keyof ReconcileReport]: ReconcileReport[K] };

/** What the count of the waiting room found: the jobs still in their time, and the oldest wait. */
interface WaitingCount {
  readonly waiting: number;
  /** Jobs waiting at each priority: the queue-position counters are reset from it. */
  readonly byPriority: Readonly<Record<number, number>>;
  readonly oldestWaitMs: number;
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

  /** The steps of a pass, in order: leases, then the waiting room, then the pool's gauges. */
  async reconcilePool(poolName: string): Promise<ReconcileReport> {
    const pool = this.#deps.config.pools[poolName];
    const report: Report = {
      pool: poolName,
      released: [],
      scheduled: [],
      restarted: [],
      expired: [],
      finalized: [],
      progressed: [],
      waiting: 0,
    };
    if (!pool) return report;
    const now = this.#deps.clock();
    const usage = await this.#deps.pools.getPool(poolName);
    for (const jobId of Object.keys(usage.leases)) await this.#reconcileLease(poolName, jobId, now, report);
    const counted = await this.#expireAndCount(poolName, pool, now, report, Object.keys(usage.fair.parked));
    report.waiting = counted.waiting;
    await this.#deps.pools.setWaiting(poolName, counted.waiting, counted.byPriority);
    await this.#deps.pools.pruneFairShare(poolName, usage.fair);
    await this.#publishGauges(poolName, pool, report.released.length > 0 ? undefined : usage, counted);
    return report;
  }

  /** A lease whose job ended or is gone is released; a job still queued is scheduled; others are watched. */
  async #reconcileLease(poolName: string, jobId: string, now: Date, report: Report): Promise<void> {
    const job = await this.#deps.jobs.getJob(jobId);
    if (!job || isTerminal(job.status)) {
      if (await this.#deps.pools.release(poolName, jobId)) report.released.push(jobId);
    } else if (job.status === 'QUEUED') {
      const outcome = await this.#admission.schedule(poolName, job);
      if (outcome === 'started' || outcome === 'start-failed') report.scheduled.push(jobId);
      if (outcome === 'released') report.released.push(jobId);
    } else {
      await this.#reconcileExecution(job, now, report);
    }
  }

  /** A leased job past QUEUED: its execution ended unseen, is gone, or never started. */
  async #reconcileExecution(job: JobRecord, now: Date, report: Report): Promise<void> {
    const executions = this.#executions;
    const state = await executions?.workflows.state(job.jobId);
    if (state !== undefined && state !== 'RUNNING' && executions) {
      // The execution ended without ending the job (stopped, failed, or it found the job being
      // cancelled): finish what its EventBridge event would have.
      await executions.finalizer.executionEnded(job.jobId, state === 'SUCCEEDED' ? 'ABORTED' : state);
      report.finalized.push(job.jobId);
    } else if (state === undefined && job.status !== 'SCHEDULED' && executions) {
      // Running without any execution (lost with a local runtime's restart): nothing will end it.
      await executions.finalizer.executionEnded(
        job.jobId,
        'FAILED',
        'its workflow execution no longer exists',
      );
      report.finalized.push(job.jobId);
    } else if (state === 'RUNNING' && executions?.progress && progressEntryDue(job, now)) {
      if (await executions.progress.addProgressEntry(job, now.toISOString()))
        report.progressed.push(job.jobId);
    } else if (state === undefined && job.status === 'SCHEDULED') {
      // After a failed start, when its backoff is over; else once admission had time to start it.
      const due =
        job.nextStartAt !== undefined
          ? Date.parse(job.nextStartAt)
          : Date.parse(job.scheduledAt ?? job.updatedAt) + START_GRACE_MS;
      if (now.getTime() >= due && (await this.#admission.startWorkflow(job))) {
        report.restarted.push(job.jobId);
      }
    }
  }

  /**
   * Reads the waiting room, the jobs parked for their owners' cap included: jobs past the pool's
   * maxWaitMinutes end TIMEOUT; the others are counted.
   */
  async #expireAndCount(
    poolName: string,
    pool: PoolConfig,
    now: Date,
    report: Report,
    parkedOwners: readonly string[],
  ): Promise<WaitingCount> {
    const cutoff = now.getTime() - pool.maxWaitMinutes * 60_000;
    let waiting = 0;
    const byPriority: Record<number, number> = {};
    let oldestWaitMs = 0;
    const { jobs } = this.#deps;
    const partitions: ((start?: Readonly<Record<string, unknown>>) => Promise<WaitingPage>)[] = [
      (start) => jobs.listWaiting(poolName, 100, start),
      ...parkedOwners.map(
        (key) => (start?: Readonly<Record<string, unknown>>) => jobs.listParked(poolName, key, 100, start),
      ),
    ];
    for (const read of partitions) {
      let start: Readonly<Record<string, unknown>> | undefined;
      do {
        const page = await read(start);
        for (const job of page.jobs) {
          const submitted = Date.parse(job.submittedAt);
          if (submitted > cutoff) {
            waiting++;
            byPriority[job.priority] = (byPriority[job.priority] ?? 0) + 1;
            oldestWaitMs = Math.max(oldestWaitMs, now.getTime() - submitted);
          } else if (await this.#expire(poolName, pool, job.jobId)) {
            report.expired.push(job.jobId);
          }
        }
        start = page.next;
      } while (start);
    }
    return { waiting, byPriority, oldestWaitMs };
  }

  /**
   * QUEUED → TIMEOUT (QUEUE_WAIT_EXCEEDED), as every end outside the workflow: the job ender frees its
   * place in the queue (the recount may not lower the counter while submits keep coming), counts
   * and notifies. False when the job left the queue first.
   */
  async #expire(poolName: string, pool: PoolConfig, jobId: string): Promise<boolean> {
    const { moved } = await this.#deps.jobEnder.end(
      jobId,
      'TIMEOUT',
      {
        code: 'QUEUE_WAIT_EXCEEDED',
        message: `waited more than ${pool.maxWaitMinutes} minutes in pool '${poolName}'`,
      },
      { from: ['QUEUED'], alsoCount: 'queueWaitExceeded' },
    );
    return moved;
  }

  /** The pool's capacity, waiting room and oldest wait; the usage read again when leases were released. */
  async #publishGauges(
    poolName: string,
    pool: PoolConfig,
    seen: PoolUsage | undefined,
    counted: WaitingCount,
  ): Promise<void> {
    const { metrics, pools } = this.#deps;
    const usage = seen ?? (await pools.getPool(poolName));
    const limits = poolLimits(pool);
    metrics.gauge('cpuUsed', poolName, usage.cpuUsed, 'Count');
    metrics.gauge('cpuLimit', poolName, limits.cpuCores, 'Count');
    metrics.gauge('memoryUsed', poolName, usage.memoryUsedMiB, 'Megabytes');
    metrics.gauge('memoryLimit', poolName, limits.memoryMiB, 'Megabytes');
    metrics.gauge('jobsActive', poolName, usage.running, 'Count');
    metrics.gauge('waiting', poolName, counted.waiting, 'Count');
    metrics.gauge('oldestWaitSeconds', poolName, Math.round(counted.oldestWaitMs / 1000), 'Seconds');
  }
}
