import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  byAdmissionOrder,
  FreeCapacity,
  OwnerCounts,
  planWave,
  virtualTimeSteps,
  withParked,
} from '#core/admission-plan.ts';
import { ownerKey } from '#core/fair-share.ts';
import type { PoolLimits, PoolUsage, WaitingJob } from '#core/ports.ts';

/**
 * The wave planner alone: which waiting heads admission leases in one write, from what it read
 * of the pool item and the heads in the waiting index's order.
 */

const LIMITS: PoolLimits = { cpuCores: 6, memoryMiB: 8192, maxConcurrentJobs: 3 };

function usage(cpuUsed: number, memoryUsedMiB: number, running: number): PoolUsage {
  return {
    pool: 'p',
    cpuUsed,
    memoryUsedMiB,
    running,
    waiting: 0,
    leases: {},
    queue: { seq: {}, left: {} },
    fair: { virtualTime: {}, lastTag: {}, running: {}, parked: {} },
  };
}

const room = (): FreeCapacity => new FreeCapacity(LIMITS, usage(0, 0, 0));
const noCap = (): OwnerCounts => new OwnerCounts(undefined, {});
const none: ReadonlySet<string> = new Set();

let seq = 0;
const head = (jobId: string, cpuCores: number, owner = 'o', fairTag?: number): WaitingJob => ({
  jobId,
  owner,
  priority: 5,
  ...(fairTag !== undefined && { fairTag }),
  submittedAt: `2026-01-01T00:00:${String(seq++ % 60).padStart(2, '0')}.000Z`,
  reservation: { cpuCores, memoryMiB: 1024 },
});

const ids = (jobs: readonly WaitingJob[]) => jobs.map((j) => j.jobId);

describe('FreeCapacity', () => {
  it('is the limits less what the pool item says is used', () => {
    const free = new FreeCapacity(LIMITS, usage(3, 2048, 1));
    expect({ cpu: free.cpu, memoryMiB: free.memoryMiB, jobs: free.jobs }).toEqual({
      cpu: 3,
      memoryMiB: 6144,
      jobs: 2,
    });
  });
});

describe('planWave', () => {
  it('takes the heads in order while they fit together, and leaves what is free untouched', () => {
    const free = room();
    const heads = [head('a', 2), head('b', 2), head('c', 2), head('d', 2)];
    const wave = planWave(heads, 0, free, none, none, false, noCap());
    expect(ids(wave.jobs)).toEqual(['a', 'b', 'c']);
    expect(wave.next).toBe(3);
    expect(wave.free.exhausted).toBe(true);
    expect(free.jobs).toBe(3);
  });

  it('stops at the first head that does not fit when the pool does not backfill', () => {
    const heads = [head('a', 2), head('big', 5), head('c', 1)];
    const wave = planWave(heads, 0, room(), none, none, false, noCap());
    expect(ids(wave.jobs)).toEqual(['a']);
    expect(wave.next).toBe(1);
  });

  it('steps over a head that does not fit when the pool backfills', () => {
    const heads = [head('a', 2), head('big', 5), head('c', 1), head('d', 1)];
    const wave = planWave(heads, 0, room(), none, none, true, noCap());
    expect(ids(wave.jobs)).toEqual(['a', 'c', 'd']);
  });

  it('steps over heads another pass leased, and ends before a head whose lease a stopped pass left', () => {
    const heads = [head('a', 1), head('b', 1), head('c', 1), head('d', 1)];
    const wave = planWave(heads, 0, room(), new Set(['a']), new Set(['c']), false, noCap());
    expect(ids(wave.jobs)).toEqual(['b']);
    expect(wave.next).toBe(2);
  });

  it('ends at a job whose owner has reached maxRunningPerOwner, counting the wave itself', () => {
    const owners = new OwnerCounts(2, { [ownerKey('x')]: 1 });
    const heads = [head('a', 1, 'x'), head('b', 1, 'y'), head('c', 1, 'x')];
    const wave = planWave(heads, 0, room(), none, none, false, owners);
    expect(ids(wave.jobs)).toEqual(['a', 'b']);
    expect(wave.next).toBe(2);
  });

  it('never plans past the free capacity, an owner cap, or the heads it must leave out (property)', () => {
    const job = fc.record({
      cpu: fc.integer({ min: 1, max: 4 }),
      owner: fc.constantFrom('x', 'y', 'z'),
      skip: fc.constantFrom('none', 'elsewhere', 'held'),
    });
    fc.assert(
      fc.property(
        fc.array(job, { maxLength: 12 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
        (specs, backfill, cap) => {
          const heads = specs.map((s, i) => head(`j${i}`, s.cpu, s.owner));
          const elsewhere = new Set(
            heads.filter((_, i) => specs[i]?.skip === 'elsewhere').map((h) => h.jobId),
          );
          const held = new Set(heads.filter((_, i) => specs[i]?.skip === 'held').map((h) => h.jobId));
          const wave = planWave(heads, 0, room(), elsewhere, held, backfill, new OwnerCounts(cap, {}));
          const cpu = wave.jobs.reduce((sum, j) => sum + j.reservation.cpuCores, 0);
          expect(cpu).toBeLessThanOrEqual(LIMITS.cpuCores);
          expect(wave.jobs.length).toBeLessThanOrEqual(LIMITS.maxConcurrentJobs);
          for (const j of wave.jobs) {
            expect(elsewhere.has(j.jobId) || held.has(j.jobId)).toBe(false);
            if (cap !== undefined) {
              expect(wave.jobs.filter((o) => o.owner === j.owner).length).toBeLessThanOrEqual(cap);
            }
          }
          // In order: every planned head comes before where the scan stopped, in index order.
          const positions = wave.jobs.map((j) => heads.indexOf(j));
          expect(positions).toEqual([...positions].sort((a, b) => a - b));
          for (const p of positions) expect(p).toBeLessThan(wave.next);
          // Without backfill, a wave is a run of the heads that were not left out.
          if (!backfill) {
            const taken = heads.slice(0, wave.next).filter((h) => !elsewhere.has(h.jobId));
            expect(ids(wave.jobs)).toEqual(ids(taken));
          }
        },
      ),
    );
  });
});

describe('admission order and the parked jobs', () => {
  it('orders by priority, then fair-share tag (none first), then submit order', () => {
    const a = { ...head('a', 1, 'o', 3), priority: 5 };
    const b = { ...head('b', 1, 'o'), priority: 5 };
    const c = { ...head('c', 1, 'o', 1), priority: 9 };
    const d = { ...head('d', 1, 'o', 1), priority: 5 };
    expect(ids([a, b, c, d].sort(byAdmissionOrder))).toEqual(['c', 'b', 'd', 'a']);
  });

  it('merges the parked jobs that come before the page’s last job, and all of them on the last page', () => {
    const page = [head('a', 1, 'o', 1), head('b', 1, 'o', 5)];
    const pending = [head('p1', 1, 'q', 3), head('p2', 1, 'q', 7)];
    expect(ids(withParked(page, pending, false))).toEqual(['a', 'p1', 'b']);
    expect(ids(pending)).toEqual(['p2']);
    expect(ids(withParked([], pending, true))).toEqual(['p2']);
  });

  it('moves each priority’s virtual time up to the highest tag leased, as steps forward', () => {
    const jobs = [
      { ...head('a', 1, 'o', 4), priority: 5 },
      { ...head('b', 1, 'o', 9), priority: 5 },
      head('c', 1),
    ];
    expect(virtualTimeSteps({ 5: 2 }, jobs)).toEqual({ 5: 7 });
    expect(virtualTimeSteps({ 5: 10 }, jobs)).toEqual({});
  });
});
