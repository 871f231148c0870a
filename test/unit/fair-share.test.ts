import { describe, expect, it } from 'vitest';
import { poolSchema } from '#core/config.ts';
import { formatTag, ownerKey, ownerWeight, TAG_UNIT, tagOfWaitKey, tagStep } from '#core/fair-share.ts';
import { waitKey } from '#core/job-record.ts';

const ROLE = 'arn:aws:iam::111122223333:role/etl';
const SESSION = 'arn:aws:sts::111122223333:assumed-role/etl/nightly';

describe('fair share: weights and tags', () => {
  const pool = poolSchema.parse({ ownerWeights: { [ROLE]: 4, 'jwt|carol': 0.5 } });

  it('weighs an owner by its principal, a role naming its sessions, others 1', () => {
    expect(ownerWeight(pool, 'jwt|carol')).toBe(0.5);
    expect(ownerWeight(pool, SESSION)).toBe(4);
    expect(ownerWeight(pool, 'jwt|dave')).toBe(1);
  });

  it('steps an owner tag by TAG_UNIT / weight, at least 1', () => {
    expect(tagStep(pool, 'jwt|dave')).toBe(TAG_UNIT);
    expect(tagStep(pool, SESSION)).toBe(TAG_UNIT / 4);
    expect(tagStep(pool, 'jwt|carol')).toBe(TAG_UNIT * 2);
    expect(tagStep(poolSchema.parse({ ownerWeights: { x: 100 } }), 'x')).toBe(100);
  });

  it('keys owners by a short digest of the principal, the same for the same owner', () => {
    expect(ownerKey(SESSION)).toMatch(/^[\w-]{16}$/);
    expect(ownerKey(SESSION)).toBe(ownerKey(SESSION));
    expect(ownerKey(SESSION)).not.toBe(ownerKey(ROLE));
  });

  it('orders waiting keys by priority, then tag, then submit time; keys without a tag first in their priority', () => {
    const job = (priority: number, fairTag: number | undefined, submittedAt: string, jobId: string) => ({
      priority,
      submittedAt,
      jobId,
      ...(fairTag !== undefined && { fairTag }),
    });
    const keys = [
      waitKey(job(5, 30_000, '2026-01-01T00:00:00.000Z', 'job-c')),
      waitKey(job(5, 10_000, '2026-01-01T00:00:03.000Z', 'job-b')),
      waitKey(job(5, undefined, '2026-01-01T00:00:09.000Z', 'job-old')),
      waitKey(job(7, 90_000, '2026-01-01T00:00:05.000Z', 'job-high')),
      waitKey(job(5, 10_000, '2026-01-01T00:00:01.000Z', 'job-a')),
    ];
    expect([...keys].sort().map((key) => key.split('#').at(-1))).toEqual([
      'job-high',
      'job-old',
      'job-a',
      'job-b',
      'job-c',
    ]);
    expect(keys.map(tagOfWaitKey)).toEqual([30_000, 10_000, undefined, 90_000, 10_000]);
    expect(formatTag(2 ** 52)).toBe(`v${String(2 ** 52).padStart(16, '0')}`);
  });
});
