import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerKey } from '#core/fair-share.ts';
import type { WaitingJob } from '#core/ports.ts';
import {
  checkStepInvariants,
  createHarness,
  freshTable,
  type Harness,
  InvariantViolation,
  sizedJob,
  waitingJobs,
} from '../support/admission.ts';
import { iamCaller, submitEvent, testConfig } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

/**
 * Fair share inside a pool (docs/fair-share.md) against the real stores on the local DynamoDB:
 * random owners, priorities, sizes, weights and caps. After every step capacity is never passed,
 * no owner has more jobs admitted than maxRunningPerOwner, no job is admitted past a job of a
 * higher priority that could go, and each owner's jobs of one priority go in submit order. A lone
 * job of a second owner is admitted within the next two slots given back after it arrives.
 */

const POOL = 'fair';
const OWNERS = ['alice', 'bob', 'carol', 'dave'].map(iamCaller);
const [FLOODER, LONE] = OWNERS as [string, string];

interface PoolShape {
  readonly slots: number;
  readonly cap?: number;
  readonly weights: Readonly<Record<string, number>>;
}

/** A pool where the job count binds: cores and memory for `slots` of the largest jobs (3 executors). */
function poolConfig(shape: PoolShape) {
  return testConfig({
    pools: {
      [POOL]: {
        cpuCores: shape.slots * 4,
        memoryGb: shape.slots * 6,
        maxConcurrentJobs: shape.slots,
        maxQueueSize: 200,
        maxWaitMinutes: 600,
        ownerWeights: shape.weights,
        ...(shape.cap !== undefined && { maxRunningPerOwner: shape.cap }),
      },
    },
  });
}

class FairWorld {
  readonly h: Harness;
  readonly cap: number | undefined;
  /** Every job submitted, in submit order, with what it was submitted as. */
  readonly jobs: { jobId: string; owner: string; priority: number }[] = [];
  readonly finished = new Set<string>();
  #admittedSeen = 0;

  constructor(h: Harness, cap: number | undefined) {
    this.h = h;
    this.cap = cap;
  }

  /** The jobs admitted so far, in the order their workflows were started. */
  admitted(): string[] {
    return [...this.h.starter.started.keys()];
  }

  async submit(owner: string, priority: number, executors: number): Promise<string> {
    const reply = await this.h.api.submit(submitEvent(owner, sizedJob(POOL, executors, priority)));
    if (reply.status !== 202) throw new InvariantViolation(`submit answered ${reply.status}`);
    const jobId = reply.body.jobId as string;
    this.jobs.push({ jobId, owner, priority });
    await this.deliverAll();
    return jobId;
  }

  /** Ends one running job (the `pick`-th still running), as its workflow would, and delivers the wake. */
  async finishOne(pick: number): Promise<boolean> {
    const running = this.admitted().filter((jobId) => !this.finished.has(jobId));
    const jobId = running[pick % Math.max(1, running.length)];
    if (!jobId) return false;
    await this.h.jobs.transition(jobId, ['SCHEDULED'], 'RUNNING', { at: this.h.clock.now().toISOString() });
    await this.h.jobEnder.finish(jobId, 'SUCCEEDED');
    this.finished.add(jobId);
    await this.deliverAll();
    return true;
  }

  async deliverAll(): Promise<void> {
    const pending = this.h.intake.messages;
    while (pending.length > 0) {
      const batch = pending.splice(0, pending.length);
      const { failed } = await this.h.deliver(batch);
      if (failed.length > 0)
        throw new InvariantViolation(`intake messages failed: ${JSON.stringify(failed)}`);
    }
  }

  /** Every job still waiting: the pool's waiting index and every owner's parked jobs. */
  async waiting(): Promise<WaitingJob[]> {
    const usage = await this.h.pools.getPool(POOL);
    const all = await waitingJobs(this.h, POOL);
    for (const key of Object.keys(usage.fair.parked)) {
      let start: Readonly<Record<string, unknown>> | undefined;
      do {
        const page = await this.h.jobs.listParked(POOL, key, 100, start);
        all.push(...page.jobs);
        start = page.next;
      } while (start);
    }
    return all;
  }

  /** What must hold after every step. */
  async check(): Promise<void> {
    const states = await checkStepInvariants(this.h);
    const usage = states.get(POOL)?.usage;
    if (!usage) throw new InvariantViolation('no pool state');
    // Each owner's admitted jobs: as the leases say, as the counter says, and never above the cap.
    const leased = new Map<string, number>();
    for (const lease of Object.values(usage.leases)) {
      leased.set(lease.owner ?? '?', (leased.get(lease.owner ?? '?') ?? 0) + 1);
    }
    for (const [key, count] of leased) {
      if (this.cap !== undefined && count > this.cap) {
        throw new InvariantViolation(`owner ${key} has ${count} jobs admitted, above the cap ${this.cap}`);
      }
      if ((usage.fair.running[key] ?? 0) !== count) {
        throw new InvariantViolation(
          `owner ${key} holds ${count} leases but its count says ${usage.fair.running[key]}`,
        );
      }
    }
    // Priority: a job admitted in this step passed no waiting job of a higher priority whose owner
    // could have had one more admitted.
    const admitted = this.admitted();
    const fresh = admitted.slice(this.#admittedSeen);
    this.#admittedSeen = admitted.length;
    const waiting = await this.waiting();
    const below = (owner: string) => this.cap === undefined || (leased.get(ownerKey(owner)) ?? 0) < this.cap;
    for (const jobId of fresh) {
      const job = this.jobs.find((j) => j.jobId === jobId);
      const passed = waiting.filter((w) => job && w.priority > job.priority && below(w.owner));
      if (job && passed.length > 0) {
        throw new InvariantViolation(
          `${jobId} (priority ${job.priority}) was admitted past ${passed.map((w) => `${w.jobId} (priority ${w.priority})`).join(', ')}`,
        );
      }
    }
    // FIFO per owner within a priority: each owner's admitted jobs of one priority in submit order.
    const order = new Map(admitted.map((jobId, i) => [jobId, i]));
    for (const owner of OWNERS) {
      for (const priority of new Set(this.jobs.map((j) => j.priority))) {
        const mine = this.jobs.filter((j) => j.owner === owner && j.priority === priority);
        const admittedAt = mine.map((j) => order.get(j.jobId));
        const firstWaiting = admittedAt.indexOf(undefined);
        const inOrder = admittedAt.slice(0, firstWaiting < 0 ? undefined : firstWaiting) as number[];
        const afterWaiting = firstWaiting < 0 ? [] : admittedAt.slice(firstWaiting);
        if (
          afterWaiting.some((at) => at !== undefined) ||
          inOrder.some((at, i) => i > 0 && at < (inOrder[i - 1] as number))
        ) {
          throw new InvariantViolation(
            `owner ${owner}'s jobs of priority ${priority} were not admitted in submit order`,
          );
        }
      }
    }
  }
}

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase();
});

afterAll(async () => {
  await db.stop();
});

const RUNS = Number(process.env.PROPERTY_RUNS ?? 15);

/** A pool of 1 to 4 slots, with a cap per owner or none, and what `more` draws for that many slots. */
function poolArb<T extends object>(
  more: (slots: number) => fc.Arbitrary<T>,
): fc.Arbitrary<T & { slots: number; cap: number | undefined }> {
  return fc
    .integer({ min: 1, max: 4 })
    .chain((slots) =>
      fc
        .tuple(fc.option(fc.integer({ min: 1, max: slots }), { nil: undefined }), more(slots))
        .map(([cap, rest]) => ({ ...rest, slots, cap })),
    );
}

/** A fresh table and harness for a pool of that shape. */
async function worldFor(
  slots: number,
  cap: number | undefined,
  weights: PoolShape['weights'],
): Promise<FairWorld> {
  const config = poolConfig({ slots, weights, ...(cap !== undefined && { cap }) });
  const h = createHarness(db, { config, tableName: await freshTable(db) });
  return new FairWorld(h, cap);
}

const jobArb = fc.record({
  priority: fc.constantFrom(3, 5, 5, 5, 7),
  executors: fc.integer({ min: 1, max: 3 }),
});

describe('fair share inside a pool', () => {
  it('admits a lone job of a second owner within the next two slots given back after it arrives', {
    timeout: Math.max(60_000, RUNS * 4_000),
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        poolArb((slots) =>
          fc.record({
            flooderWeight: fc.constantFrom(1, 0.5, 2),
            // The lone owner weighs no less than the flooder: a lighter one is meant to wait longer.
            loneWeightFactor: fc.constantFrom(1, 1, 2),
            flood: fc.array(jobArb, { minLength: slots + 2, maxLength: slots + 12 }),
            lone: jobArb,
            picks: fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
          }),
        ),
        async (run) => {
          const weights = { [FLOODER]: run.flooderWeight, [LONE]: run.flooderWeight * run.loneWeightFactor };
          const world = await worldFor(run.slots, run.cap, weights);
          for (const job of run.flood) {
            await world.submit(FLOODER, job.priority, job.executors);
            await world.check();
          }
          const admittedBefore = world.admitted().length;
          const lone = await world.submit(LONE, run.lone.priority, run.lone.executors);
          await world.check();
          for (const pick of run.picks) {
            if (world.admitted().includes(lone)) break;
            if (!(await world.finishOne(pick))) break;
            await world.check();
          }
          const admitted = world.admitted();
          const at = admitted.indexOf(lone);
          if (at < 0) throw new InvariantViolation(`the lone job ${lone} was never admitted`);
          // The slots given back after it arrived that went to jobs of its priority or lower.
          const before = admitted
            .slice(admittedBefore, at)
            .map((jobId) => world.jobs.find((j) => j.jobId === jobId))
            .filter((job) => job && job.priority <= run.lone.priority);
          if (before.length > 1) {
            throw new InvariantViolation(
              `the lone job (priority ${run.lone.priority}) was admitted after ${before.length} other jobs of its priority or lower`,
            );
          }
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  });

  it('with several owners, caps and weights, holds capacity, caps and priority at every step and leaves no one behind', {
    timeout: Math.max(60_000, RUNS * 5_000),
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        poolArb(() =>
          fc.record({
            weights: fc.array(fc.constantFrom(0.5, 1, 2, 3), {
              minLength: OWNERS.length,
              maxLength: OWNERS.length,
            }),
            steps: fc.array(
              fc.oneof(
                {
                  weight: 3,
                  arbitrary: fc.record({
                    kind: fc.constant('submit' as const),
                    owner: fc.nat(),
                    job: jobArb,
                  }),
                },
                { weight: 2, arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }) },
              ),
              { minLength: 10, maxLength: 40 },
            ),
          }),
        ),
        async (run) => {
          const weights = Object.fromEntries(OWNERS.map((owner, i) => [owner, run.weights[i] ?? 1]));
          const world = await worldFor(run.slots, run.cap, weights);
          const { h } = world;
          for (const step of run.steps) {
            if (step.kind === 'submit') {
              await world.submit(
                OWNERS[step.owner % OWNERS.length] as string,
                step.job.priority,
                step.job.executors,
              );
            } else {
              await world.finishOne(step.pick);
            }
            await world.check();
          }
          // Everything that waits gets in as the running jobs end, parked jobs included.
          for (let i = 0; i < world.jobs.length * 2 && world.finished.size < world.jobs.length; i++) {
            if (!(await world.finishOne(0))) break;
            await world.check();
          }
          expect(await world.waiting()).toEqual([]);
          expect(world.finished.size).toBe(world.jobs.length);
          const usage = await h.pools.getPool(POOL);
          expect(usage.running).toBe(0);
          expect(Object.values(usage.fair.running).every((count) => count === 0)).toBe(true);
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});
