import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateQueuePosition } from '#core/queue-position.ts';

/**
 * The estimate against a model of one pool's queue: jobs submitted with priorities, each taking
 * the next sequence number of its priority, then leaving in any order (admission takes the head,
 * a cancel or an expiry any job). The counters are what the stores keep: per priority, the
 * sequence numbers taken and the jobs that left.
 */

interface ModelJob {
  readonly id: number;
  readonly priority: number;
  readonly queueSeq: number;
}

/** Admission order: higher priority first, then submit order. */
const order = (a: ModelJob, b: ModelJob) => b.priority - a.priority || a.id - b.id;

describe('estimateQueuePosition', () => {
  it('is the true position less the later jobs of its priority that left first (never fewer than none of its priority ahead), never inside the counted head', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 80 }),
        fc.array(fc.oneof(fc.constant(-1), fc.nat()), { maxLength: 40 }),
        fc.integer({ min: 0, max: 20 }),
        (priorities, leaves, exact) => {
          const seq: Record<number, number> = {};
          const left: Record<number, number> = {};
          const jobs = priorities.map((priority, id) => {
            seq[priority] = (seq[priority] ?? 0) + 1;
            return { id, priority, queueSeq: seq[priority] };
          });
          let queue = [...jobs].sort(order);
          const gone: ModelJob[] = [];
          for (const leave of leaves) {
            if (queue.length === 0) break;
            // -1: admission takes the head; otherwise a cancel or an expiry of any job.
            const index = leave < 0 ? 0 : leave % queue.length;
            const [job] = queue.splice(index, 1) as [ModelJob];
            left[job.priority] = (left[job.priority] ?? 0) + 1;
            gone.push(job);
          }
          queue = queue.sort(order);
          for (const [i, job] of queue.entries()) {
            const truth = i + 1;
            if (truth - 1 < exact) continue; // counted exactly: no estimate
            const leftBehind = gone.filter(
              (g) => g.priority === job.priority && g.queueSeq > job.queueSeq,
            ).length;
            const estimate = estimateQueuePosition(
              job,
              { ahead: exact, more: true },
              { seq, left },
              queue.length,
            );
            const higher = queue.filter((j) => j.priority > job.priority).length;
            const ownAhead = queue.filter(
              (j) => j.priority === job.priority && j.queueSeq < job.queueSeq,
            ).length;
            // Each later job of its priority that left takes one off the jobs of its priority ahead of it, down to none.
            expect(estimate).toBe(Math.max(exact + 1, higher + Math.max(0, ownAhead - leftBehind) + 1));
            expect(estimate).toBeLessThanOrEqual(truth);
            expect(truth - estimate).toBeLessThanOrEqual(leftBehind);
          }
        },
      ),
    );
  });

  it('never answers past the queue’s end nor inside the counted head when the counters drifted', () => {
    const counters = { seq: { 5: 1000, 9: 50 }, left: { 5: 0, 9: 0 } };
    // The counters say 1,050 wait; the waiting counter says 300.
    expect(
      estimateQueuePosition({ priority: 5, queueSeq: 1000 }, { ahead: 100, more: true }, counters, 300),
    ).toBe(300);
    // Far more left than were ever taken: never below the counted head.
    const drifted = { seq: { 5: 10 }, left: { 5: 500 } };
    expect(
      estimateQueuePosition({ priority: 5, queueSeq: 10 }, { ahead: 100, more: true }, drifted, 300),
    ).toBe(101);
  });

  it('counts a record without a sequence number (written before it existed) behind the higher priorities', () => {
    const counters = { seq: { 9: 400, 5: 900 }, left: { 9: 100, 5: 10 } };
    expect(estimateQueuePosition({ priority: 5 }, { ahead: 100, more: true }, counters, 2000)).toBe(301);
    // Pool items from before the counters: the reconciler's recount leaves a negative queueLeft
    // (0 taken, n waiting), which counts the jobs waiting all the same.
    const recounted = { seq: {}, left: { 9: -250 } };
    expect(estimateQueuePosition({ priority: 5 }, { ahead: 100, more: true }, recounted, 2000)).toBe(251);
  });
});
