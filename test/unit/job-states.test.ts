import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allowedSources,
  canMove,
  isTerminal,
  JOB_STATUSES,
  MOVES,
  TERMINAL_STATUSES,
} from '#core/job-states.ts';

describe('job states', () => {
  it('never leaves a terminal state', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TERMINAL_STATUSES), fc.constantFrom(...JOB_STATUSES), (from, to) => {
        expect(canMove(from, to)).toBe(false);
      }),
    );
  });

  it('names the sources of each move consistently with the move table', () => {
    for (const to of JOB_STATUSES) {
      for (const from of allowedSources(to)) expect(MOVES[from]).toContain(to);
    }
    expect(allowedSources('CANCELLED').sort()).toEqual(['CANCELLING', 'QUEUED', 'SCHEDULED']);
  });

  it('knows the four terminal states', () => {
    expect(JOB_STATUSES.filter(isTerminal)).toEqual(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
  });
});
