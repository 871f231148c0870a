import { startRetryDelaySeconds } from './backoff.ts';
import type { LibraConfig, PoolConfig } from './config.ts';
import { StartRefused, TransitionConflict } from './errors.ts';
import { ownerKey } from './fair-share.ts';
import type { Finisher } from './finisher.ts';
import type { JobRecord, Reservation } from './job-record.ts';
import { isTerminal } from './job-states.ts';
import type {
  Clock,
  JobStore,
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
  readonly finisher: Finisher;
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
/** AWS's messages are short; a reason is shown in every listing, so an unexpected long one is cut. */
const MAX_REASON_CHARS = 2_000;

function describe(error: unknown): string {
  if (error instanceof Error)
    return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}

/** What asked for a pass: a job was submitted, or capacity may have been given back (a wake, the tick). */
export type PassCause = 'submitted' | 'wake';

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

/** Capacity left in a pool as last seen; admission's guess of what fits before it asks the store. */
class FreeCapacity {
  cpu: number;
  memoryMiB: number;
  jobs: number;

  constructor(limits: PoolLimits, usage: PoolUsage) {
    this.cpu = limits.cpuCores - usage.cpuUsed;
    this.memoryMiB = limits.memoryMiB - usage.memoryUsedMiB;
    this.jobs = limits.maxConcurrentJobs - usage.running;
  }

  fits(reservation: Reservation): boolean {
    return this.jobs >= 1 && reservation.cpuCores <= this.cpu && reservation.memoryMiB <= this.memoryMiB;
  }

  take(reservation: Reservation): void {
    this.cpu -= reservation.cpuCores;
    this.memoryMiB -= reservation.memoryMiB;
    this.jobs -= 1;
  }

  give(reservation: Reservation): void {
    this.cpu += reservation.cpuCores;
    this.memoryMiB += reservation.memoryMiB;
    this.jobs += 1;
  }

  copy(): FreeCapacity {
    return Object.assign(Object.create(FreeCapacity.prototype), this);
  }

  get exhausted(): boolean {
    return this.jobs < 1 || this.cpu < 1;
  }
}

/**
 * Each owner's admitted jobs in the pool as last seen, and the cap on them (maxRunningPerOwner):
 * admission's guess of whose jobs it may lease before it asks the store, which holds the cap.
 */
class OwnerCounts {
  readonly #counts = new Map<string, number>();
  readonly #cap: number | undefined;

  constructor(cap: number | undefined, running: Readonly<Record<string, number>>) {
    this.#cap = cap;
    for (const [key, count] of Object.entries(running)) this.#counts.set(key, count);
  }

  /** How many more jobs of the owner may be admitted (Infinity without a cap). */
  left(key: string): number {
    return this.#cap === undefined ? Number.POSITIVE_INFINITY : this.#cap - (this.#counts.get(key) ?? 0);
  }

  add(key: string, count: number): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + count);
  }

  /** The store refused the owner at its cap: it has that many admitted, whatever was seen. */
  full(key: string): void {
    if (this.#cap !== undefined) this.#counts.set(key, this.#cap);
  }
}

/** Admission order as the waiting index keys it: priority, then fair-share tag (none first), then submit order. */
function byAdmissionOrder(a: WaitingJob, b: WaitingJob): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const tagA = a.fairTag ?? -1;
  const tagB = b.fairTag ?? -1;
  if (tagA !== tagB) return tagA - tagB;
  if (a.submittedAt !== b.submittedAt) return a.submittedAt < b.submittedAt ? -1 : 1;
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}

/**
 * A page of the pool's waiting index with the parked jobs (`pending`, in order) that come before
 * its last job merged in, in admission order; on the last page, all of them. The ones that come
 * after stay pending for the next page.
 */
function withParked(page: readonly WaitingJob[], pending: WaitingJob[], last: boolean): WaitingJob[] {
  if (pending.length === 0) return [...page];
  const bound = page[page.length - 1];
  const taken: WaitingJob[] = [];
  while (pending.length > 0 && (last || !bound || byAdmissionOrder(pending[0] as WaitingJob, bound) < 0)) {
    taken.push(pending.shift() as WaitingJob);
  }
  return [...page, ...taken].sort(byAdmissionOrder);
}

/**
 * The heads from `from` on that fit together in what is free, in admission order: stopping at
 * the first that does not fit, or stepping over it when the pool backfills. Jobs still being
 * moved by an earlier pass are stepped over. The wave also stops at a job whose owner is at its
 * cap, which is parked one at a time. `next` is where the scan stopped; `free` is what is left
 * once the wave is leased.
 */
function nextWave(
  heads: readonly WaitingJob[],
  from: number,
  free: FreeCapacity,
  moving: ReadonlySet<string>,
  backfill: boolean,
  owners: OwnerCounts,
): { jobs: WaitingJob[]; next: number; free: FreeCapacity } {
  const left = free.copy();
  const jobs: WaitingJob[] = [];
  const perOwner = new Map<string, number>();
  let next = from;
  for (; next < heads.length && !left.exhausted; next++) {
    const head = heads[next] as WaitingJob;
    if (moving.has(head.jobId)) continue;
    const key = ownerKey(head.owner);
    const taken = perOwner.get(key) ?? 0;
    if (owners.left(key) - taken < 1) break;
    if (!left.fits(head.reservation)) {
      if (!backfill) break;
      continue;
    }
    left.take(head.reservation);
    perOwner.set(key, taken + 1);
    jobs.push(head);
  }
  return { jobs, next, free: left };
}

/**
 * How far leasing `jobs` moves each priority's virtual time: up to its highest tag among them.
 * Given as steps forward, which the store adds: two admissions leasing at once may move it a
 * little further than the highest tag, never back.
 */
function virtualTimeSteps(
  virtualTime: Readonly<Record<number, number>>,
  jobs: readonly WaitingJob[],
): Record<number, number> {
  const reached: Record<number, number> = {};
  for (const { priority, fairTag } of jobs) {
    const now = reached[priority] ?? virtualTime[priority] ?? 0;
    if (fairTag !== undefined && fairTag > now) reached[priority] = fairTag;
  }
  const steps: Record<number, number> = {};
  for (const [priority, time] of Object.entries(reached)) {
    steps[Number(priority)] = time - (virtualTime[Number(priority)] ?? 0);
  }
  return steps;
}

/** The virtual times once `steps` are taken. */
function advance(virtualTime: Record<number, number>, steps: Readonly<Record<number, number>>): void {
  for (const [priority, step] of Object.entries(steps)) {
    virtualTime[Number(priority)] = (virtualTime[Number(priority)] ?? 0) + step;
  }
}

export class Admission {
  readonly #deps: AdmissionDeps;
  /**
   * Each pool's pass still taking leases in this process, and the one pass waiting to follow
   * it. Only the leasing, which decides the order, is one pass at a time: a pass moves the jobs
   * it leased while it leases the next, and its moves and starts go on while the next pass
   * takes its leases.
   */
  readonly #leasing = new Map<string, Promise<void>>();
  readonly #following = new Map<string, Promise<AdmitOutcome>>();
  /** Pools whose following pass was asked for by a wake, not only by submits. */
  readonly #followingWoken = new Set<string>();
  /**
   * Per pool, the jobs a pass here has leased and is still moving to SCHEDULED: still in the
   * waiting index, but admitted. The next pass steps over them instead of leasing them again.
   */
  readonly #moving = new Map<string, Set<string>>();

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
   * One admission pass for the pool. Wake-ups that arrive while a pass runs in this process
   * share one pass that starts when it ends: it sees everything they were woken for, and two
   * passes of one pool never race each other here for the same heads (across processes the
   * conditional writes keep them apart). No wake-up is lost: each is answered by a pass that
   * started after it.
   *
   * `cause` is what woke the pass. After a wake (capacity given back, or the tick) the pass reads
   * the pool item and the head of the waiting index at once, as it will most likely lease.
   * After a submit it reads the pool item first: a full pool, where a submit mostly lands, then
   * costs no read of the index.
   */
  admitPool(poolName: string, cause: PassCause = 'wake'): Promise<AdmitOutcome> {
    const leasing = this.#leasing.get(poolName);
    if (!leasing) return this.#startPass(poolName, cause);
    if (cause === 'wake') this.#followingWoken.add(poolName);
    let following = this.#following.get(poolName);
    if (!following) {
      following = leasing.then(() => {
        this.#following.delete(poolName);
        const woken = this.#followingWoken.delete(poolName);
        return this.#startPass(poolName, woken ? 'wake' : 'submitted');
      });
      this.#following.set(poolName, following);
    }
    return following;
  }

  #startPass(poolName: string, cause: PassCause): Promise<AdmitOutcome> {
    let leased = () => {};
    const leasing = new Promise<void>((resolve) => {
      leased = resolve;
    }).finally(() => {
      if (this.#leasing.get(poolName) === leasing) this.#leasing.delete(poolName);
    });
    this.#leasing.set(poolName, leasing);
    return this.#pass(poolName, cause, leased);
  }

  async #pass(poolName: string, cause: PassCause, leased: () => void): Promise<AdmitOutcome> {
    const launches: Promise<void>[] = [];
    let settled: PromiseSettledResult<void>[] = [];
    let outcome: AdmitOutcome;
    try {
      outcome = await this.#leaseAndMove(poolName, cause, launches, leased);
    } finally {
      leased();
      // Every start of the jobs this pass moved ends before the pass does, even when it failed.
      settled = await Promise.allSettled(launches);
    }
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    return outcome;
  }

  async #leaseAndMove(
    poolName: string,
    cause: PassCause,
    launches: Promise<void>[],
    leased: () => void,
  ): Promise<AdmitOutcome> {
    const { config, jobs, pools, logger } = this.#deps;
    const outcome: { admitted: string[]; startFailures: string[]; blockedBy?: string } = {
      admitted: [],
      startFailures: [],
    };
    const pool = config.pools[poolName];
    if (!pool) {
      logger.warn('admission for an unknown pool ignored', { pool: poolName });
      return { pool: poolName, ...outcome };
    }
    const limits = poolLimits(pool);
    const cap = pool.maxRunningPerOwner;
    const firstPage = cause === 'wake' ? jobs.listWaiting(poolName, PAGE_SIZE) : undefined;
    firstPage?.catch(() => undefined);
    const usage = await pools.getPool(poolName);
    let free = new FreeCapacity(limits, usage);
    const owners = new OwnerCounts(cap, usage.fair.running);
    const virtualTime: Record<number, number> = { ...usage.fair.virtualTime };
    // The leased jobs' moves, in lease order. A move goes on while the next heads are leased: the
    // leases alone decide the order, so they are taken in order (the heads that fit together in
    // one write, or one at a time), and each job's move only needs its own lease. A job that turns
    // out to have left the queue gives its lease back; the room it leaves is used by this pass if
    // it is still leasing, or else by a pass of its own.
    const moves: Promise<JobRecord | 'lost' | 'released'>[] = [];
    let moveFailed = false;
    let leasingDone = false;
    const inFlight = this.#movingIn(poolName);

    // Leases in one write when several heads fit at once (acquireAll), one at a time otherwise.
    let together = true;
    /** A leased job's move to SCHEDULED, then its start; both go on while the pass leases on. */
    const moveLeased = (head: WaitingJob): void => {
      inFlight.add(head.jobId);
      const move = this.#move(poolName, head).then((moved) => {
        // The job had left the queue (cancelled, timed out) and its lease was given back: the
        // room is free again for the jobs behind it in this pass, not only at the next wake.
        // A lease that was already held counted in `free` from the start, so it is returned too.
        if (moved === 'released') {
          free.give(head.reservation);
          owners.add(ownerKey(head.owner), -1);
          // This pass stopped leasing before it knew: another pass takes the room.
          if (leasingDone) launches.push(this.#passAgain(poolName));
        }
        if (typeof moved !== 'string') {
          const launch = this.startWorkflow(moved).then((started) => {
            if (!started) outcome.startFailures.push(head.jobId);
          });
          // Handled here so a failure is not reported unhandled before the pass collects it.
          launch.catch(() => undefined);
          launches.push(launch);
        }
        return moved;
      });
      move.catch(() => {
        moveFailed = true;
      });
      move.finally(() => inFlight.delete(head.jobId)).catch(() => undefined);
      moves.push(move);
    };
    const parked = new Set<string>();
    const marked = new Set<string>();
    /** Moves a job of an owner at its cap out of the way, so that no pass reads it again until the owner is below it. */
    const park = async (head: WaitingJob): Promise<void> => {
      if (parked.has(head.jobId)) return;
      const key = ownerKey(head.owner);
      // The mark first: a parked job is never left without one, so a pass always looks for it.
      if (!marked.has(key)) await pools.markParked(poolName, key);
      marked.add(key);
      await jobs.park(head, poolName);
      parked.add(head.jobId);
    };
    // The parked jobs of owners now below their cap, in order: they come back among the heads.
    const pending = free.exhausted ? [] : await this.#unparkable(poolName, usage.fair.parked, owners);
    for (const job of pending) parked.add(job.jobId);

    let start: Readonly<Record<string, unknown>> | undefined;
    pages: do {
      if (free.exhausted) break;
      const page =
        start === undefined && firstPage
          ? await firstPage
          : await jobs.listWaiting(poolName, PAGE_SIZE, start);
      const heads = withParked(page.jobs, pending, page.next === undefined);
      for (let i = 0; i < heads.length; ) {
        if (moveFailed) break pages;
        if (together) {
          const wave = nextWave(heads, i, free, inFlight, pool.backfill, owners);
          if (wave.jobs.length >= 2) {
            const steps = virtualTimeSteps(virtualTime, wave.jobs);
            const options = {
              ...(cap !== undefined && { maxRunningPerOwner: cap }),
              advanceVirtualTime: steps,
            };
            if (await pools.acquireAll(poolName, limits, wave.jobs, this.#now(), options)) {
              free = wave.free;
              advance(virtualTime, steps);
              for (const head of wave.jobs) {
                owners.add(ownerKey(head.owner), 1);
                moveLeased(head);
              }
              i = wave.next;
              continue;
            }
            // Not all together: capacity is not what was read (another admission took some), an
            // owner reached its cap, or one of them already holds a lease (a pass that failed
            // after leasing). The rest of this pass goes one job at a time, which tells those
            // cases apart.
            together = false;
          }
        }
        const head = heads[i++] as WaitingJob;
        // Leased by an earlier pass here, its move not yet written: its lease counts in `free`.
        if (inFlight.has(head.jobId)) continue;
        const key = ownerKey(head.owner);
        if (owners.left(key) < 1) {
          // Its owner is at the cap: not a head that blocks the pool, a job that waits for its owner.
          await park(head);
          continue;
        }
        if (!free.fits(head.reservation)) {
          if (!pool.backfill) {
            outcome.blockedBy = head.jobId;
            break pages;
          }
          if (free.exhausted) break pages;
          continue;
        }
        const steps = virtualTimeSteps(virtualTime, [head]);
        const acquired = await pools.acquire(poolName, limits, head, this.#now(), {
          ...(cap !== undefined && { maxRunningPerOwner: cap }),
          advanceVirtualTime: steps,
        });
        if (acquired === 'owner-capped') {
          owners.full(key);
          await park(head);
          continue;
        }
        if (acquired === 'no-capacity') {
          // Someone else took capacity since we looked: look again before deciding.
          free = new FreeCapacity(limits, await pools.getPool(poolName));
          if (!pool.backfill) {
            outcome.blockedBy = head.jobId;
            break pages;
          }
          continue;
        }
        if (acquired === 'acquired') {
          free.take(head.reservation);
          owners.add(key, 1);
          advance(virtualTime, steps);
        }
        moveLeased(head);
      }
      start = page.next;
    } while (start);

    // The next pass may take its leases now: it steps over the jobs still moving.
    leasingDone = true;
    leased();
    const moved = await Promise.allSettled(moves);
    const admittedPriorities: number[] = [];
    for (const result of moved) {
      if (result.status === 'fulfilled' && typeof result.value !== 'string') {
        outcome.admitted.push(result.value.jobId);
        admittedPriorities.push(result.value.priority);
      }
    }
    if (outcome.admitted.length > 0) {
      this.#deps.metrics.count('admitted', poolName, outcome.admitted.length);
      // One write for the pass, the jobs it moved having left the waiting index. Like the starts,
      // it goes on while the next pass takes its leases.
      const freed = pools.freeQueueSlot(poolName, admittedPriorities);
      freed.catch(() => undefined);
      launches.push(freed);
    }
    const failed = moved.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    // startFailures fill in as the launches end; the pass's caller sees them once it resolves.
    return { pool: poolName, ...outcome, startFailures: outcome.startFailures };
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

  #movingIn(poolName: string): Set<string> {
    let moving = this.#moving.get(poolName);
    if (!moving) {
      moving = new Set();
      this.#moving.set(poolName, moving);
    }
    return moving;
  }

  /** A pass after this one, which the caller of this one waits for, as for a start. */
  #passAgain(poolName: string): Promise<void> {
    const again = this.admitPool(poolName).then(() => undefined);
    again.catch(() => undefined);
    return again;
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
    await this.#deps.finisher.end(
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
