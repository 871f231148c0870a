import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoPoolStore } from '#adapters/dynamo-pool-store.ts';
import { ownerKey } from '#core/fair-share.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

/**
 * The pool item's fair-share entries stay bounded (docs/fair-share.md): what no longer changes a
 * tag or a count is forgotten by the tick, in writes whose expressions stay within DynamoDB's limits.
 */

let db: TestDatabase;
let pools: DynamoPoolStore;
/** The expressions of every request the store sent: DynamoDB refuses one above 4 KB, dynalite does not. */
const expressions: string[] = [];

beforeAll(async () => {
  db = await startTestDatabase();
  const client = db.documentClient;
  const watched = Object.create(client, {
    send: {
      value: (command: { input: { UpdateExpression?: string; ConditionExpression?: string } }) => {
        expressions.push(command.input.UpdateExpression ?? '', command.input.ConditionExpression ?? '');
        return client.send(command as never);
      },
    },
  });
  pools = new DynamoPoolStore({ client: watched, tableName: db.tableName });
});

afterAll(async () => {
  await db.stop();
});

const LIMITS = { cpuCores: 1000, memoryMiB: 1_000_000, maxConcurrentJobs: 100 };

describe('DynamoPoolStore: fair-share state', () => {
  it('forgets the last tags of 90 owners once the virtual time passed them, and the owners with nothing admitted', async () => {
    const owners = Array.from({ length: 90 }, (_, i) => `jwt|owner-${i}`);
    const tags: number[] = [];
    for (const owner of owners) {
      const slot = await pools.reserveQueueSlot('wide', 1000, 5, { owner, step: 10_000 });
      tags.push(slot?.fairTag ?? -1);
    }
    // Each a newcomer: its tag is the virtual time (0) plus its step.
    expect(new Set(tags)).toEqual(new Set([10_000]));
    const lease = (i: number) => ({
      jobId: `job-${i}`,
      reservation: { cpuCores: 1, memoryMiB: 1 },
      owner: owners[i] as string,
      priority: 5,
      fairTag: 10_000,
    });
    expect(
      await pools.acquireAll('wide', LIMITS, [0, 1, 2].map(lease), 'now', {
        advanceVirtualTime: { 5: 10_000 },
      }),
    ).toEqual({ leased: true });
    expect(
      await pools.release('wide', 'job-0', { reservation: lease(0).reservation, owner: owners[0] as string }),
    ).toBe(true);
    const before = (await pools.getPool('wide')).fair;
    expect(Object.keys(before.lastTag)).toHaveLength(90);
    expect(before.running).toEqual({
      [ownerKey(owners[0] as string)]: 0,
      [ownerKey(owners[1] as string)]: 1,
      [ownerKey(owners[2] as string)]: 1,
    });

    expressions.length = 0;
    await pools.pruneFairShare('wide', before);
    // 91 entries to forget, in writes whose expressions each stay under DynamoDB's 4 KB.
    const prunes = expressions.filter((e) => e.startsWith('REMOVE'));
    expect(prunes.length).toBeGreaterThanOrEqual(3);
    for (const expression of expressions)
      expect(new TextEncoder().encode(expression).length).toBeLessThan(4096);

    const after = (await pools.getPool('wide')).fair;
    expect(after.lastTag).toEqual({});
    expect(after.running).toEqual({ [ownerKey(owners[1] as string)]: 1, [ownerKey(owners[2] as string)]: 1 });
    // Forgetting changed nothing: the next job of an owner takes the tag it would have taken.
    expect(
      await pools.reserveQueueSlot('wide', 1000, 5, { owner: owners[5] as string, step: 10_000 }),
    ).toMatchObject({
      fairTag: 20_000,
    });
  });

  it('keeps an entry a submit moved on between the read and the prune', async () => {
    const owner = 'jwt|busy';
    await pools.reserveQueueSlot('moving', 1000, 5, { owner, step: 10_000 });
    await pools.acquire(
      'moving',
      LIMITS,
      { jobId: 'job-m', reservation: { cpuCores: 1, memoryMiB: 1 }, owner, priority: 5, fairTag: 10_000 },
      'now',
      {
        advanceVirtualTime: { 5: 10_000 },
      },
    );
    const seen = (await pools.getPool('moving')).fair;
    // A second job: the owner's last tag is at the virtual time, so it goes on from there.
    expect(await pools.reserveQueueSlot('moving', 1000, 5, { owner, step: 10_000 })).toMatchObject({
      fairTag: 20_000,
    });

    await pools.pruneFairShare('moving', seen);

    expect((await pools.getPool('moving')).fair.lastTag).toEqual({ [`5#${ownerKey(owner)}`]: 20_000 });
  });
});
