import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { WaitingJob } from '#core/ports.ts';
import {
  aheadOf,
  checkConverged,
  checkStepInvariants,
  createHarness,
  freshTable,
  type Harness,
  InvariantViolation,
  OWNER,
  type PoolState,
  sizedJob,
  waitingJobs,
} from '../support/admission.ts';
import { cancelEvent, testConfig } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { CALLS, type CallName, type FaultTiming, isInjectedFault } from '../support/faults.ts';

/**
 * Random interleavings of submit, intake messages delivered late, twice or never, admission
 * passes racing each other and the tick, jobs finishing through the JobEnder, cancels, and a
 * fault (before or after the write) at a random call of the next step. After every step the
 * capacity invariants hold and no job jumped the queue; after a last tick everything converged.
 */

const config = testConfig({
  pools: {
    default: { cpuCores: 6, memoryGb: 8, maxConcurrentJobs: 2, maxQueueSize: 4, maxWaitMinutes: 20 },
    alpha: { cpuCores: 8, memoryGb: 12, maxConcurrentJobs: 3, maxQueueSize: 6, maxWaitMinutes: 20 },
    beta: {
      cpuCores: 7,
      memoryGb: 10,
      maxConcurrentJobs: 2,
      maxQueueSize: 5,
      maxWaitMinutes: 20,
      backfill: true,
    },
  },
});
const POOLS = Object.keys(config.pools);
const MINUTE = 60_000;

interface FaultSpec {
  readonly call: CallName;
  readonly timing: FaultTiming;
  readonly nth: number;
}

type Action =
  | { readonly kind: 'submit'; readonly pool: string; readonly priority: number; readonly executors: number }
  | { readonly kind: 'deliver'; readonly pick: number; readonly count: number; readonly keep: boolean }
  | {
      readonly kind: 'race';
      readonly picks: readonly [number, number];
      readonly withTick: boolean;
      readonly submits: readonly { readonly pool: string; readonly priority: number }[];
    }
  | { readonly kind: 'finish'; readonly pick: number; readonly outcome: 'SUCCEEDED' | 'FAILED' | 'CANCELLED' }
  | { readonly kind: 'cancel'; readonly pick: number }
  | { readonly kind: 'tick'; readonly minutes: number }
  | { readonly kind: 'lose'; readonly pick: number };

type Step = { readonly action: Action; readonly fault: FaultSpec | null };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('submit' as const),
      pool: fc.constantFrom(...POOLS),
      // Few distinct priorities, so that ties (submit order) are common.
      priority: fc.constantFrom(1, 5, 5, 9),
      executors: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      pick: fc.nat(),
      count: fc.integer({ min: 1, max: 3 }),
      keep: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('race' as const),
      picks: fc.tuple(fc.nat(), fc.nat()),
      withTick: fc.boolean(),
      submits: fc.array(fc.record({ pool: fc.constantFrom(...POOLS), priority: fc.constantFrom(1, 5, 9) }), {
        maxLength: 3,
      }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('finish' as const),
      pick: fc.nat(),
      outcome: fc.constantFrom('SUCCEEDED' as const, 'FAILED' as const, 'CANCELLED' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), minutes: fc.integer({ min: 0, max: 8 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lose' as const), pick: fc.nat() }) },
);

const faultArb: fc.Arbitrary<FaultSpec | null> = fc.option(
  fc.record({
    call: fc.constantFrom(...(Object.keys(CALLS) as CallName[])),
    timing: fc.constantFrom('before' as const, 'after' as const),
    nth: fc.integer({ min: 1, max: 2 }),
  }),
  { freq: 3 },
);

const stepsArb = fc.array(fc.record({ action: actionArb, fault: faultArb }), {
  minLength: 20,
  maxLength: 30,
});

/** An expected failure: the injected fault itself, or a 5xx it became at the API. */
async function tolerate(work: Promise<unknown>): Promise<void> {
  try {
    await work;
  } catch (error) {
    if (!isInjectedFault(error)) throw error;
  }
}

class World {
  readonly h: Harness;
  readonly submitted: string[] = [];
  readonly finished = new Set<string>();
  /** The waiting jobs and leases as the last check saw them. */
  waiting = new Map<string, WaitingJob[]>();
  leases = new Map<string, Set<string>>();

  constructor(h: Harness) {
    this.h = h;
  }

  async perform(action: Action): Promise<void> {
    const { h } = this;
    switch (action.kind) {
      case 'submit': {
        const fired = h.faults.fired.length;
        const reply = await h.submit(sizedJob(action.pool, action.executors, action.priority));
        // A 500 is the injected fault, masked; anything else is a bug.
        const expected = h.faults.fired.length > fired ? [202, 429, 500] : [202, 429];
        if (!expected.includes(reply.status)) throw new InvariantViolation(`submit answered ${reply.status}`);
        if (reply.jobId) this.submitted.push(reply.jobId);
        return;
      }
      case 'deliver': {
        const pending = h.intake.messages;
        if (pending.length === 0) return;
        const from = action.pick % pending.length;
        const batch = pending.slice(from, from + action.count);
        if (!action.keep) pending.splice(from, batch.length);
        const { failed } = await h.deliver(batch);
        // What failed comes back, as SQS redelivers it after the visibility timeout.
        if (!action.keep) pending.push(...failed);
        return;
      }
      case 'race': {
        const pending = h.intake.messages;
        const pick = (n: number) => (pending.length === 0 ? [] : [pending[n % pending.length] as never]);
        await Promise.all([
          tolerate(h.deliver(pick(action.picks[0]))),
          tolerate(h.deliver(pick(action.picks[1]))),
          action.withTick ? tolerate(h.tick()) : undefined,
          ...action.submits.map((s) => this.perform({ kind: 'submit', executors: 1, ...s })),
        ]);
        return;
      }
      case 'finish': {
        // Only a started workflow ends its job.
        const candidates = [...h.starter.started.keys()].filter((id) => !this.finished.has(id));
        const jobId = candidates[action.pick % Math.max(1, candidates.length)];
        if (!jobId) return;
        const job = await h.jobs.getJob(jobId);
        if (!job) throw new InvariantViolation(`started job ${jobId} does not exist`);
        if (job.status === 'SCHEDULED' && action.outcome !== 'CANCELLED') {
          await h.jobs.transition(jobId, ['SCHEDULED'], 'RUNNING', { at: h.clock.now().toISOString() });
        }
        const done = await h.jobEnder.finish(jobId, action.outcome);
        if (
          done &&
          (done.status === 'SUCCEEDED' || done.status === 'FAILED' || done.status === 'CANCELLED')
        ) {
          this.finished.add(jobId);
        }
        return;
      }
      case 'cancel': {
        // A waiting job, as its owner sees it waiting.
        const waiting = (await Promise.all(POOLS.map((pool) => waitingJobs(h, pool)))).flat();
        const jobId = waiting[action.pick % Math.max(1, waiting.length)]?.jobId;
        if (!jobId) return;
        const fired = h.faults.fired.length;
        const reply = await h.api.cancel(cancelEvent(OWNER, jobId));
        const expected = h.faults.fired.length > fired ? [200, 500] : [200];
        if (!expected.includes(reply.status)) throw new InvariantViolation(`cancel answered ${reply.status}`);
        return;
      }
      case 'tick':
        h.clock.advance(action.minutes * MINUTE);
        await h.tick();
        return;
      case 'lose': {
        const pending = h.intake.messages;
        if (pending.length > 0) pending.splice(action.pick % pending.length, 1);
        return;
      }
    }
  }

  /**
   * Capacity and counters (checkStepInvariants), and admission order: a job that got its lease
   * in this step must not have passed a job ahead of it in its pool that waited before the
   * step and still waits without a lease — unless the pool backfills.
   */
  async check(): Promise<void> {
    const { h } = this;
    const states = await checkStepInvariants(h);
    for (const pool of POOLS) {
      const { usage, waiting: nowWaiting } = states.get(pool) as PoolState;
      const leased = new Set(Object.keys(usage.leases));
      const before = this.waiting.get(pool) ?? [];
      const leasedBefore = this.leases.get(pool) ?? new Set<string>();
      if (!config.pools[pool]?.backfill) {
        const stillWaiting = new Set(nowWaiting.filter((w) => !leased.has(w.jobId)).map((w) => w.jobId));
        for (const job of before) {
          if (!leased.has(job.jobId) || leasedBefore.has(job.jobId)) continue;
          const passed = before.filter((other) => stillWaiting.has(other.jobId) && aheadOf(other, job));
          if (passed.length > 0) {
            throw new InvariantViolation(
              `pool ${pool}: ${job.jobId} (priority ${job.priority}, ${job.submittedAt}) was admitted past ` +
                passed.map((p) => `${p.jobId} (priority ${p.priority}, ${p.submittedAt})`).join(', '),
            );
          }
        }
      }
      this.waiting.set(pool, nowWaiting);
      this.leases.set(pool, leased);
    }
  }

  async allJobIds(): Promise<string[]> {
    const ids: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.h.jobs.listJobs({ owner: OWNER, limit: 100, ...(nextToken && { nextToken }) });
      ids.push(...page.jobs.map((j) => j.jobId));
      nextToken = page.nextToken;
    } while (nextToken);
    return ids;
  }
}

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase();
});

afterAll(async () => {
  await db.stop();
});

/** PROPERTY_RUNS=500 for a longer search than the suite's. */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 30);

describe('admission under random interleavings, races and faults', () => {
  const timeout = Math.max(60_000, RUNS * 2_000);
  it('never exceeds capacity, never admits twice or out of order, and converges after a tick', {
    timeout,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(stepsArb, async (steps: Step[]) => {
        const h = createHarness(db, { config, tableName: await freshTable(db) });
        const world = new World(h);
        for (const { action, fault } of steps) {
          if (fault) {
            h.faults.arm({
              name: `${fault.call} ${fault.timing} #${fault.nth}`,
              match: CALLS[fault.call],
              ...fault,
            });
          }
          await tolerate(world.perform(action));
          h.faults.disarm();
          await world.check();
        }
        // A minute later, one tick with nothing failing: everything converged.
        h.clock.advance(MINUTE + 1_000);
        await h.tick();
        await world.check();
        await checkConverged(h, await world.allJobIds());
        // And a tick later, with no submit in between, the waiting counter is exact again.
        await h.tick();
        await checkConverged(h, await world.allJobIds(), { exactWaitingCounter: true });
      }),
      // About 0.4 s a run; a failure prints its seed and path, which replay it when passed here.
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});
