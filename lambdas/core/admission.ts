import {
  advance,
  byAdmissionOrder,
  FreeCapacity,
  OwnerCounts,
  planWave,
  virtualTimeSteps,
  withParked,
} from './admission-plan.ts';
import { startRetryDelaySeconds } from './backoff.ts';
import type { LibraConfig, PoolConfig } from './config.ts';
import { StartRefused, TransitionConflict } from './errors.ts';
import { ownerKey } from './fair-share.ts';
import type { JobEnder } from './job-ender.ts';
import type { JobRecord } from './job-record.ts';
import { isTerminal } from './job-states.ts';
import type {
  Clock,
  JobStore,
  Lease,
  LeaseOptions,
  LogPort,
  MetricsSink,
  PoolLimits,
  PoolStore,
  PoolUsage,
  StartAttempts,
  WaitingJob,
  WaitingJobs,
  WorkflowStarter,
} from './ports.ts';

/**
 * Admission (DESIGN §4): for a pool, take waiting jobs in key order (priority, then submit
 * order), lease their capacity with conditional updates of the pool item (one for the heads
 * that fit together, or one per job), move each
 * QUEUED → SCHEDULED and start its workflow. The first head that does not fit blocks the pool
 * unless the pool backfills. Every step is idempotent, so a message delivered twice, two
 * admissions racing, or a crash between any two steps can at worst leave work for the
 * reconciler — never a job admitted twice or capacity above the limit.
 */

export interface AdmissionDeps {
  readonly config: LibraConfig;
  readonly jobs: JobStore & WaitingJobs & StartAttempts;
  readonly pools: PoolStore;
  readonly starter: WorkflowStarter;
  /**
   * Ends a job whose workflow cannot start (the move, the count, the release, the wake, the
   * webhook), and gives back the lease of a job that ended while admission leased it.
   */
  readonly jobEnder: JobEnder;
  readonly metrics: MetricsSink;
  readonly clock: Clock;
  readonly logger: LogPort;
}

export interface AdmitOutcome {
  readonly pool: string;
  readonly admitted: string[];
  /** The head that did not fit and blocks the pool, when one did. */
  readonly blockedBy?: string;
  /**
   * Admitted jobs whose workflow did not start: ended START_FAILED, or (a transient failure)
   * started again by the tick after a backoff.
   */
  readonly startFailures: string[];
}

const PAGE_SIZE = 25;
/**
 * A lease younger than this on a job that still waits is left to the pass that took it, which may
 * still be moving the job: another pass would only have its move refused. An older one was left
 * by a pass that ended between its lease and its move, and the next pass moves the job: within
 * a minute, by the tick at the latest.
 */
export const MOVE_GRACE_MS = 30_000;
/** AWS's messages are short; a reason is shown in every listing, so an unexpected long one is cut. */
const MAX_REASON_CHARS = 2_000;

function describe(error: unknown): string {
  if (error instanceof Error)
    return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}

/**
 * A pass over every pool in which some pools failed. The other pools were still passed:
 * one pool whose item or index cannot be read must not stop admission and repair in all.
 */
export class PoolPassesFailed<T> extends AggregateError {
  readonly pools: readonly string[];
  /** The results of the pools that passed. */
  readonly completed: readonly T[];

  constructor(errors: readonly unknown[], pools: readonly string[], completed: readonly T[]) {
    super(errors, `the pass failed in pool${pools.length > 1 ? 's' : ''} ${pools.join(', ')}`);
    this.name = 'PoolPassesFailed';
    this.pools = pools;
    this.completed = completed;
  }
}

/** Runs `pass` for each pool in turn, on past a pool that fails; throws PoolPassesFailed at the end if any did. */
export async function passEachPool<T>(
  pools: readonly string[],
  pass: (pool: string) => Promise<T>,
  logger: LogPort,
): Promise<T[]> {
  const completed: T[] = [];
  const errors: unknown[] = [];
  const failed: string[] = [];
  for (const pool of pools) {
    try {
      completed.push(await pass(pool));
    } catch (error) {
      logger.error('pool pass failed; the other pools carry on', { pool, error: error as Error });
      errors.push(error);
      failed.push(pool);
    }
  }
  if (errors.length > 0) throw new PoolPassesFailed(errors, failed, completed);
  return completed;
}

export function poolLimits(pool: PoolConfig): PoolLimits {
  return {
    cpuCores: pool.cpuCores,
    memoryMiB: pool.memoryGb * 1024,
    maxConcurrentJobs: pool.maxConcurrentJobs,
  };
}

/** One pass's working state: what it read of the pool and what it decided. It lives as long as the pass. */
interface Pass {
  readonly poolName: string;
  readonly pool: PoolConfig;
  readonly limits: PoolLimits;
  free: FreeCapacity;
  owners: OwnerCounts;
  virtualTime: Record<number, number>;
  /**
   * Leases older than MOVE_GRACE_MS when the pass read the pool: left by a pass that ended before
   * it moved their jobs. A head among them is moved by this pass on that lease, not leased again.
   */
  readonly abandoned: ReadonlySet<string>;
  /** Heads another pass leased and moves: recent leases when this pass read the pool, and any taken since. */
  readonly leasedElsewhere: Set<string>;
  /** The heads this pass leased (or found abandoned), in lease order: they are moved once leasing ends. */
  readonly leased: WaitingJob[];
  /** Leases in one write while several heads fit (acquireAll), one at a time once that is refused twice. */
  together: boolean;
  /** The pool item was read again after a refused wave. */
  reread: boolean;
  blockedBy?: string;
  readonly parked: Set<string>;
  readonly marked: Set<string>;
}

/** The pool's leases by age at `now`: left by a pass that ended (abandoned), or still another pass's to move. */
function leasesByAge(
  leases: Readonly<Record<string, Lease>>,
  now: number,
): { abandoned: Set<string>; leasedElsewhere: Set<string> } {
  const abandoned = new Set<string>();
  const leasedElsewhere = new Set<string>();
  for (const [jobId, lease] of Object.entries(leases)) {
    // A lease whose time cannot be read is taken as old: its job is moved rather than left.
    const young = now - Date.parse(lease.at) < MOVE_GRACE_MS;
    (young ? leasedElsewhere : abandoned).add(jobId);
  }
  return { abandoned, leasedElsewhere };
}

/** What the moves and starts of a pass came to. */
interface Moved {
  readonly admitted: string[];
  readonly startFailures: string[];
  /** Leased jobs that had left the queue and gave their lease back: room another pass takes. */
  readonly released: number;
}

/**
 * Admission's passes are plain and sequential: read the pool item, then the first page of its
 * waiting index, plan a wave (admission-plan.ts), lease it in one conditional write, move the
 * leased jobs, start them, and give their queue slots back in one write. Two passes of one pool
 * (two Lambda environments, or two batches in one process) are kept apart by the store's
 * conditions alone: the one whose wave is refused plans once more, from the pool item the refusal
 * carries back, around the leases the other took; and neither moves a job the other leased less
 * than MOVE_GRACE_MS ago.
 */
export class Admission {
  readonly #deps: AdmissionDeps;

  constructor(deps: AdmissionDeps) {
    this.#deps = deps;
  }

  /** Admits from every configured pool; a pool that fails does not stop the others (PoolPassesFailed). */
  async admitAll(): Promise<AdmitOutcome[]> {
    return passEachPool(
      Object.keys(this.#deps.config.pools),
      (pool) => this.admitPool(pool),
      this.#deps.logger,
    );
  }

  /**
   * One admission pass for the pool, and another after it when a job it leased had left the
   * queue (its room is free again). The outcome is this pass's.
   *
   * Whatever woke it, the pass reads the pool item first, then no more heads than what is free
   * can lease: a full pool, where most submits and most racing passes land, costs one read, and
   * a head another pass admitted in the meantime is not read as still waiting.
   */
  async admitPool(poolName: string): Promise<AdmitOutcome> {
    const { config, logger } = this.#deps;
    const pool = config.pools[poolName];
    if (!pool) {
      logger.warn('admission for an unknown pool ignored', { pool: poolName });
      return { pool: poolName, admitted: [], startFailures: [] };
    }
    const { pass, moved } = await this.#pass(poolName, pool);
    const outcome: AdmitOutcome = {
      pool: poolName,
      admitted: moved.admitted,
      startFailures: moved.startFailures,
      ...(pass.blockedBy !== undefined && { blockedBy: pass.blockedBy }),
    };
    // The room a released lease left is taken by a pass of its own, which this one awaits.
    if (moved.released > 0) await this.admitPool(poolName);
    return outcome;
  }

  /** Read → lease (waves, else one at a time) → moves → starts → one queue-slot write. */
  async #pass(poolName: string, pool: PoolConfig): Promise<{ pass: Pass; moved: Moved }> {
    const usage = await this.#deps.pools.getPool(poolName);
    const limits = poolLimits(pool);
    const pass: Pass = {
      poolName,
      pool,
      limits,
      free: new FreeCapacity(limits, usage),
      owners: new OwnerCounts(pool.maxRunningPerOwner, usage.fair.running),
      virtualTime: { ...usage.fair.virtualTime },
      ...leasesByAge(usage.leases, this.#deps.clock().getTime()),
      leased: [],
      together: true,
      reread: false,
      parked: new Set(),
      marked: new Set(),
    };
    await this.#leaseAll(pass, usage.fair.parked);
    return { pass, moved: await this.#moveAndStart(pass) };
  }

  /** Leases page after page of heads (with the parked jobs that may come back) until the pool is full or blocked. */
  async #leaseAll(pass: Pass, parkedOwners: Readonly<Record<string, number>>): Promise<void> {
    const { jobs } = this.#deps;
    // The parked jobs of owners now below their cap, in order: they come back among the heads.
    const pending = pass.free.exhausted
      ? []
      : await this.#unparkable(pass.poolName, parkedOwners, pass.owners);
    for (const job of pending) pass.parked.add(job.jobId);
    let start: Readonly<Record<string, unknown>> | undefined;
    do {
      if (pass.free.exhausted) return;
      // No more heads than what is free can lease, and the one that blocks, unless the pool backfills.
      const limit = pass.pool.backfill ? PAGE_SIZE : Math.min(PAGE_SIZE, pass.free.jobs + 1);
      const page = await jobs.listWaiting(pass.poolName, limit, start);
      const heads = withParked(page.jobs, pending, page.next === undefined);
      if (!(await this.#leasePage(pass, heads))) return;
      start = page.next;
    } while (start);
  }

  /** Leases what fits of one page of heads; false when the pass stops there (blocked, or nothing fits any more). */
  async #leasePage(pass: Pass, heads: readonly WaitingJob[]): Promise<boolean> {
    for (let i = 0; i < heads.length; ) {
      if (pass.together) {
        const next = await this.#leaseWave(pass, heads, i);
        if (next !== undefined) {
          i = next;
          continue;
        }
      }
      if ((await this.#leaseOne(pass, heads[i++] as WaitingJob)) === 'stop') return false;
    }
    return true;
  }

  /**
   * Leases the wave planned from head `from` in one write; where to go on from, or undefined when
   * the head at `from` is to be leased alone. A refused wave means capacity is not what was read
   * (another pass leased), an owner reached its cap, or a head already holds a lease: the pass
   * reads the pool item again and plans once more, then goes one at a time, which tells those apart.
   */
  async #leaseWave(pass: Pass, heads: readonly WaitingJob[], from: number): Promise<number | undefined> {
    const { pool, owners } = pass;
    const wave = planWave(
      heads,
      from,
      pass.free,
      pass.leasedElsewhere,
      pass.abandoned,
      pool.backfill,
      owners,
    );
    if (wave.jobs.length < 2) return undefined;
    const steps = virtualTimeSteps(pass.virtualTime, wave.jobs);
    const options = this.#leaseOptions(pass, steps);
    const lease = await this.#deps.pools.acquireAll(
      pass.poolName,
      pass.limits,
      wave.jobs,
      this.#now(),
      options,
    );
    if (lease.leased) {
      pass.free = wave.free;
      advance(pass.virtualTime, steps);
      for (const head of wave.jobs) {
        owners.add(ownerKey(head.owner), 1);
        pass.leased.push(head);
      }
      return wave.next;
    }
    if (pass.reread) {
      pass.together = false;
      return undefined;
    }
    pass.reread = true;
    await this.#readAgain(pass, lease.found);
    return from;
  }

  /**
   * The pool item once more (as the refused wave found it, when the store gave it back): what is
   * free now, and the leases another pass took since the first read.
   */
  async #readAgain(pass: Pass, found: PoolUsage | undefined): Promise<void> {
    const usage = found ?? (await this.#deps.pools.getPool(pass.poolName));
    pass.free = new FreeCapacity(pass.limits, usage);
    pass.owners = new OwnerCounts(pass.pool.maxRunningPerOwner, usage.fair.running);
    pass.virtualTime = { ...usage.fair.virtualTime };
    const mine = new Set(pass.leased.map((head) => head.jobId));
    for (const jobId of Object.keys(usage.leases)) {
      if (!pass.abandoned.has(jobId) && !mine.has(jobId)) pass.leasedElsewhere.add(jobId);
    }
  }

  /**
   * One head on its own: moved on its lease when a pass that ended left one, parked when its owner
   * is at the cap, else leased if it fits; 'stop' when the pass ends here.
   */
  async #leaseOne(pass: Pass, head: WaitingJob): Promise<'next' | 'stop'> {
    const { pool, owners } = pass;
    if (pass.leasedElsewhere.has(head.jobId)) return 'next';
    if (pass.abandoned.has(head.jobId)) {
      // The lease is still held while the job is QUEUED (every release follows the job's move out
      // of QUEUED), so the job is moved without asking for the lease again; one found ended gives
      // the lease back. It counts in what was read as used, and in its owner's running count.
      pass.leased.push(head);
      return 'next';
    }
    const key = ownerKey(head.owner);
    if (owners.left(key) < 1) {
      // Its owner is at the cap: not a head that blocks the pool, a job that waits for its owner.
      await this.#park(pass, head);
      return 'next';
    }
    if (!pass.free.fits(head.reservation)) return this.#blocked(pass, head);
    const steps = virtualTimeSteps(pass.virtualTime, [head]);
    const options = this.#leaseOptions(pass, steps);
    const acquired = await this.#deps.pools.acquire(pass.poolName, pass.limits, head, this.#now(), options);
    if (acquired === 'owner-capped') {
      owners.full(key);
      await this.#park(pass, head);
      return 'next';
    }
    if (acquired === 'no-capacity') {
      // Someone else took capacity since we looked. The head blocks the pool, unless it backfills:
      // then what is free is read again before the heads behind it are tried.
      if (!pool.backfill) return this.#blocked(pass, head);
      pass.free = new FreeCapacity(pass.limits, await this.#deps.pools.getPool(pass.poolName));
      return 'next';
    }
    // 'held': not held when the pool was read, so another pass leased it since, and moves it.
    // Its lease is not in what this pass read as used: it is taken from what is free either way.
    pass.free.take(head.reservation);
    owners.add(key, 1);
    advance(pass.virtualTime, steps);
    if (acquired === 'held') pass.leasedElsewhere.add(head.jobId);
    else pass.leased.push(head);
    return 'next';
  }

  /** A head that does not fit: it blocks the pool, unless the pool backfills and something may still fit. */
  #blocked(pass: Pass, head: WaitingJob): 'next' | 'stop' {
    if (!pass.pool.backfill) {
      pass.blockedBy = head.jobId;
      return 'stop';
    }
    return pass.free.exhausted ? 'stop' : 'next';
  }

  #leaseOptions(pass: Pass, steps: Readonly<Record<number, number>>): LeaseOptions {
    const cap = pass.pool.maxRunningPerOwner;
    return { ...(cap !== undefined && { maxRunningPerOwner: cap }), advanceVirtualTime: steps };
  }

  /** Moves a job of an owner at its cap out of the way, so that no pass reads it again until the owner is below it. */
  async #park(pass: Pass, head: WaitingJob): Promise<void> {
    if (pass.parked.has(head.jobId)) return;
    const key = ownerKey(head.owner);
    // The mark first: a parked job is never left without one, so a pass always looks for it.
    if (!pass.marked.has(key)) await this.#deps.pools.markParked(pass.poolName, key);
    pass.marked.add(key);
    await this.#deps.jobs.park(head, pass.poolName);
    pass.parked.add(head.jobId);
  }

  /**
   * The leased jobs' moves to SCHEDULED, then their starts, then one queue-slot write for the
   * jobs that left the waiting index. A move or start that failed is thrown once the others ended.
   */
  async #moveAndStart(pass: Pass): Promise<Moved> {
    const { pools, metrics } = this.#deps;
    const moves = await Promise.allSettled(pass.leased.map((head) => this.#move(pass.poolName, head)));
    const records = moves.flatMap((m) =>
      m.status === 'fulfilled' && typeof m.value !== 'string' ? [m.value] : [],
    );
    const released = moves.filter((m) => m.status === 'fulfilled' && m.value === 'released').length;
    const startFailures: string[] = [];
    const starts = await Promise.allSettled(
      records.map(async (job) => {
        if (!(await this.startWorkflow(job))) startFailures.push(job.jobId);
      }),
    );
    if (records.length > 0) {
      metrics.count('admitted', pass.poolName, records.length);
      await pools.freeQueueSlot(
        pass.poolName,
        records.map((job) => job.priority),
      );
    }
    const failed = [...moves, ...starts].find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    return { admitted: records.map((job) => job.jobId), startFailures, released };
  }

  /**
   * The parked jobs of the owners below their cap, in admission order: as many of each as it may
   * still have admitted (a page at most). An owner found with none parked any more is forgotten,
   * unless one was parked since the pool item was read.
   */
  async #unparkable(
    poolName: string,
    parkedOwners: Readonly<Record<string, number>>,
    owners: OwnerCounts,
  ): Promise<WaitingJob[]> {
    const { jobs, pools } = this.#deps;
    const found: WaitingJob[] = [];
    for (const [key, mark] of Object.entries(parkedOwners)) {
      const left = owners.left(key);
      if (left < 1) continue;
      const page = await jobs.listParked(poolName, key, Math.min(PAGE_SIZE, left));
      if (page.jobs.length === 0) await pools.clearParked(poolName, key, mark);
      found.push(...page.jobs);
    }
    return found.sort(byAdmissionOrder);
  }

  /**
   * Second half of an admission, once the job holds its lease: QUEUED → SCHEDULED, one fewer
   * waiting, start. A job that left QUEUED meanwhile (cancelled, timed out) gives its lease back;
   * one that another admission scheduled is left to it.
   */
  async schedule(
    poolName: string,
    waiting: Pick<WaitingJob, 'jobId'>,
  ): Promise<'started' | 'start-failed' | 'lost' | 'released'> {
    const moved = await this.#move(poolName, waiting);
    if (typeof moved === 'string') return moved;
    await this.#deps.pools.freeQueueSlot(poolName, [moved.priority]);
    return (await this.startWorkflow(moved)) ? 'started' : 'start-failed';
  }

  /** QUEUED → SCHEDULED for a job holding its lease; one that left the queue gives the lease back. */
  async #move(
    poolName: string,
    waiting: Pick<WaitingJob, 'jobId'>,
  ): Promise<JobRecord | 'lost' | 'released'> {
    const { jobs, pools, logger } = this.#deps;
    try {
      return await jobs.transition(waiting.jobId, ['QUEUED'], 'SCHEDULED', { at: this.#now() });
    } catch (error) {
      if (!(error instanceof TransitionConflict)) throw error;
      if (error.actualStatus === undefined || isTerminal(error.actualStatus)) {
        // Whoever ended it counted and notified. No wake: this pass, or the next, takes the room.
        await pools.release(poolName, waiting.jobId);
        logger.info('job left the queue before it was scheduled; lease released', {
          jobId: waiting.jobId,
          status: error.actualStatus,
        });
        return 'released';
      }
      return 'lost';
    }
  }

  /**
   * Starts the job's workflow; true when it started (or had already). A start that fails must
   * not hold the job's capacity for good: one AWS refused for good (StartRefused) ends the job
   * START_FAILED at once; any other failure is counted on the job, which stays SCHEDULED for the
   * tick to start again after a backoff, until config.startRetry.maxAttempts attempts failed.
   */
  async startWorkflow(job: JobRecord): Promise<boolean> {
    try {
      await this.#deps.starter.start(job);
      return true;
    } catch (error) {
      await this.#startFailed(job, error);
      return false;
    }
  }

  async #startFailed(job: JobRecord, error: unknown): Promise<void> {
    const { config, jobs, metrics, logger, clock } = this.#deps;
    const attempts = (job.startAttempts ?? 0) + 1;
    if (!(error instanceof StartRefused) && attempts < config.startRetry.maxAttempts) {
      const at = clock();
      const delay = startRetryDelaySeconds(config.startRetry, attempts);
      const retryAt = new Date(at.getTime() + delay * 1000).toISOString();
      metrics.count('startRetried', job.pool);
      const recorded = await jobs.recordStartFailure(job.jobId, { attempts, retryAt, at: at.toISOString() });
      logger.warn('workflow start failed; the tick starts it again', {
        jobId: job.jobId,
        attempt: attempts,
        of: config.startRetry.maxAttempts,
        retryAt,
        // Not recorded: another party counted this failure, or the job moved on (a cancel).
        recorded,
        error: error as Error,
      });
      return;
    }
    const message =
      error instanceof StartRefused
        ? error.message
        : `the workflow did not start in ${attempts} attempts; the last failed with: ${describe(error)}`;
    logger.error('workflow start failed for good; the job ends START_FAILED', {
      jobId: job.jobId,
      attempts,
      error: error as Error,
    });
    await this.#endStartFailed(job.jobId, message);
  }

  /** The end of a job whose workflow cannot start, as every other end (only from SCHEDULED: a job that started meanwhile is not failed). */
  async #endStartFailed(jobId: string, message: string): Promise<void> {
    await this.#deps.jobEnder.end(
      jobId,
      'FAILED',
      { code: 'START_FAILED', message: message.slice(0, MAX_REASON_CHARS) },
      { from: ['SCHEDULED'], alsoCount: 'startFailed' },
    );
  }

  #now(): string {
    return this.#deps.clock().toISOString();
  }
}
