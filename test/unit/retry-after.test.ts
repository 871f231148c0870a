import { describe, expect, it } from 'vitest';
import type { PoolUsage } from '#core/ports.ts';
import { QUEUE_FULL_RETRY_AFTER, queueFullRetryAfter, TICK_SECONDS } from '#core/retry-after.ts';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();

function usage(leaseAges: readonly (number | string)[]): PoolUsage {
  const leases = Object.fromEntries(
    leaseAges.map((age, i) => [
      `job-${i}`,
      { cpuCores: 1, memoryMiB: 1024, at: typeof age === 'number' ? ago(age) : age },
    ]),
  );
  return {
    pool: 'p',
    cpuUsed: 0,
    memoryUsedMiB: 0,
    running: leaseAges.length,
    waiting: 10,
    leases,
    queue: { seq: {}, left: {} },
    fair: { virtualTime: {}, lastTag: {}, running: {}, parked: {} },
  };
}

describe('Retry-After for a full queue, from the running jobs', () => {
  it.each([
    ['nothing running: the next tick', [], TICK_SECONDS],
    ['one job running for 30 s: it runs about 60 s, ends in about 30 s', [30], 30],
    [
      'nine jobs of mean age 100 s: one of them ends every 20 s',
      [50, 100, 150, 20, 180, 100, 100, 100, 100],
      20,
    ],
    ['jobs that just started: not sooner than the minimum', [1, 2], QUEUE_FULL_RETRY_AFTER.min],
    ['one job running for hours: not later than the maximum', [4 * 3600], QUEUE_FULL_RETRY_AFTER.max],
    ['a lease with an unreadable time is left out', ['not a time', 30], 30],
    ['only unreadable lease times: the next tick', ['not a time'], TICK_SECONDS],
    ['a lease from the future (clock skew) counts as just started: mean age 15 s of two', [-60, 30], 10],
  ])('%s', (_what, ages, expected) => {
    expect(queueFullRetryAfter(usage(ages), NOW)).toBe(expected);
  });

  it('is a whole number of seconds within the bounds, whatever the leases', () => {
    for (let n = 1; n <= 40; n++) {
      const ages = Array.from({ length: n }, (_, i) => (i * 977) % 7200);
      const seconds = queueFullRetryAfter(usage(ages), NOW);
      expect(Number.isInteger(seconds)).toBe(true);
      expect(seconds).toBeGreaterThanOrEqual(QUEUE_FULL_RETRY_AFTER.min);
      expect(seconds).toBeLessThanOrEqual(QUEUE_FULL_RETRY_AFTER.max);
    }
  });
});
