import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retryDelaysSeconds } from '#core/backoff.ts';
import { type RetryPolicy, retryPolicySchema } from '#core/job-request.ts';

const DEFAULTS: RetryPolicy = retryPolicySchema.parse({});

describe('retry delays', () => {
  it('waits 1 s, 2 s, 4 s for the default three retries', () => {
    expect(retryDelaysSeconds(DEFAULTS)).toEqual([1, 2, 4]);
  });

  it('doubles up to the 60 s cap and stays there, as the original Libra did', () => {
    expect(retryDelaysSeconds({ ...DEFAULTS, maxRetries: 10 })).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
  });

  it('waits for nothing when there are no retries', () => {
    expect(retryDelaysSeconds({ ...DEFAULTS, maxRetries: 0 })).toEqual([]);
  });

  it('waits the same each time with a multiplier of 1', () => {
    expect(
      retryDelaysSeconds({ ...DEFAULTS, maxRetries: 4, backoffMultiplier: 1, initialDelaySeconds: 5 }),
    ).toEqual([5, 5, 5, 5]);
  });

  it('rounds fractional delays to whole seconds, as a Wait state needs', () => {
    expect(
      retryDelaysSeconds({ ...DEFAULTS, maxRetries: 5, backoffMultiplier: 1.5, initialDelaySeconds: 2 }),
    ).toEqual([2, 3, 5, 7, 10]);
  });

  it('caps the first delay too when the initial delay is the cap', () => {
    expect(
      retryDelaysSeconds({ ...DEFAULTS, maxRetries: 3, initialDelaySeconds: 60, maxDelaySeconds: 60 }),
    ).toEqual([60, 60, 60]);
  });

  it('gives one whole, non-decreasing delay per retry, from the initial delay up to the cap', () => {
    const policies = fc
      .record({
        maxRetries: fc.integer({ min: 0, max: 10 }),
        backoffMultiplier: fc.double({ min: 1, max: 10, noNaN: true }),
        a: fc.integer({ min: 1, max: 3600 }),
        b: fc.integer({ min: 1, max: 3600 }),
      })
      .map(({ a, b, ...rest }) =>
        retryPolicySchema.parse({
          ...rest,
          initialDelaySeconds: Math.min(a, b),
          maxDelaySeconds: Math.max(a, b),
        }),
      );
    fc.assert(
      fc.property(policies, (policy) => {
        // Act
        const delays = retryDelaysSeconds(policy);

        // Assess
        expect(delays).toHaveLength(policy.maxRetries);
        delays.forEach((delay, i) => {
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeLessThanOrEqual(policy.maxDelaySeconds);
          expect(delay).toBeGreaterThanOrEqual(policy.initialDelaySeconds);
          if (i > 0) expect(delay).toBeGreaterThanOrEqual(delays[i - 1] ?? Number.NaN);
        });
        if (policy.maxRetries > 0) expect(delays[0]).toBe(policy.initialDelaySeconds);
      }),
    );
  });
});
