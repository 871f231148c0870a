import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allowedSources,
  canMove,
  isTerminal,
  JOB_STATUSES,
  type JobStatus,
  LIFECYCLE,
  MOVES,
  STATUS_TIMESTAMP,
  sourcesWhileHeld,
  TERMINAL_STATUSES,
} from '#core/job-states.ts';

/** DESIGN §2, written out again so that a change to MOVES has to be made twice. */
const DESIGN_MOVES: ReadonlyArray<readonly [JobStatus, JobStatus]> = [
  ['SUBMITTED', 'VALIDATING'],
  ['VALIDATING', 'QUEUED'],
  ['QUEUED', 'SCHEDULED'],
  ['QUEUED', 'CANCELLED'],
  ['QUEUED', 'TIMEOUT'],
  ['SCHEDULED', 'RUNNING'],
  ['SCHEDULED', 'CANCELLING'],
  ['SCHEDULED', 'CANCELLED'],
  // A workflow that cannot start: START_FAILED (the AWS contract's "no poison job").
  ['SCHEDULED', 'FAILED'],
  ['RUNNING', 'SUCCEEDED'],
  ['RUNNING', 'FAILED'],
  ['RUNNING', 'TIMEOUT'],
  ['RUNNING', 'RETRYING'],
  ['RUNNING', 'CANCELLING'],
  ['RETRYING', 'RUNNING'],
  ['RETRYING', 'CANCELLING'],
  ['RETRYING', 'FAILED'],
  ['CANCELLING', 'CANCELLED'],
  ['CANCELLING', 'SUCCEEDED'],
  ['CANCELLING', 'FAILED'],
];
const isDesignMove = (from: JobStatus, to: JobStatus) =>
  DESIGN_MOVES.some(([f, t]) => f === from && t === to);

const status = fc.constantFrom(...JOB_STATUSES);

/** A job record held by a store that applies a move only when canMove allows it, as the conditional write does. */
function applyThroughGuard(start: JobStatus, attempts: readonly JobStatus[]) {
  let current = start;
  const written: [JobStatus, JobStatus][] = [];
  for (const to of attempts) {
    if (canMove(current, to)) {
      written.push([current, to]);
      current = to;
    }
  }
  return { current, written };
}

describe('job states', () => {
  it('allows exactly the moves DESIGN §2 lists', () => {
    for (const from of JOB_STATUSES) {
      for (const to of JOB_STATUSES)
        expect([from, to, canMove(from, to)]).toEqual([from, to, isDesignMove(from, to)]);
    }
  });

  it('never leaves a terminal state', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TERMINAL_STATUSES), status, (from, to) => {
        expect(canMove(from, to)).toBe(false);
      }),
    );
  });

  it('never allows staying in place or going back to the states that pass inside submit', () => {
    fc.assert(
      fc.property(status, (from) => {
        expect(canMove(from, from)).toBe(false);
        expect(canMove(from, 'SUBMITTED')).toBe(false);
      }),
    );
    expect(allowedSources('VALIDATING')).toEqual(['SUBMITTED']);
  });

  it('names the sources of each move consistently with the move table', () => {
    for (const to of JOB_STATUSES) {
      for (const from of allowedSources(to)) expect(MOVES[from]).toContain(to);
      for (const from of JOB_STATUSES) expect(allowedSources(to).includes(from)).toBe(canMove(from, to));
    }
    expect(allowedSources('CANCELLED').sort()).toEqual(['CANCELLING', 'QUEUED', 'SCHEDULED']);
    expect(allowedSources('RUNNING').sort()).toEqual(['RETRYING', 'SCHEDULED']);
  });

  it('knows the four terminal states, and they alone have no way out', () => {
    expect(JOB_STATUSES.filter(isTerminal)).toEqual(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
    for (const s of JOB_STATUSES) expect(MOVES[s].length === 0).toBe(isTerminal(s));
  });

  it('reaches a terminal state from every stored state', () => {
    for (const start of JOB_STATUSES) {
      const seen = new Set<JobStatus>([start]);
      const frontier = [start];
      while (frontier.length > 0) {
        for (const next of MOVES[frontier.pop() ?? start]) {
          if (!seen.has(next)) {
            seen.add(next);
            frontier.push(next);
          }
        }
      }
      expect([start, [...seen].some(isTerminal)]).toEqual([start, true]);
    }
  });

  it('stamps the time of every state a status view shows', () => {
    expect(STATUS_TIMESTAMP).toEqual({
      QUEUED: 'queuedAt',
      SCHEDULED: 'scheduledAt',
      RUNNING: 'startedAt',
      SUCCEEDED: 'completedAt',
      FAILED: 'completedAt',
      TIMEOUT: 'completedAt',
      CANCELLED: 'cancelledAt',
    });
  });
});

describe('job states: reasons, and where the workflow marks find a job', () => {
  it('every final move but SUCCEEDED says why; SUCCEEDED clears the reason a cancel left', () => {
    const rules = Object.fromEntries(JOB_STATUSES.map((s) => [s, LIFECYCLE[s].reason]));
    expect(rules).toEqual({
      SUBMITTED: 'keeps',
      VALIDATING: 'keeps',
      QUEUED: 'keeps',
      SCHEDULED: 'keeps',
      RUNNING: 'keeps',
      RETRYING: 'keeps',
      CANCELLING: 'sets',
      SUCCEEDED: 'clears',
      FAILED: 'sets',
      CANCELLED: 'sets',
      TIMEOUT: 'sets',
    });
  });

  it('a mark finds the job where its writer left it, or CANCELLING, as far as the moves allow', () => {
    expect(sourcesWhileHeld('RUNNING', ['SCHEDULED', 'RETRYING'])).toEqual(['SCHEDULED', 'RETRYING']);
    expect(sourcesWhileHeld('SUCCEEDED', ['RUNNING'])).toEqual(['RUNNING', 'CANCELLING']);
    expect(sourcesWhileHeld('FAILED', ['RUNNING'])).toEqual(['RUNNING', 'CANCELLING']);
    expect(sourcesWhileHeld('RETRYING', ['RUNNING'])).toEqual(['RUNNING']);
    expect(sourcesWhileHeld('TIMEOUT', ['RUNNING'])).toEqual(['RUNNING']);
    // Held where no cancel can reach it: only where it was left.
    expect(sourcesWhileHeld('CANCELLED', ['QUEUED'])).toEqual(['QUEUED']);
    for (const to of JOB_STATUSES) {
      for (const held of JOB_STATUSES) {
        for (const from of sourcesWhileHeld(to, [held])) expect(canMove(from, to)).toBe(true);
      }
    }
  });
});

describe('job states: random histories through the guard', () => {
  it('never writes an illegal move, and once terminal writes nothing more', () => {
    fc.assert(
      fc.property(status, fc.array(status, { maxLength: 60 }), (start, attempts) => {
        // Act
        const { current, written } = applyThroughGuard(start, attempts);

        // Assess: every written move is in the design, and each starts where the last ended.
        let at = start;
        for (const [from, to] of written) {
          expect(isDesignMove(from, to)).toBe(true);
          expect(from).toBe(at);
          at = to;
        }
        expect(current).toBe(at);
        const firstTerminal = written.findIndex(([, to]) => isTerminal(to));
        if (firstTerminal >= 0) expect(written).toHaveLength(firstTerminal + 1);
        if (isTerminal(start)) expect(written).toEqual([]);
      }),
    );
  });

  it('keeps a job that reached a terminal state there whatever is attempted next', () => {
    const toTerminal = fc.constantFrom(...DESIGN_MOVES.filter(([, to]) => isTerminal(to)));
    fc.assert(
      fc.property(toTerminal, fc.array(status, { minLength: 1, maxLength: 30 }), ([from, to], attempts) => {
        // Prepare
        const { current } = applyThroughGuard(from, [to]);

        // Act
        const after = applyThroughGuard(current, attempts);

        // Assess
        expect(current).toBe(to);
        expect(after.current).toBe(to);
        expect(after.written).toEqual([]);
      }),
    );
  });
});
