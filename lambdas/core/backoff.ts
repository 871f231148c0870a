import type { RetryPolicy } from './job-request.ts';

/**
 * The wait before each retry, computed once at submit and carried in the workflow input:
 * initial × multiplier^n, capped (original Libra: 1 s → 2 s → 4 s … at most 60 s).
 */
export function retryDelaysSeconds(policy: RetryPolicy): number[] {
  const delays: number[] = [];
  for (let retry = 0; retry < policy.maxRetries; retry++) {
    const raw = policy.initialDelaySeconds * policy.backoffMultiplier ** retry;
    delays.push(Math.min(policy.maxDelaySeconds, Math.round(raw)));
  }
  return delays;
}
