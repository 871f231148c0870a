import type { LibraConfig } from './config.ts';
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

/**
 * The wait after a job's `failedAttempts`-th failed workflow start before the next:
 * initial × multiplier^(failedAttempts - 1), capped.
 */
export function startRetryDelaySeconds(policy: LibraConfig['startRetry'], failedAttempts: number): number {
  const raw = policy.initialDelaySeconds * policy.backoffMultiplier ** (failedAttempts - 1);
  return Math.min(policy.maxDelaySeconds, Math.round(raw));
}
