import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { DynamoPoolStore } from '#adapters/dynamo-pool-store.ts';
import { documentClient } from '#adapters/table-stores.ts';
import { TransitionConflict } from '#core/errors.ts';
import type { PoolLimits } from '#core/ports.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { jobRecord } from '../support/job-record.ts';
import { createMotoTable, motoClientConfig } from '../support/moto.ts';

/**
 * A write refused by its condition tells the stores why from the item it carries back
 * (ReturnValuesOnConditionCheckFailure: ALL_OLD), so a refused move or lease costs one request,
 * not a second read: on moto, which implements the parameter from DynamoDB's protocol, and on
 * dynalite, which Libra extends to answer alike (local/dynalite-condition-items.ts).
 */

const LIMITS: PoolLimits = { cpuCores: 4, memoryMiB: 16_384, maxConcurrentJobs: 1 };

interface Target {
  readonly client: DynamoDBClient;
  readonly tableName: string;
}

let counters = 0;

/** The stores on `target`, and the number of requests their client has sent. */
function storesOn({ client, tableName }: Target) {
  let sent = 0;
  const doc = documentClient(client);
  doc.middlewareStack.add(
    (next) => async (args) => {
      sent++;
      return next(args);
    },
    { step: 'initialize', name: `countRequests${counters++}` },
  );
  return {
    jobs: new DynamoJobStore({ client: doc, tableName, retentionDays: 30 }),
    pools: new DynamoPoolStore({ client: doc, tableName }),
    requests: () => sent,
  };
}

async function refusalOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
    return 'not refused';
  } catch (error) {
    return error instanceof TransitionConflict ? error.actualStatus : error;
  }
}

const targets: Record<string, () => Promise<Target & { stop(): Promise<void> }>> = {
  dynalite: async () => {
    const db: TestDatabase = await startTestDatabase();
    return { client: db.client, tableName: db.tableName, stop: () => db.stop() };
  },
  moto: async () => {
    const client = new DynamoDBClient(motoClientConfig());
    return { client, tableName: await createMotoTable(), stop: async () => client.destroy() };
  },
};

describe.each(Object.keys(targets))('a refused write on %s', (name) => {
  let target: Target & { stop(): Promise<void> };

  beforeAll(async () => {
    target = await (targets[name] as () => Promise<Target & { stop(): Promise<void> }>)();
  });

  afterAll(async () => {
    await target.stop();
  });

  it('tells a refused move where the job stands, in the one request of the move', async () => {
    const { jobs, requests } = storesOn(target);
    const job = jobRecord();
    await jobs.createJob(job);
    await jobs.transition(job.jobId, ['QUEUED'], 'SCHEDULED', { at: new Date().toISOString() });

    const before = requests();
    const refused = await refusalOf(() =>
      jobs.transition(job.jobId, ['QUEUED'], 'SCHEDULED', { at: new Date().toISOString() }),
    );

    expect(refused).toBe('SCHEDULED');
    expect(requests() - before).toBe(1);
  });

  it('reads a job that is not there: the refusal carries no item, and the read finds none', async () => {
    const { jobs, requests } = storesOn(target);
    const before = requests();
    const refused = await refusalOf(() =>
      jobs.transition(jobRecord().jobId, ['QUEUED'], 'SCHEDULED', { at: new Date().toISOString() }),
    );

    expect(refused).toBeUndefined();
    expect(requests() - before).toBe(2);
  });

  it('tells a refused lease why (held, no capacity, held in a wave, owner capped), in the one request of the lease', async () => {
    const { pools, requests } = storesOn(target);
    const pool = `refusals-${Date.now()}`;
    const at = new Date().toISOString();
    const [a, b] = [jobRecord(), jobRecord()];
    expect(await pools.acquire(pool, LIMITS, a, at)).toBe('acquired');

    let before = requests();
    expect(await pools.acquire(pool, LIMITS, a, at)).toBe('held');
    expect(requests() - before).toBe(1);

    before = requests();
    expect(await pools.acquire(pool, LIMITS, b, at)).toBe('no-capacity');
    expect(requests() - before).toBe(1);

    before = requests();
    expect(await pools.acquireAll(pool, { ...LIMITS, maxConcurrentJobs: 3 }, [a, b], at)).toMatchObject({
      leased: false,
      found: { running: 1, leases: { [a.jobId]: expect.anything() } },
    });
    expect(requests() - before).toBe(1);

    before = requests();
    const roomy = { ...LIMITS, maxConcurrentJobs: 5 };
    expect(await pools.acquire(pool, roomy, b, at, { maxRunningPerOwner: 1 })).toBe('owner-capped');
    expect(requests() - before).toBe(1);
  });
});
