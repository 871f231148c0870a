import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOVE_GRACE_MS } from '#core/admission.ts';
import { StartRefused } from '#core/errors.ts';
import {
  checkConverged,
  createHarness,
  freshTable,
  type Harness,
  leaseOutsideAdmission,
  OWNER,
  sizedJob,
  waitingJobs,
} from '../support/admission.ts';
import { cancelEvent, iamCaller, submitEvent, testConfig } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import {
  and,
  CALLS,
  type CallMatcher,
  type CallName,
  classify,
  type FaultTiming,
  forJob,
  historyOf,
  isInjectedFault,
  onPool,
  transitionTo,
} from '../support/faults.ts';

/**
 * "The write committed, then the call threw" — and its twin, the call that never left — at
 * every DynamoDB, SQS and Step Functions call that admission, the reconciler, the job ender,
 * submit and cancel make. Each test builds a small world, fails one call, lets the operation
 * fail, then runs ONE tick (a reconciler pass and the admission pass after it, a minute
 * later) and checks that the world converged: capacity within limits and equal to the
 * leases, leases only on admitted unfinished jobs, every admitted job started exactly once,
 * no admissible job left waiting, and the waiting counter never below the waiting jobs. A
 * counter the fault left high is lowered by the recount of the next tick without submits, so
 * the counter is checked exact after one more tick. The catalogue test at the end checks that
 * every call these operations make is one of the calls failed here.
 */

const config = testConfig({
  pools: {
    // Jobs here take 3 cores (2 executors + driver): two fit.
    p: { cpuCores: 6, memoryGb: 32, maxConcurrentJobs: 2, maxQueueSize: 10 },
    // The reconciler's pool: three fit.
    r: { cpuCores: 9, memoryGb: 32, maxConcurrentJobs: 3, maxQueueSize: 10, maxWaitMinutes: 30 },
    // Never submitted to: its pool item does not exist until a pass writes it.
    idle: {},
    // One job per owner at a time, three in all: an owner's second job is parked.
    c: { cpuCores: 9, memoryGb: 32, maxConcurrentJobs: 3, maxRunningPerOwner: 1, maxQueueSize: 10 },
  },
});

const MINUTE = 60_000;

type Ids = Record<string, string>;

interface Scenario {
  /** Builds the world before the operation. */
  setup(h: Harness): Promise<Ids>;
  /** The operation under the fault; true when it failed. */
  run(h: Harness, ids: Ids): Promise<boolean>;
  /** After the one tick: what this world must look like, besides the invariants. */
  settled(h: Harness, ids: Ids): Promise<void>;
}

interface FaultCase {
  readonly call: CallName;
  /** What distinguishes this case from others on the same call. */
  readonly label?: string;
  readonly match: (ids: Ids) => CallMatcher;
  readonly nth?: number;
  /** The operation absorbs this fault (it logs and leaves the rest to the reconciler). */
  readonly absorbed?: boolean;
  /** Brings the world to the state the call needs (a lease already held, a racing cancel). */
  readonly stage?: (h: Harness, ids: Ids) => Promise<void>;
}

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase();
});

afterAll(async () => {
  await db.stop();
});

async function harness(): Promise<Harness> {
  return createHarness(db, { config, tableName: await freshTable(db) });
}

async function submit(h: Harness, body: Record<string, unknown>): Promise<string> {
  const reply = await h.submit(body);
  expect(reply.status).toBe(202);
  return reply.jobId as string;
}

async function status(h: Harness, jobId: string) {
  return (await h.jobs.getJob(jobId))?.status;
}

/** A second owner, for the pool with a cap per owner. */
const OTHER = iamCaller('admission-tests-other');

async function allJobIds(h: Harness): Promise<string[]> {
  const pages = await Promise.all([OWNER, OTHER].map((owner) => h.jobs.listJobs({ owner, limit: 100 })));
  return pages.flatMap((page) => page.jobs.map((j) => j.jobId));
}

/** Runs `operation` with a fault armed as prepared state, not under test; the fault must fire. */
async function withPrepFault(
  h: Harness,
  match: CallMatcher,
  timing: FaultTiming,
  operation: () => Promise<unknown>,
): Promise<void> {
  const before = h.faults.firedNamed('prep').length;
  h.faults.arm({ name: 'prep', match, timing });
  await operation().catch((error: unknown) => {
    if (!isInjectedFault(error)) throw error;
  });
  expect(h.faults.firedNamed('prep')).toHaveLength(before + 1);
}

const started = (h: Harness) => [...h.starter.started.keys()].sort();
const sorted = (...ids: (string | undefined)[]) => ids.map(String).sort();

async function failed(promise: Promise<unknown>): Promise<boolean> {
  return promise.then(
    () => false,
    (error: unknown) => {
      if (!isInjectedFault(error)) throw error;
      return true;
    },
  );
}

// ── the worlds ────────────────────────────────────────────────────────────────────────────

/** Pool p, empty; A (priority 7), B and C (5) submitted, their intake messages pending. Two fit. */
const admissionPass: Scenario = {
  async setup(h) {
    const A = await submit(h, sizedJob('p', 2, 7));
    const B = await submit(h, sizedJob('p', 2, 5));
    const C = await submit(h, sizedJob('p', 2, 5));
    return { A, B, C };
  },
  async run(h) {
    const { failed } = await h.deliver(h.intake.messages.splice(0));
    return failed.length > 0;
  },
  async settled(h, { A, B, C }) {
    if (h.faults.interposed.includes('cancel A')) {
      expect(await status(h, A as string)).toBe('CANCELLED');
      expect(started(h)).toEqual(sorted(B, C));
    } else {
      expect(started(h)).toEqual(sorted(A, B));
      expect(await status(h, C as string)).toBe('QUEUED');
    }
  },
};

/**
 * A leased by a pass that stopped before it moved A (the state a crash leaves), long enough ago
 * that no pass can still be moving it: the next pass reads A's lease in the pool item and moves A
 * on it, then leases B in the room left.
 */
async function leasedByAFailedPass(h: Harness, { A }: Ids): Promise<void> {
  await leaseOutsideAdmission(h, A as string);
  h.clock.advance(MOVE_GRACE_MS);
}

/** A racing cancel of A, landing between A's lease and its move to SCHEDULED. */
async function cancelBetweenLeaseAndMove(h: Harness, { A }: Ids): Promise<void> {
  h.faults.interpose('cancel A', transitionTo('SCHEDULED', A), async () => {
    expect((await h.api.cancel(cancelEvent(OWNER, A as string))).status).toBe(200);
  });
}

/**
 * Pool r after earlier crashes: D finished but its release failed (a terminal job's lease);
 * F was moved to SCHEDULED but its start failed; E was leased but its move failed (a QUEUED
 * job holding a lease); H waits; G waited past maxWaitMinutes (its message was lost).
 */
const reconcilerPass: Scenario = {
  async setup(h) {
    const G = await submit(h, sizedJob('r', 2, 1));
    h.intake.messages.length = 0;
    h.clock.advance(31 * MINUTE);
    const D = await submit(h, sizedJob('r', 2, 9));
    const F = await submit(h, sizedJob('r', 2, 8));
    const E = await submit(h, sizedJob('r', 2, 7));
    const H = await submit(h, sizedJob('r', 2, 2));
    h.faults.arm({ name: 'prep', match: forJob('start', F), timing: 'before' });
    h.faults.arm({ name: 'prep', match: transitionTo('SCHEDULED', E), timing: 'before' });
    await h.deliver(h.intake.messages.splice(0));
    expect(h.faults.firedNamed('prep')).toHaveLength(2);
    await h.jobs.transition(D, ['SCHEDULED'], 'RUNNING', { at: h.clock.now().toISOString() });
    await withPrepFault(h, forJob('release', D), 'before', () => h.jobEnder.finish(D, 'SUCCEEDED'));
    expect(h.faults.firedNamed('prep')).toHaveLength(3);
    expect(started(h)).toEqual([D]);
    h.intake.messages.length = 0;
    return { D, E, F, G, H };
  },
  run(h) {
    // The next tick, a minute on: past the grace a SCHEDULED job gets before it is started again.
    h.clock.advance(MINUTE + 1_000);
    return failed(h.tick());
  },
  async settled(h, { D, E, F, G, H }) {
    expect(await status(h, D as string)).toBe('SUCCEEDED');
    const g = await h.jobs.getJob(G as string);
    expect(g?.status).toBe('TIMEOUT');
    expect(g?.reason?.code).toBe('QUEUE_WAIT_EXCEEDED');
    expect(started(h)).toEqual(sorted(D, E, F, H));
    const pool = await h.pools.getPool('r');
    expect(Object.keys(pool.leases).sort()).toEqual(sorted(E, F, H));
    expect((await h.pools.getPool('idle')).running).toBe(0);
  },
};

/**
 * Pool p, A (priority 7), B and C submitted; every start of A is refused for good. The
 * operation: the admission pass, which ends A START_FAILED and starts B; C takes A's room.
 */
const startRefused: Scenario = {
  async setup(h) {
    const ids = await admissionPass.setup(h);
    h.starter.refused.set(
      ids.A as string,
      () => new StartRefused('InvalidExecutionInput', 'Step Functions StartExecution refused it'),
    );
    return ids;
  },
  run: admissionPass.run,
  async settled(h, { A, B, C }) {
    const a = await h.jobs.getJob(A as string);
    expect(a?.status).toBe('FAILED');
    expect(a?.reason?.code).toBe('START_FAILED');
    // The wake, lost or not, is answered by the tick's admission pass.
    expect(started(h)).toEqual(sorted(B, C));
  },
};

/**
 * Pool p, A (priority 7), B and C submitted; A's first start fails transiently. The operation:
 * the admission pass, which counts A's failed start on its record; the tick starts A again.
 */
const startRetried: Scenario = {
  async setup(h) {
    const ids = await admissionPass.setup(h);
    h.faults.arm({ name: 'prep', match: forJob('start', ids.A as string), timing: 'before' });
    return ids;
  },
  run: admissionPass.run,
  async settled(h, { A, B, C }) {
    expect(h.faults.firedNamed('prep')).toHaveLength(1);
    expect(started(h)).toEqual(sorted(A, B));
    expect(await status(h, A as string)).toBe('SCHEDULED');
    expect(await status(h, C as string)).toBe('QUEUED');
  },
};

/** Pool p full with A (RUNNING) and B; C waits. The operation: the workflow finishes A. */
const finish: Scenario = {
  async setup(h) {
    const ids = await admissionPass.setup(h);
    await admissionPass.run(h, ids);
    await h.jobs.transition(ids.A as string, ['SCHEDULED'], 'RUNNING', { at: h.clock.now().toISOString() });
    return ids;
  },
  run: (h, { A }) => failed(h.jobEnder.finish(A as string, 'SUCCEEDED')),
  async settled(h, { A, B, C }) {
    // Whatever the fault left, the workflow retries its Release step: A ends, C takes its room.
    const a = await h.jobEnder.finish(A as string, 'SUCCEEDED');
    expect(a?.status).toBe('SUCCEEDED');
    await h.deliver(h.intake.messages.splice(0));
    await checkConverged(h, await allJobIds(h));
    expect(started(h)).toEqual(sorted(A, B, C));
  },
};

/** Pool p with A admitted and room for one more; the operation submits C. */
const submitOne: Scenario = {
  async setup(h) {
    const A = await submit(h, sizedJob('p', 2, 5));
    await h.deliver(h.intake.messages.splice(0));
    expect(started(h)).toEqual([A]);
    return { A };
  },
  async run(h, ids) {
    const reply = await h.api.submit(submitEvent(OWNER, sizedJob('p', 2, 5)));
    expect([202, 500]).toContain(reply.status);
    if (reply.status === 202) ids.C = reply.body.jobId;
    return reply.status !== 202;
  },
  async settled(h, { A }) {
    // The job, if it was written, was admitted by the tick, message or no message.
    expect(started(h)).toEqual((await allJobIds(h)).sort());
    expect(started(h)).toContain(A);
  },
};

/** Pool p full with A and B; the operation cancels C, which waits. */
const cancel: Scenario = {
  async setup(h) {
    const ids = await admissionPass.setup(h);
    await admissionPass.run(h, ids);
    return ids;
  },
  async run(h, { C }) {
    const reply = await h.api.cancel(cancelEvent(OWNER, C as string));
    expect([200, 500]).toContain(reply.status);
    return reply.status !== 200;
  },
  async settled(h, { A, B, C }) {
    expect(started(h)).toEqual(sorted(A, B));
    expect(['QUEUED', 'CANCELLED']).toContain(await status(h, C as string));
  },
};

/**
 * Pool c (one job per owner): A and B of one owner, C of another, their intake messages pending.
 * The pass admits A and C and parks B, its owner being at the cap.
 */
const ownerAtCap: Scenario = {
  async setup(h) {
    const A = await submit(h, sizedJob('c', 2, 5));
    const B = await submit(h, sizedJob('c', 2, 5));
    const other = await h.api.submit(submitEvent(OTHER, sizedJob('c', 2, 5)));
    expect(other.status).toBe(202);
    return { A, B, C: other.body.jobId as string };
  },
  async run(h) {
    const { failed } = await h.deliver(h.intake.messages.splice(0));
    return failed.length > 0;
  },
  async settled(h, { A, B, C }) {
    expect(started(h)).toEqual(sorted(A, C));
    expect(await status(h, B as string)).toBe('QUEUED');
  },
};

/** As ownerAtCap once its pass ran and A ended: the wake's pass finds B parked, its owner below the cap. */
const ownerBelowCapAgain: Scenario = {
  async setup(h) {
    const ids = await ownerAtCap.setup(h);
    await ownerAtCap.run(h, ids);
    await h.jobs.transition(ids.A as string, ['SCHEDULED'], 'RUNNING', { at: h.clock.now().toISOString() });
    await h.jobEnder.finish(ids.A as string, 'SUCCEEDED');
    return ids;
  },
  run: ownerAtCap.run,
  async settled(h, { A, B, C }) {
    expect(started(h)).toEqual(sorted(A, B, C));
  },
};

/** As ownerBelowCapAgain once B ran and ended: the wake's pass finds no job parked for the owner any more. */
const parkedAllGone: Scenario = {
  async setup(h) {
    const ids = await ownerBelowCapAgain.setup(h);
    await ownerBelowCapAgain.run(h, ids);
    await h.jobs.transition(ids.B as string, ['SCHEDULED'], 'RUNNING', { at: h.clock.now().toISOString() });
    await h.jobEnder.finish(ids.B as string, 'SUCCEEDED');
    return ids;
  },
  run: ownerAtCap.run,
  async settled(h, ids) {
    await ownerBelowCapAgain.settled(h, ids);
    expect((await h.pools.getPool('c')).fair.parked).toEqual({});
  },
};

// ── the faults ────────────────────────────────────────────────────────────────────────────

const SCENARIOS = {
  'admission pass': {
    scenario: admissionPass,
    cases: [
      { call: 'getPool', match: () => onPool('getPool', 'p') },
      { call: 'listWaiting', match: () => onPool('listWaiting', 'p') },
      { call: 'ensurePool', match: () => onPool('ensurePool', 'p'), timings: ['before'] },
      { call: 'acquireAll', label: 'of A and B', match: ({ A }) => forJob('acquireAll', A as string) },
      {
        // A is moved on the lease the failed pass left, with no acquire of its own.
        call: 'transition',
        label: 'to SCHEDULED of A, whose lease a failed pass left',
        match: ({ A }) => transitionTo('SCHEDULED', A),
        stage: leasedByAFailedPass,
      },
      {
        call: 'acquire',
        label: "of B, after A's lease left by a failed pass",
        match: ({ B }) => forJob('acquire', B as string),
        stage: leasedByAFailedPass,
      },
      { call: 'transition', label: 'to SCHEDULED', match: ({ A }) => transitionTo('SCHEDULED', A) },
      {
        call: 'history',
        label: 'of SCHEDULED',
        match: ({ A }) => and(historyOf('SCHEDULED'), forJob('history', A as string)),
      },
      { call: 'freeQueueSlot', match: () => onPool('freeQueueSlot', 'p') },
      { call: 'start', label: 'of A', match: ({ A }) => forJob('start', A as string), absorbed: true },
      { call: 'start', label: 'of B', match: ({ B }) => forJob('start', B as string), absorbed: true },
      {
        // Refused by its condition (A was cancelled): the refusal carries A's item, so no read
        // follows, and there is no "after" to fail.
        call: 'transition',
        label: 'to SCHEDULED of A, cancelled between lease and move',
        match: ({ A }) => transitionTo('SCHEDULED', A),
        timings: ['before'],
        stage: cancelBetweenLeaseAndMove,
      },
      {
        call: 'getPool',
        label: 'releasing the lease of a job cancelled between lease and move',
        match: () => onPool('getPool', 'p'),
        nth: 2,
        stage: cancelBetweenLeaseAndMove,
      },
      {
        call: 'release',
        label: 'of a job cancelled between lease and move',
        match: ({ A }) => forJob('release', A as string),
        stage: cancelBetweenLeaseAndMove,
      },
    ],
  },
  'tick (reconciler pass, then admission pass)': {
    scenario: reconcilerPass,
    cases: [
      { call: 'getPool', match: () => onPool('getPool', 'r') },
      { call: 'getJob', label: 'of a lease holder', match: ({ D }) => forJob('getJob', D as string) },
      { call: 'getPool', label: 'releasing a lease', match: () => onPool('getPool', 'r'), nth: 2 },
      { call: 'release', label: 'of a finished job', match: ({ D }) => forJob('release', D as string) },
      {
        call: 'transition',
        label: 'to SCHEDULED of a leased waiting job',
        match: ({ E }) => transitionTo('SCHEDULED', E),
      },
      {
        call: 'history',
        label: 'of SCHEDULED',
        match: ({ E }) => and(historyOf('SCHEDULED'), forJob('history', E as string)),
      },
      { call: 'freeQueueSlot', label: 'of the job scheduled', match: () => onPool('freeQueueSlot', 'r') },
      {
        call: 'freeQueueSlot',
        label: 'of the job timed out',
        match: () => onPool('freeQueueSlot', 'r'),
        nth: 2,
      },
      {
        call: 'start',
        label: 'of a leased waiting job',
        match: ({ E }) => forJob('start', E as string),
        absorbed: true,
      },
      {
        call: 'start',
        label: 'again, of a SCHEDULED job',
        match: ({ F }) => forJob('start', F as string),
        absorbed: true,
      },
      { call: 'listWaiting', match: () => onPool('listWaiting', 'r') },
      { call: 'transition', label: 'to TIMEOUT', match: ({ G }) => transitionTo('TIMEOUT', G) },
      {
        call: 'history',
        label: 'of TIMEOUT',
        match: ({ G }) => and(historyOf('TIMEOUT'), forJob('history', G as string)),
      },
      // A webhook can never fail a job's end: it is logged.
      {
        call: 'notify',
        label: 'of TIMEOUT',
        match: ({ G }) => forJob('notify', G as string),
        absorbed: true,
      },
      {
        call: 'getPool',
        label: 'reading the counter to recount',
        match: () => onPool('getPool', 'r'),
        nth: 3,
      },
      { call: 'setWaiting', match: () => onPool('setWaiting', 'r') },
      { call: 'pruneFairShare', match: () => onPool('pruneFairShare', 'r') },
      {
        call: 'getPool',
        label: 'for the gauges after releases',
        match: () => onPool('getPool', 'r'),
        nth: 4,
      },
      { call: 'ensurePool', label: 'of a pool never used', match: () => onPool('ensurePool', 'idle') },
      // The duration warnings' query, after admission: a tick that fails there has admitted already.
      { call: 'dueWarnings', label: 'of the duration warnings', match: () => onPool('dueWarnings', 'r') },
    ],
  },
  'admission pass, a start refused for good': {
    scenario: startRefused,
    cases: [
      { call: 'transition', label: 'to FAILED', match: ({ A }) => transitionTo('FAILED', A) },
      {
        call: 'history',
        label: 'of FAILED',
        match: ({ A }) => and(historyOf('FAILED'), forJob('history', A as string)),
      },
      {
        call: 'release',
        label: 'of the job that cannot start',
        match: ({ A }) => forJob('release', A as string),
      },
      { call: 'intakeSend', label: 'of the wake', match: () => CALLS.intakeSend },
      // A webhook can never fail a job's end: it is logged.
      { call: 'notify', label: 'of FAILED', match: ({ A }) => forJob('notify', A as string), absorbed: true },
    ],
  },
  'admission pass, an owner at its cap': {
    scenario: ownerAtCap,
    cases: [
      { call: 'markParked', match: () => onPool('markParked', 'c') },
      { call: 'park', label: 'of B', match: ({ B }) => forJob('park', B as string) },
    ],
  },
  'admission pass, a capped owner below its cap again': {
    scenario: ownerBelowCapAgain,
    cases: [
      { call: 'listParked', match: () => CALLS.listParked },
      { call: 'acquire', label: 'of B, parked', match: ({ B }) => forJob('acquire', B as string) },
    ],
  },
  'admission pass, no job parked any more': {
    scenario: parkedAllGone,
    cases: [
      { call: 'listParked', label: 'finding none', match: () => CALLS.listParked },
      { call: 'clearParked', match: () => onPool('clearParked', 'c') },
    ],
  },
  'admission pass, a start that fails transiently': {
    scenario: startRetried,
    cases: [
      {
        call: 'recordStartFailure',
        label: 'of the failed attempt',
        match: ({ A }) => forJob('recordStartFailure', A as string),
      },
    ],
  },
  finish: {
    scenario: finish,
    cases: [
      { call: 'transition', label: 'to SUCCEEDED', match: ({ A }) => transitionTo('SUCCEEDED', A) },
      {
        call: 'history',
        label: 'of SUCCEEDED',
        match: ({ A }) => and(historyOf('SUCCEEDED'), forJob('history', A as string)),
      },
      { call: 'release', match: ({ A }) => forJob('release', A as string) },
      { call: 'intakeSend', label: 'of the wake', match: () => CALLS.intakeSend },
      {
        call: 'notify',
        label: 'of SUCCEEDED',
        match: ({ A }) => forJob('notify', A as string),
        absorbed: true,
      },
      {
        call: 'getJob',
        label: 'of a retried finish',
        match: ({ A }) => forJob('getJob', A as string),
        stage: async (h, { A }) => {
          await h.jobEnder.finish(A as string, 'SUCCEEDED');
          h.intake.messages.length = 0;
        },
      },
    ],
  },
  submit: {
    scenario: submitOne,
    cases: [
      { call: 'reserveQueueSlot', match: () => onPool('reserveQueueSlot', 'p') },
      { call: 'createJob', match: () => CALLS.createJob },
      { call: 'intakeSend', label: 'of the new job', match: () => CALLS.intakeSend, absorbed: true },
    ],
  },
  cancel: {
    scenario: cancel,
    cases: [
      { call: 'getJob', match: ({ C }) => forJob('getJob', C as string) },
      { call: 'transition', label: 'to CANCELLED', match: ({ C }) => transitionTo('CANCELLED', C) },
      {
        call: 'history',
        label: 'of CANCELLED',
        match: ({ C }) => and(historyOf('CANCELLED'), forJob('history', C as string)),
      },
      { call: 'freeQueueSlot', match: () => onPool('freeQueueSlot', 'p') },
    ],
  },
} satisfies Record<
  string,
  { scenario: Scenario; cases: (FaultCase & { timings?: readonly FaultTiming[] })[] }
>;

const TIMINGS: readonly FaultTiming[] = ['before', 'after'];
/** A read that succeeded and then threw changed nothing: it is the same case as one that failed. */
const READS: ReadonlySet<CallName> = new Set(['getPool', 'getJob', 'listWaiting', 'listParked']);

for (const [op, { scenario, cases }] of Object.entries(SCENARIOS)) {
  describe(`${op}: a failed call, then one tick, converges`, () => {
    const table = (cases as (FaultCase & { timings?: readonly FaultTiming[] })[]).flatMap((c) =>
      (c.timings ?? (READS.has(c.call) ? ['before' as const] : TIMINGS)).map((timing) => ({
        ...c,
        timing,
        title: `${c.call}${c.label ? ` ${c.label}` : ''}`,
      })),
    );
    it.each(table)('$title — $timing', async (fault) => {
      const h = await harness();
      const ids = await scenario.setup(h);
      await fault.stage?.(h, ids);
      h.faults.arm({
        name: 'under test',
        match: fault.match(ids),
        timing: fault.timing,
        nth: fault.nth ?? 1,
      });

      const operationFailed = await scenario.run(h, ids);

      const fired = h.faults.firedNamed('under test');
      expect(fired).toEqual([expect.objectContaining({ timing: fault.timing })]);
      expect(fired[0] && classify(fired[0].call)).toBe(fault.call);
      expect(operationFailed).toBe(!fault.absorbed);

      h.faults.disarm();
      h.clock.advance(MINUTE + 1_000);
      await h.tick();
      await checkConverged(h, await allJobIds(h));
      await scenario.settled(h, ids);
      // A counter a crash left high is lowered once a tick passed without a submit.
      await h.tick();
      await checkConverged(h, await allJobIds(h), { exactWaitingCounter: true });
    });
  });
}

describe('the catalogue of calls', () => {
  it.each(Object.entries(SCENARIOS))(
    'every call of a clean %s is a call some fault test fails',
    async (_op, { scenario, cases }) => {
      const h = await harness();
      const ids = await scenario.setup(h);
      h.faults.committed.length = 0;
      await scenario.run(h, ids);
      // A tick ends with an admission pass: its calls are those the admission-pass table fails.
      const alsoCovered = [
        reconcilerPass,
        startRefused,
        startRetried,
        ownerAtCap,
        ownerBelowCapAgain,
        parkedAllGone,
      ].includes(scenario)
        ? SCENARIOS['admission pass'].cases
        : [];
      const covered = new Set([...cases, ...alsoCovered].map((c) => c.call as string));
      const made = new Set(
        h.faults.committed.map((call) => classify(call) ?? `unknown ${JSON.stringify(call)}`),
      );
      for (const name of made) expect(covered, `the ${name} call has no fault test`).toContain(name);
    },
  );
});

it('the worlds start as described: submitted jobs wait in admission order', async () => {
  const h = await harness();
  const ids = await admissionPass.setup(h);
  expect((await waitingJobs(h, 'p')).map((w) => w.jobId)).toEqual([ids.A, ids.B, ids.C]);
});
