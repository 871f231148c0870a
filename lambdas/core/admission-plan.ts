import { ownerKey } from './fair-share.ts';
import type { Reservation } from './job-record.ts';
import type { PoolLimits, PoolUsage, WaitingJob } from './ports.ts';

/**
 * What admission decides before it writes anything, as functions of what it read: the capacity
 * left in a pool, each owner's admitted jobs, the order of the heads, and which of them to lease
 * together in one wave. The store's conditional writes have the last word; this is admission's
 * guess, so that one write can lease every head that fits.
 */

/** Capacity left in a pool as last seen; admission's guess of what fits before it asks the store. */
export class FreeCapacity {
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
export class OwnerCounts {
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
export function byAdmissionOrder(a: WaitingJob, b: WaitingJob): number {
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
export function withParked(page: readonly WaitingJob[], pending: WaitingJob[], last: boolean): WaitingJob[] {
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
 * the first that does not fit, or stepping over it when the pool backfills. Heads in `elsewhere`
 * (another pass leased them and moves them) are stepped over. The wave stops at a head in
 * `abandoned` (a pass that ended left its lease: this pass moves it on that lease, with no write
 * of its own) and at a job whose owner is at its cap, which is parked one at a time. `next` is where the scan stopped; `free` is what is left once the wave is leased.
 */
export function planWave(
  heads: readonly WaitingJob[],
  from: number,
  free: FreeCapacity,
  elsewhere: ReadonlySet<string>,
  abandoned: ReadonlySet<string>,
  backfill: boolean,
  owners: OwnerCounts,
): { jobs: WaitingJob[]; next: number; free: FreeCapacity } {
  const left = free.copy();
  const jobs: WaitingJob[] = [];
  const perOwner = new Map<string, number>();
  let next = from;
  for (; next < heads.length && !left.exhausted; next++) {
    const head = heads[next] as WaitingJob;
    if (elsewhere.has(head.jobId)) continue;
    if (abandoned.has(head.jobId)) break;
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
export function virtualTimeSteps(
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
export function advance(virtualTime: Record<number, number>, steps: Readonly<Record<number, number>>): void {
  for (const [priority, step] of Object.entries(steps)) {
    virtualTime[Number(priority)] = (virtualTime[Number(priority)] ?? 0) + step;
  }
}
