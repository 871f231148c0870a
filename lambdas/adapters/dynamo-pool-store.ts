import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Reservation } from '#core/job-record.ts';
import type { AcquireResult, PoolLimits, PoolStore, PoolUsage } from '#core/ports.ts';
import { type PoolItem, parsePoolItem } from './stored-items.ts';

const poolKey = (pool: string) => ({ pk: `POOL#${pool}`, sk: 'POOL' });

/** What a pool item holds before anything was counted in it. */
const EMPTY_POOL = { cpuUsed: 0, memoryUsed: 0, running: 0, waiting: 0, leases: {} } as const;

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException;
}

export interface DynamoPoolStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * The pool items of DESIGN §4: `cpuUsed`, `memoryUsed` (MiB), `running`, `waiting` and the
 * `leases` map (jobId → reservation). Acquire and release are mirror-image conditional
 * updates: a repeated acquire or release fails its condition and changes nothing. acquireAll
 * leases several jobs in the one update, all of them or none; acquire is acquireAll of one.
 */
export class DynamoPoolStore implements PoolStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  /** Pools whose item this process has seen exist; the item is never deleted. */
  readonly #known = new Set<string>();

  constructor(options: DynamoPoolStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  /** Creates the pool item once, so that updates can address its counters and its leases map. */
  async #ensure(pool: string): Promise<void> {
    if (this.#known.has(pool)) return;
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...poolKey(pool), pool, ...EMPTY_POOL },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    this.#known.add(pool);
  }

  async acquire(
    pool: string,
    limits: PoolLimits,
    jobId: string,
    reservation: Reservation,
    at: string,
  ): Promise<AcquireResult> {
    if (await this.acquireAll(pool, limits, [{ jobId, reservation }], at)) return 'acquired';
    const usage = await this.getPool(pool);
    return usage.leases[jobId] ? 'held' : 'no-capacity';
  }

  async acquireAll(
    pool: string,
    limits: PoolLimits,
    jobs: readonly { readonly jobId: string; readonly reservation: Reservation }[],
    at: string,
  ): Promise<boolean> {
    await this.#ensure(pool);
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const setLeases: string[] = [];
    const noLeases: string[] = [];
    let cpu = 0;
    let memory = 0;
    jobs.forEach(({ jobId, reservation }, i) => {
      names[`#j${i}`] = jobId;
      values[`:l${i}`] = { cpuCores: reservation.cpuCores, memoryMiB: reservation.memoryMiB, at };
      setLeases.push(`leases.#j${i} = :l${i}`);
      noLeases.push(`attribute_not_exists(leases.#j${i})`);
      cpu += reservation.cpuCores;
      memory += reservation.memoryMiB;
    });
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          UpdateExpression: `SET cpuUsed = cpuUsed + :c, memoryUsed = memoryUsed + :m, running = running + :k, ${setLeases.join(', ')}`,
          // Each limit against what is used plus all of the jobs, and no job leased already: a
          // retried acquire fails here and changes nothing.
          ConditionExpression: `cpuUsed <= :cpuMax AND memoryUsed <= :memMax AND running <= :jobsMax AND ${noLeases.join(' AND ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ...values,
            ':c': cpu,
            ':m': memory,
            ':k': jobs.length,
            ':cpuMax': limits.cpuCores - cpu,
            ':memMax': limits.memoryMiB - memory,
            ':jobsMax': limits.maxConcurrentJobs - jobs.length,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async release(pool: string, jobId: string, reservation?: Reservation): Promise<boolean> {
    await this.#ensure(pool);
    // Without the amounts, read the lease: the amounts given back must be exactly those taken.
    const lease = reservation ?? (await this.getPool(pool)).leases[jobId];
    if (!lease) return false;
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          UpdateExpression:
            'SET cpuUsed = cpuUsed - :c, memoryUsed = memoryUsed - :m, running = running - :one REMOVE leases.#job',
          // Compared field by field: the local DynamoDB (dynalite) never finds two maps equal.
          ConditionExpression: 'leases.#job.cpuCores = :c AND leases.#job.memoryMiB = :m',
          ExpressionAttributeNames: { '#job': jobId },
          ExpressionAttributeValues: { ':c': lease.cpuCores, ':m': lease.memoryMiB, ':one': 1 },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async reserveQueueSlot(pool: string, maxQueueSize: number): Promise<boolean> {
    await this.#ensure(pool);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          // `reserved` counts every reservation ever made, so a recount can tell whether any
          // happened since it last looked (see setWaiting).
          UpdateExpression: 'SET waiting = waiting + :one, reserved = if_not_exists(reserved, :zero) + :one',
          ConditionExpression: 'waiting < :max',
          ExpressionAttributeValues: { ':one': 1, ':zero': 0, ':max': maxQueueSize },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async freeQueueSlot(pool: string, count = 1): Promise<void> {
    await this.#ensure(pool);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          UpdateExpression: 'SET waiting = waiting - :n',
          ConditionExpression: 'waiting >= :n',
          ExpressionAttributeValues: { ':n': count },
        }),
      );
      return;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    // Fewer than `count` counted: the counter drifted low, and the reconciler recounts it. Until
    // then it stops at zero, as `count` decrements of one would.
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          UpdateExpression: 'SET waiting = :zero',
          ConditionExpression: 'waiting < :n',
          ExpressionAttributeValues: { ':n': count, ':zero': 0 },
        }),
      );
    } catch (error) {
      // Another free or a submit moved the counter between the two: it is at or above `count` now,
      // or already zero; either way this free is not taken again, which can only leave it high.
      if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * Corrects the waiting counter to a recount, never below the jobs that wait or are being
   * submitted. The count cannot see a submit that reserved its slot and has not written its job
   * yet, nor one that lands while the count runs; writing the count over such a reservation
   * would let the queue grow past maxQueueSize. So:
   *  - raising the counter (it was low) is always safe;
   *  - lowering it (a crash left it high) is done only when no slot was reserved since the
   *    previous recount — a tick ago, far longer than a submit takes — and only if the counter
   *    did not move since it was read here. Otherwise this recount only notes where the
   *    reservations stand (`recountMark`), and the next quiet tick lowers the counter.
   */
  async setWaiting(pool: string, waiting: number): Promise<void> {
    await this.#ensure(pool);
    const item = await this.#read(pool);
    const counter = item.waiting;
    const reserved = item.reserved;
    const quiet = item.recountMark === (reserved ?? 0);
    const mark = reserved ?? 0;
    const correct = waiting > counter || (waiting < counter && quiet);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          UpdateExpression: correct
            ? 'SET waiting = :waiting, recountMark = :mark'
            : 'SET recountMark = :mark',
          // Nothing reserved or freed since the read above: the decision is still the right one.
          ConditionExpression: `waiting = :counter AND ${reserved === undefined ? 'attribute_not_exists(reserved)' : 'reserved = :mark'}`,
          ExpressionAttributeValues: {
            ':counter': counter,
            ':mark': mark,
            ...(correct && { ':waiting': waiting }),
          },
        }),
      );
    } catch (error) {
      // The counter moved meanwhile: leave it, the next tick recounts.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async getPool(pool: string): Promise<PoolUsage> {
    const item = await this.#read(pool);
    return {
      pool,
      cpuUsed: item.cpuUsed,
      memoryUsedMiB: item.memoryUsed,
      running: item.running,
      waiting: item.waiting,
      leases: item.leases,
    };
  }

  /** The pool item; a pool never written to reads as empty. */
  async #read(pool: string): Promise<PoolItem> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: poolKey(pool), ConsistentRead: true }),
    );
    return Item ? parsePoolItem(Item) : EMPTY_POOL;
  }
}
