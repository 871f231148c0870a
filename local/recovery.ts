import type { LibraConfig } from '#core/config.ts';
import { TransitionConflict } from '#core/errors.ts';
import type { Finalizer } from '#core/finalizer.ts';
import type { JobEnder } from '#core/job-ender.ts';
import type { JobRecord } from '#core/job-record.ts';
import type { Reason, TerminalStatus } from '#core/job-states.ts';
import type { Clock, JobStore, LogPort, PoolStore, StartResult } from '#core/ports.ts';
import { type LeftoverReport, type ProcessLog, stopLeftovers } from './engine/process-log.ts';

/**
 * What a local runtime does at start, before it serves, over a data directory an earlier runtime
 * used: the workflow executions of that runtime lived in its memory and are gone, whether it was
 * stopped or killed, so every job that was between admission and its end is picked up again here.
 *
 * First the run processes that runtime left behind are stopped (a run goes on neither unowned nor
 * twice). Then each job that holds a lease in a pool goes on, with a new execution named after
 * the job (a name the new runtime has not used) whose first attempt is the one the job is due:
 *
 * - SCHEDULED: its execution may never have started; it starts now, at its first attempt.
 * - RUNNING: its run was cut off. RUNNING → RETRYING, the history item saying RUNTIME_RESTARTED,
 *   and the next attempt starts — or, when the retry policy has no attempt left, FAILED with
 *   reason RUNTIME_RESTARTED. A run that had already ended (the runtime stopped between the run's
 *   end and the workflow's next step) counts as it ended: success ends the job SUCCEEDED, failure
 *   is a failed attempt.
 * - RETRYING: it was waiting for its next attempt, which starts now (the rest of the backoff is
 *   not waited for).
 * - CANCELLING: its cancel is finished (CANCELLED, or how the run ended if it ended first).
 *
 * Every move is the usual conditional one (a job that moved meanwhile is left as it is), and a
 * job keeps its lease throughout, so no capacity leaks nor doubles. QUEUED jobs holding a lease
 * and terminal jobs still holding one are left to the reconciler, which the runtime runs next.
 */

export interface RecoveryDeps {
  readonly config: LibraConfig;
  /** The engine's process log; absent, no leftover processes are looked for. */
  readonly processLog?: ProcessLog;
  readonly jobs: JobStore;
  readonly pools: Pick<PoolStore, 'getPool'>;
  /** Starts the job's execution at the given attempt (JobLauncher). */
  readonly launch: (job: JobRecord, attempt: number) => Promise<StartResult>;
  /** Starts a SCHEDULED job's execution, ending it START_FAILED when it cannot be (Admission). */
  readonly startScheduled: (job: JobRecord) => Promise<boolean>;
  /** The attempt a backend run belongs to, from what it left on disk; undefined when unknown. */
  readonly runAttempt: (jobId: string, runId: string) => Promise<number | undefined>;
  readonly jobEnder: JobEnder;
  readonly finalizer: Pick<Finalizer, 'executionEnded'>;
  readonly logger: LogPort;
  readonly clock: Clock;
}

export type RecoveryAction =
  | 'started'
  | 'retried'
  | 'resumed'
  | 'failed'
  | 'succeeded'
  | 'cancelled'
  | 'skipped';

export interface RecoveredJob {
  readonly jobId: string;
  readonly pool: string;
  readonly from: JobRecord['status'];
  readonly action: RecoveryAction;
  /** The attempt (0-based) the new execution starts at. */
  readonly attempt?: number;
  readonly status?: JobRecord['status'];
}

export interface RecoveryReport {
  readonly processes: LeftoverReport;
  readonly jobs: RecoveredJob[];
}

const NO_PROCESSES: LeftoverReport = { stopped: [], gone: [], stuck: [] };

export async function recoverAtStart(deps: RecoveryDeps): Promise<RecoveryReport> {
  const { logger } = deps;
  const processes = deps.processLog ? await stopLeftovers(deps.processLog) : NO_PROCESSES;
  for (const started of processes.stopped) {
    logger.warn('recovery: stopped a run process the previous runtime left running', {
      pid: started.pid,
      jobId: started.jobId,
      attempt: started.attempt,
      runId: started.runId,
    });
  }
  // A process that would not die: its job is not run again beside it.
  const stuck = new Set(processes.stuck.map((started) => started.jobId));
  for (const started of processes.stuck) {
    logger.error(
      'recovery: a run process the previous runtime left would not stop; its job is not restarted',
      {
        pid: started.pid,
        jobId: started.jobId,
        runId: started.runId,
      },
    );
  }
  if (deps.processLog && stuck.size === 0) deps.processLog.rotate();

  const jobs: RecoveredJob[] = [];
  for (const pool of Object.keys(deps.config.pools)) {
    const usage = await deps.pools.getPool(pool);
    for (const jobId of Object.keys(usage.leases)) {
      const job = await deps.jobs.getJob(jobId);
      if (!job || stuck.has(jobId)) continue;
      const recovered = await recoverJob(deps, job).catch((error: unknown) => {
        // One job that cannot be recovered does not hold up the others; the reconciler sees it next.
        logger.error('recovery: job not recovered', { jobId, status: job.status, error: error as Error });
        return undefined;
      });
      if (recovered === undefined) continue;
      jobs.push(recovered);
      logger.info(`recovery: job ${recovered.action}`, { ...recovered });
    }
  }
  return { processes, jobs };
}

async function recoverJob(deps: RecoveryDeps, job: JobRecord): Promise<RecoveredJob | undefined> {
  const base = { jobId: job.jobId, pool: job.pool, from: job.status };
  switch (job.status) {
    case 'SCHEDULED': {
      const started = await deps.startScheduled(job);
      return { ...base, action: started ? 'started' : 'failed', attempt: 0 };
    }
    case 'RETRYING':
      return retry(deps, job, job.attempts, base);
    case 'RUNNING':
      return recoverRunning(deps, job, base);
    case 'CANCELLING': {
      const ended = await deps.finalizer.executionEnded(job.jobId, 'ABORTED');
      return { ...base, action: 'cancelled', ...(ended && { status: ended.status }) };
    }
    default:
      return undefined;
  }
}

type Base = Pick<RecoveredJob, 'jobId' | 'pool' | 'from'>;

async function recoverRunning(deps: RecoveryDeps, job: JobRecord, base: Base): Promise<RecoveredJob> {
  // MarkRunning counts attempts from 1; the workflow's attempts are 0-based.
  const attempt = Math.max(job.attempts, 1) - 1;
  const lastAttempt = job.spec.retryPolicy.maxRetries;
  const runOfThisAttempt =
    job.backendRunId !== undefined &&
    (await deps.runAttempt(job.jobId, job.backendRunId)) === attempt &&
    (job.backendState === 'SUCCESS' || job.backendState === 'FAILED');
  if (runOfThisAttempt && job.backendState === 'SUCCESS') {
    return end(deps, job, base, 'SUCCEEDED');
  }
  const error = runOfThisAttempt
    ? {
        name: 'States.TaskFailed',
        cause: `attempt ${attempt + 1}'s run ${job.backendRunId} had failed when the local runtime stopped`,
      }
    : {
        name: 'RUNTIME_RESTARTED',
        cause: `the local runtime stopped during attempt ${attempt + 1} of ${lastAttempt + 1}; its run was stopped`,
      };
  if (attempt >= lastAttempt) {
    const reason: Reason = runOfThisAttempt
      ? { code: 'SPARK_JOB_FAILED', message: error.cause }
      : {
          code: 'RUNTIME_RESTARTED',
          message: `${error.cause}, and its retry policy allows no more attempts`,
        };
    return end(deps, job, base, 'FAILED', reason);
  }
  const next = attempt + 1;
  let moved: JobRecord;
  try {
    moved = await deps.jobs.transition(job.jobId, ['RUNNING'], 'RETRYING', {
      at: deps.clock().toISOString(),
      set: { lastError: error },
      event: { attempt: next, error },
    });
  } catch (failure) {
    if (failure instanceof TransitionConflict) return { ...base, action: 'skipped' };
    throw failure;
  }
  return retry(deps, moved, next, base);
}

async function retry(deps: RecoveryDeps, job: JobRecord, attempt: number, base: Base): Promise<RecoveredJob> {
  if (attempt > job.spec.retryPolicy.maxRetries) {
    return end(deps, job, base, 'FAILED', {
      code: 'RUNTIME_RESTARTED',
      message: `the local runtime stopped before attempt ${attempt + 1}, which its retry policy does not allow`,
    });
  }
  const result = await deps.launch(job, attempt);
  return {
    ...base,
    action: result === 'started' ? (base.from === 'RETRYING' ? 'resumed' : 'retried') : 'skipped',
    attempt,
  };
}

/** The end the workflow would have recorded, made as every end outside it (JobEnder.end). */
async function end(
  deps: RecoveryDeps,
  job: JobRecord,
  base: Base,
  status: TerminalStatus,
  reason?: Reason,
): Promise<RecoveredJob> {
  const ended = await deps.jobEnder.finish(job.jobId, status, reason, { from: [job.status] });
  return {
    ...base,
    action: status === 'SUCCEEDED' ? 'succeeded' : 'failed',
    ...(ended && { status: ended.status }),
  };
}
