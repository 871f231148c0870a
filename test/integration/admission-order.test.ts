import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOVE_GRACE_MS } from '#core/admission.ts';
import {
  aheadOf,
  checkConverged,
  createHarness,
  freshTable,
  type Harness,
  leaseOutsideAdmission,
  OWNER,
  sizedJob,
  waitingJobs,
} from '../support/admission.ts';
import { cancelEvent, getEvent, testConfig } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { after, CALLS, onPool, onPoolItem, transitionTo } from '../support/faults.ts';

/**
 * Admission order as the caller sees it (queuePosition), and the races and leftovers the
 * reconciler exists for: a cancel between lease and move, a recount racing submits, a
 * retried finish, jobs that waited too long.
 */

const config = testConfig({
  pools: {
    // One job at a time: every release admits exactly the next one.
    one: { cpuCores: 16, memoryGb: 64, maxConcurrentJobs: 1, maxQueueSize: 20 },
    // Jobs here take 3 cores: two fit.
    two: { cpuCores: 6, memoryGb: 32, maxConcurrentJobs: 2, maxQueueSize: 10 },
    small: { cpuCores: 16, memoryGb: 64, maxConcurrentJobs: 1, maxQueueSize: 3, maxWaitMinutes: 10 },
  },
});

const MINUTE = 60_000;

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

async function deliverAll(h: Harness): Promise<void> {
  const { failed } = await h.deliver(h.intake.messages.splice(0));
  expect(failed).toEqual([]);
}

/** The workflow's part: the job runs, then ends, giving its lease back and waking the pool. */
async function runToEnd(h: Harness, jobId: string): Promise<void> {
  await h.jobs.transition(jobId, ['SCHEDULED'], 'RUNNING', { at: h.clock.now().toISOString() });
  expect((await h.jobEnder.finish(jobId, 'SUCCEEDED'))?.status).toBe('SUCCEEDED');
}

async function position(h: Harness, jobId: string): Promise<number | undefined> {
  const reply = await h.api.get(getEvent(OWNER, jobId));
  expect(reply.status).toBe(200);
  return reply.body.queuePosition;
}

const startOrder = (h: Harness) =>
  [...h.starter.started.entries()].sort(([, a], [, b]) => a.at - b.at).map(([id]) => id);

describe('queuePosition', () => {
  it('is the admission order: jobs are admitted exactly in the order of their positions', async () => {
    const h = await harness();
    const running = await submit(h, sizedJob('one', 1));
    await deliverAll(h);
    const priorities = [5, 9, 1, 5, 9, 3, 5, 10];
    const queued: string[] = [];
    for (const priority of priorities) queued.push(await submit(h, sizedJob('one', 1, priority)));
    await deliverAll(h);
    expect(startOrder(h)).toEqual([running]);

    const positions = new Map<string, number>();
    for (const jobId of queued) positions.set(jobId, (await position(h, jobId)) as number);
    const byPosition = [...queued].sort((a, b) => (positions.get(a) ?? 0) - (positions.get(b) ?? 0));
    expect([...positions.values()].sort((a, b) => a - b)).toEqual(priorities.map((_, i) => i + 1));
    // The order the positions give is priority first, then submit order, computed here without the index.
    const waiting = await waitingJobs(h, 'one');
    const expected = [...waiting]
      .sort((a, b) => (aheadOf(a, b) ? -1 : aheadOf(b, a) ? 1 : 0))
      .map((w) => w.jobId);
    expect(byPosition).toEqual(expected);

    let current = running;
    for (const [i, next] of byPosition.entries()) {
      await runToEnd(h, current);
      await deliverAll(h);
      expect(startOrder(h).at(-1)).toBe(next);
      expect(await position(h, next)).toBeUndefined();
      // Everyone behind moved up by one.
      for (const behind of byPosition.slice(i + 1)) {
        expect(await position(h, behind)).toBe((positions.get(behind) ?? 0) - (i + 1));
      }
      current = next;
    }
    expect(startOrder(h)).toEqual([running, ...byPosition]);
    await checkConverged(h, [running, ...queued]);
  });
});

describe('a job cancelled between its lease and its move to SCHEDULED', () => {
  it('gives its lease back, and the jobs behind it are admitted in its room before the pass ends', async () => {
    const h = await harness();
    const A = await submit(h, sizedJob('two', 2, 9));
    const B = await submit(h, sizedJob('two', 2, 5));
    const C = await submit(h, sizedJob('two', 2, 5));
    h.faults.interpose('cancel A', transitionTo('SCHEDULED', A), async () => {
      expect((await h.api.cancel(cancelEvent(OWNER, A))).status).toBe(200);
    });

    const outcome = await h.admission.admitPool('two');

    expect(h.faults.interposed).toEqual(['cancel A']);
    expect((await h.jobs.getJob(A))?.status).toBe('CANCELLED');
    expect((await h.pools.getPool('two')).leases[A]).toBeUndefined();
    // B fits beside A's lease. C takes A's room: in this pass if it still leases when A's lease
    // comes back, or else in the pass that follows, which this one awaits. No wake is needed.
    expect(outcome.admitted[0]).toBe(B);
    expect(startOrder(h)).toEqual([B, C]);
    expect((await h.jobs.getJob(C))?.status).toBe('SCHEDULED');
    expect(h.intake.messages.filter((m) => m.kind === 'wake')).toEqual([]);
    await checkConverged(h, [A, B, C]);
  });

  it('gives its room to a pass of its own when its pass had already stopped leasing', async () => {
    const h = await harness();
    const A = await submit(h, sizedJob('one', 1));
    h.intake.messages.splice(0);
    let B = '';
    // The pass has listed only A. While A's move is on its way, A is cancelled and B submitted;
    // B's own message is lost, so only admission's own follow-up can start it now.
    h.faults.interpose('cancel A, submit B', transitionTo('SCHEDULED', A), async () => {
      expect((await h.api.cancel(cancelEvent(OWNER, A))).status).toBe(200);
      B = await submit(h, sizedJob('one', 1));
      h.intake.messages.splice(0);
    });

    const outcome = await h.admission.admitPool('one');

    expect(h.faults.interposed).toEqual(['cancel A, submit B']);
    expect(outcome.admitted).toEqual([]);
    expect((await h.jobs.getJob(A))?.status).toBe('CANCELLED');
    expect((await h.jobs.getJob(B))?.status).toBe('SCHEDULED');
    expect(startOrder(h)).toEqual([B]);
    await checkConverged(h, [A, B]);
  });
});

describe('leasing several jobs at once', () => {
  it('leases the heads that fit in one write, and one at a time when capacity changed under it', async () => {
    // Two fit, all in one write.
    const h = await harness();
    const A = await submit(h, sizedJob('two', 2, 9));
    const B = await submit(h, sizedJob('two', 2, 5));
    await deliverAll(h);
    expect(h.faults.committed.filter(CALLS.acquireAll)).toHaveLength(1);
    expect(h.faults.committed.filter(CALLS.acquire)).toHaveLength(0);
    expect(startOrder(h)).toEqual([A, B]);

    // Another admission takes a slot between this pass's read and its write: the write of two is
    // refused, and the pass leases one job at a time, in order, and stops at the head that no
    // longer fits.
    const g = await harness();
    const C = await submit(g, sizedJob('two', 2, 9));
    const D = await submit(g, sizedJob('two', 2, 5));
    const E = await submit(g, sizedJob('two', 2, 1));
    g.intake.messages.splice(0);
    g.faults.interpose('another admission leases E', CALLS.acquireAll, () => leaseOutsideAdmission(g, E));
    const calls = g.faults.committed.length;

    const outcome = await g.admission.admitPool('two');

    expect(g.faults.interposed).toEqual(['another admission leases E']);
    expect(g.faults.committed.filter(CALLS.acquireAll)).toHaveLength(0);
    // The refused write carried the pool item back: the pass plans again from it, unread.
    expect(g.faults.committed.slice(calls).filter(onPool('getPool', 'two'))).toHaveLength(1);
    expect(outcome.admitted).toEqual([C]);
    expect(outcome.blockedBy).toBe(D);
    expect(Object.keys((await g.pools.getPool('two')).leases).sort()).toEqual([C, E].sort());
  });
});

/** Two jobs waiting in pool two, the first (A) leased outside admission `ms` ago; no wake pending. */
async function aHeadLeasedAgo(ms: number): Promise<{ h: Harness; A: string; B: string }> {
  const h = await harness();
  const A = await submit(h, sizedJob('two', 2, 9));
  const B = await submit(h, sizedJob('two', 2, 5));
  h.intake.messages.splice(0);
  await leaseOutsideAdmission(h, A);
  h.clock.advance(ms);
  return { h, A, B };
}

describe('a head that holds a lease when the pass reads the pool', () => {
  it('is left to the pass that leased it moments ago: no move of it, no write for it', async () => {
    // The state another pass leaves between its lease write and its moves.
    const { h, A, B } = await aHeadLeasedAgo(0);
    h.faults.interpose('a move of A', transitionTo('SCHEDULED', A), async () => undefined);
    const calls = h.faults.committed.length;

    const outcome = await h.admission.admitPool('two');

    const made = h.faults.committed.slice(calls);
    expect(outcome.admitted).toEqual([B]);
    expect(made.filter(CALLS.acquire)).toHaveLength(1);
    expect(made.filter(transitionTo('SCHEDULED'))).toHaveLength(1);
    expect(h.faults.interposed).toEqual([]);
    expect((await h.jobs.getJob(A))?.status).toBe('QUEUED');
    expect(Object.keys((await h.pools.getPool('two')).leases).sort()).toEqual([A, B].sort());
  });

  it('is moved on that lease once it is older than a pass can take, with no write to the pool item', async () => {
    // A pass that stopped between its lease and its move.
    const { h, A, B } = await aHeadLeasedAgo(MOVE_GRACE_MS);
    const calls = h.faults.committed.length;

    const outcome = await h.admission.admitPool('two');

    const made = h.faults.committed.slice(calls);
    expect(outcome.admitted.sort()).toEqual([A, B].sort());
    // A: its move alone. B: one lease write, for B only.
    expect(made.filter(CALLS.acquire)).toHaveLength(1);
    expect(made.filter(CALLS.acquireAll)).toHaveLength(0);
    expect(made.filter(onPool('getPool', 'two'))).toHaveLength(1);
    expect(made.filter(transitionTo('SCHEDULED'))).toHaveLength(2);
    expect(Object.keys((await h.pools.getPool('two')).leases).sort()).toEqual([A, B].sort());
  });

  it('is left to the pass that leased it when that pass moves it first after all: the lease stays, the job starts once', async () => {
    const { h, A, B } = await aHeadLeasedAgo(MOVE_GRACE_MS);
    // The slow pass moves A after this one read the waiting index, before this one's move of A.
    h.faults.interpose('the other pass moves A', transitionTo('SCHEDULED', A), async () => {
      await h.jobs.transition(A, ['QUEUED'], 'SCHEDULED', { at: h.clock.now().toISOString() });
    });

    const outcome = await h.admission.admitPool('two');

    expect(h.faults.interposed).toEqual(['the other pass moves A']);
    expect(outcome.admitted).toEqual([B]);
    expect((await h.jobs.getJob(A))?.status).toBe('SCHEDULED');
    expect(Object.keys((await h.pools.getPool('two')).leases).sort()).toEqual([A, B].sort());
    // Starting A is the other pass's part.
    expect(startOrder(h)).toEqual([B]);
  });
});

describe('what a pass reads', () => {
  it('after a submit, the pool item alone when the pool is full; after a wake, the waiting index with it', async () => {
    const h = await harness();
    const running = await submit(h, sizedJob('one', 1));
    await deliverAll(h);
    await submit(h, sizedJob('one', 1));
    const reads = () => ({
      pool: h.faults.committed.filter(onPool('getPool', 'one')).length,
      index: h.faults.committed.filter(onPool('listWaiting', 'one')).length,
    });

    const before = reads();
    await deliverAll(h);
    const afterSubmit = reads();
    await runToEnd(h, running);
    await deliverAll(h);
    const afterWake = reads();

    // The submitted job's pass finds the pool full and stops there.
    expect(afterSubmit).toEqual({ pool: before.pool + 1, index: before.index });
    // The wake's pass reads both at once, and admits the job.
    expect(afterWake).toEqual({ pool: afterSubmit.pool + 1, index: afterSubmit.index + 1 });
    expect(startOrder(h)).toHaveLength(2);
  });
});

describe('the waiting counter', () => {
  it('is not set below the jobs that wait by a recount that raced submits', async () => {
    const h = await harness();
    await submit(h, sizedJob('small', 1));
    await deliverAll(h);
    await submit(h, sizedJob('small', 1));
    await submit(h, sizedJob('small', 1));
    // The reconciler counted two waiting jobs; before it writes that count, a third is submitted.
    const afterTheCount = after(onPool('listWaiting', 'small'), onPoolItem('small'));
    h.faults.interpose('a submit lands during the recount', afterTheCount, async () => {
      expect((await h.submit(sizedJob('small', 1))).status).toBe(202);
    });
    await h.tick();
    expect(h.faults.interposed).toHaveLength(1);

    // The queue is full (3): no submit may get in, whatever the recount wrote.
    expect((await h.submit(sizedJob('small', 1))).status).toBe(429);
    expect(await waitingJobs(h, 'small')).toHaveLength(3);
    expect((await h.pools.getPool('small')).waiting).toBe(3);
  });

  it('is lowered once per pass by the jobs it admitted, and stops at zero when it had drifted low', async () => {
    const h = await harness();
    for (let i = 0; i < 3; i++) await submit(h, sizedJob('two', 2));
    expect((await h.pools.getPool('two')).waiting).toBe(3);

    // Two fit: one pass admits both and writes one decrement of two.
    await deliverAll(h);
    const decrements = h.faults.committed
      .filter(CALLS.freeQueueSlot)
      .map((c) => (c.input.ExpressionAttributeValues as Record<string, unknown>)[':n']);
    expect(decrements).toEqual([2]);
    expect((await h.pools.getPool('two')).waiting).toBe(1);

    // A decrement larger than the counter (drifted low) stops it at zero, not below.
    await h.pools.freeQueueSlot('two', [5, 5, 5]);
    expect((await h.pools.getPool('two')).waiting).toBe(0);
  });

  it('drifted high by a crash is brought back to the jobs that wait once the pool is quiet for a tick', async () => {
    const h = await harness();
    await submit(h, sizedJob('small', 1));
    await deliverAll(h);
    const waiting = await submit(h, sizedJob('small', 1));
    const cancelled = await submit(h, sizedJob('small', 1));
    h.faults.arm({ name: 'free fails', match: CALLS.freeQueueSlot, timing: 'before' });
    expect((await h.api.cancel(cancelEvent(OWNER, cancelled))).status).toBe(500);
    expect(h.faults.fired).toHaveLength(1);
    expect((await h.pools.getPool('small')).waiting).toBe(2);

    await h.tick();
    await h.tick();

    expect((await h.pools.getPool('small')).waiting).toBe(1);
    expect(await waitingJobs(h, 'small')).toEqual([expect.objectContaining({ jobId: waiting })]);
    expect((await h.submit(sizedJob('small', 1))).status).toBe(202);
    expect((await h.submit(sizedJob('small', 1))).status).toBe(202);
    expect((await h.submit(sizedJob('small', 1))).status).toBe(429);
  });
});

describe('the reconciler and jobs that waited too long', () => {
  it('times out QUEUED jobs older than maxWaitMinutes with QUEUE_WAIT_EXCEEDED, and gives their places back', async () => {
    const h = await harness();
    const running = await submit(h, sizedJob('small', 1));
    await deliverAll(h);
    const old1 = await submit(h, sizedJob('small', 1, 9));
    const old2 = await submit(h, sizedJob('small', 1, 1));
    h.clock.advance(6 * MINUTE);
    const young = await submit(h, sizedJob('small', 1, 5));
    expect((await h.submit(sizedJob('small', 1))).status).toBe(429);
    h.clock.advance(4 * MINUTE + 1_000);

    const [report] = (await h.reconciler.reconcileAll()).filter((r) => r.pool === 'small');

    expect(report?.expired.sort()).toEqual([old1, old2].sort());
    for (const jobId of [old1, old2]) {
      const job = await h.jobs.getJob(jobId);
      expect(job?.status).toBe('TIMEOUT');
      expect(job?.reason).toEqual({
        code: 'QUEUE_WAIT_EXCEEDED',
        message: expect.stringContaining('10 minutes'),
      });
      expect(job?.completedAt).toBeDefined();
      expect(Date.parse(job?.completedAt ?? '') - Date.parse(job?.submittedAt ?? '')).toBeGreaterThan(
        10 * MINUTE,
      );
      const history = await h.jobs.listEvents(jobId);
      expect(history).toContainEqual(expect.objectContaining({ status: 'TIMEOUT', from: 'QUEUED' }));
    }
    expect((await h.jobs.getJob(young))?.status).toBe('QUEUED');
    expect((await h.jobs.getJob(running))?.status).toBe('SCHEDULED');
    expect(report?.waiting).toBe(1);
    expect((await h.pools.getPool('small')).waiting).toBe(1);
    // Their places are free again at once.
    expect((await h.submit(sizedJob('small', 1))).status).toBe(202);
    expect((await h.submit(sizedJob('small', 1))).status).toBe(202);
    expect((await h.submit(sizedJob('small', 1))).status).toBe(429);
  });
});

describe('a finish that is retried', () => {
  it('wakes the pool again even though the first attempt already gave the lease back', async () => {
    const h = await harness();
    const A = await submit(h, sizedJob('one', 1));
    const B = await submit(h, sizedJob('one', 1));
    await deliverAll(h);
    expect(startOrder(h)).toEqual([A]);
    await h.jobs.transition(A, ['SCHEDULED'], 'RUNNING', { at: h.clock.now().toISOString() });
    // The lease is given back, then the wake is lost with the Lambda that sent it.
    h.faults.arm({ name: 'wake lost', match: CALLS.intakeSend, timing: 'before' });
    await expect(h.jobEnder.finish(A, 'SUCCEEDED')).rejects.toThrow(/injected fault/);
    expect(h.faults.fired).toHaveLength(1);
    expect(h.intake.messages).toEqual([]);

    // The workflow retries the step: the job is already final and holds no lease, and the pool is woken.
    expect((await h.jobEnder.finish(A, 'SUCCEEDED'))?.status).toBe('SUCCEEDED');
    expect(h.intake.messages).toEqual([{ kind: 'wake', pool: 'one', jobId: A }]);
    await deliverAll(h);
    expect(startOrder(h)).toEqual([A, B]);
  });
});

describe('a tick with one pool failing', () => {
  it('still reconciles and admits in the other pools, and reports the failure', async () => {
    const h = await harness();
    const expired = await submit(h, sizedJob('small', 1));
    h.intake.messages.length = 0;
    h.clock.advance(11 * MINUTE);
    // A job whose intake message was lost, in a pool after the broken one.
    h.faults.arm({ name: 'message lost', match: CALLS.intakeSend, timing: 'before' });
    const lost = await submit(h, sizedJob('two', 2));
    expect(h.faults.fired).toHaveLength(1);
    // Pool `one` cannot be read at all, on every tick, until someone repairs it.
    h.faults.arm({
      name: 'pool one broken',
      match: onPool('getPool', 'one'),
      timing: 'before',
      persistent: true,
    });

    await expect(h.tick()).rejects.toThrow();

    expect(h.faults.firedNamed('pool one broken').length).toBeGreaterThan(0);
    expect(startOrder(h)).toEqual([lost]);
    expect((await h.jobs.getJob(expired))?.status).toBe('TIMEOUT');
  });
});
