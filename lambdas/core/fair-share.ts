import { createHash } from 'node:crypto';
import { type PoolConfig, principalMatches } from './config.ts';

/**
 * Fair share inside a pool (docs/fair-share.md): start-time fair queuing with the fairness in the
 * waiting index's sort key. At submit a job takes a virtual start tag,
 * `max(pool's virtual time at its priority, its owner's last tag there) + 1/weight`; the index
 * sorts by (priority, tag, submit time), so admission still reads only the head. A lease moves the
 * pool's virtual time at the job's priority up to the job's tag, in the write it already makes.
 *
 * Tags are whole numbers: an owner of weight w advances by TAG_UNIT / w per job, so that the
 * arithmetic DynamoDB does in update expressions (`a + b`) stays exact.
 */

/** What one job of an owner of weight 1 adds to its owner's tag. */
export const TAG_UNIT = 10_000;
/** Digits of a tag in the waiting key: tags stay below 2^53 < 10^16. */
const TAG_DIGITS = 16;

/** The weight of `owner` in `pool`: the first configured principal that names it, else 1. */
export function ownerWeight(pool: Pick<PoolConfig, 'ownerWeights'>, owner: string): number {
  if (Object.hasOwn(pool.ownerWeights, owner)) return pool.ownerWeights[owner] as number;
  for (const [principal, weight] of Object.entries(pool.ownerWeights)) {
    if (principalMatches(principal, owner)) return weight;
  }
  return 1;
}

/** How far one job of `owner` moves its tag: TAG_UNIT / weight, at least 1. */
export function tagStep(pool: Pick<PoolConfig, 'ownerWeights'>, owner: string): number {
  return Math.max(1, Math.round(TAG_UNIT / ownerWeight(pool, owner)));
}

/**
 * The owner as the pool item's maps key it: a short digest, so that an owner's entries cost the
 * same few bytes whatever the length of its principal (an ARN, a JWT subject).
 */
export function ownerKey(owner: string): string {
  return createHash('sha256').update(owner).digest('base64url').slice(0, 16);
}

/**
 * A tag in the waiting key, fixed width so that string order is number order. The `v` puts the
 * tagged keys after the untagged ones of the same priority (`<priority>#<submittedAt>#…`, which
 * start with a digit): jobs queued before tags existed keep their place ahead of later ones.
 */
export function formatTag(tag: number): string {
  return `v${String(tag).padStart(TAG_DIGITS, '0')}`;
}

/** The tag in a waiting key, undefined for a key written before tags existed. */
export function tagOfWaitKey(key: string): number | undefined {
  const match = /^\d{2}#v(\d+)#/.exec(key);
  return match ? Number(match[1]) : undefined;
}

/** What a pool needs to know of an owner when it leases one of its jobs. */
export interface OwnerLease {
  readonly owner: string;
  /** The job's tag: the pool's virtual time at its priority moves up to it. */
  readonly fairTag?: number;
  readonly priority: number;
}
