import type { PoolUsage } from './ports.ts';

/**
 * When a caller answered 429 should try again: the Retry-After header, in whole seconds, and the
 * problem's `retryAfter` member.
 */

/** The tick's period (its EventBridge schedule, lib/admission.ts): each minute it recounts and admits. */
export const TICK_SECONDS = 60;
/** Bounds on the estimate for a full queue: not sooner than a few seconds, not later than five minutes. */
export const QUEUE_FULL_RETRY_AFTER = { min: 5, max: 300 } as const;
/**
 * After a DynamoDB or other AWS throttle that outlasted the SDK's own retries (it tried three
 * times with backoff): DynamoDB spreads a hot partition or raises an on-demand table's throughput
 * within seconds, so a short wait, never an estimate.
 */
export const THROTTLED_RETRY_AFTER_SECONDS = 2;

/**
 * A full queue frees a slot when admission takes one of its jobs, and that happens when a running
 * job ends and gives its capacity back (the workflow's Wake step admits at once). How long the
 * pool's jobs run is read from the leases held now: with `n` jobs running, of mean age `a`, a job
 * runs about `2a` and the next of the `n` ends in about `2a / (n + 1)` (evenly spread start times).
 * With nothing running, no end will free a slot: the waiting jobs are being admitted now, or the
 * next tick, which also corrects the waiting count, is when anything changes.
 */
export function queueFullRetryAfter(usage: PoolUsage, now: Date): number {
  const started = Object.values(usage.leases)
    .map((lease) => Date.parse(lease.at))
    .filter((at) => Number.isFinite(at));
  if (started.length === 0) return TICK_SECONDS;
  const meanAgeSeconds =
    started.reduce((sum, at) => sum + Math.max(0, now.getTime() - at), 0) / started.length / 1000;
  const estimate = Math.ceil((2 * meanAgeSeconds) / (started.length + 1));
  return Math.min(QUEUE_FULL_RETRY_AFTER.max, Math.max(QUEUE_FULL_RETRY_AFTER.min, estimate));
}
