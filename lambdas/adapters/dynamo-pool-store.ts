import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Reservation } from '#core/job-record.ts';
import type { AcquireResult, PoolLimits, PoolStore, PoolUsage, QueueCounters } from '#core/ports.ts';
import { type PoolItem, parsePoolItem } from './stored-items.ts';

const poolKey = (pool: string) => ({ pk: `POOL#${pool}`, sk: 'POOL' });

/**
 * The pool item's queue counters of one priority (top-level attributes, so that an item written
 * before they existed takes them by `if_not_exists`): `queueSeq<p>` counts the queue slots ever
 * reserved at that priority — a submit's value is its job's sequence number — and `queueLeft<p>`
 * the jobs of that priority that left the queue (admitted, cancelled, timed out, or a reservation
 * that never became a job). Their difference is the number waiting at that priority.
 */
export function queueCounterNames(priority: number): { readonly seq: string; readonly left: string } {
  return { seq: `queueSeq${priority}`, left: `queueLeft${priority}` };
}

const COUNTER = /^queue(Seq|Left)(\d+)$/;

/** The queue counters on a pool item, by priority. */
function queueCounters(item: Record<string, unknown> | undefined): QueueCounters {
  const seq: Record<number, number> = {};
  const left: Record<number, number> = {};
  for (const [name, value] of Object.entries(item ?? {})) {
    const match = COUNTER.exec(name);
    if (!match) continue;
    (match[1] === 'Seq' ? seq : left)[Number(match[2])] = Number(value);
  }
  return { seq, left };
}

/** `SET` clauses adding each priority's count of leavers to its `queueLeft<p>`, with their names and values. */
function leftCounts(priorities: readonly number[]): {
  sets: string[];
  names: Record<string, string>;
  values: Record<string, number>;
} {
  const byPriority = new Map<number, number>();
  for (const priority of priorities) byPriority.set(priority, (byPriority.get(priority) ?? 0) + 1);
  const sets: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, number> = {};
  for (const [priority, count] of byPriority) {
    names[`#left${priority}`] = queueCounterNames(priority).left;
    values[`:left${priority}`] = count;
    sets.push(`#left${priority} = if_not_exists(#left${priority}, :zero) + :left${priority}`);
  }
  if (sets.length > 0) values[':zero'] = 0;
  return { sets, names, values };
}

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

  async reserveQueueSlot(pool: string, maxQueueSize: number, priority: number): Promise<number | undefined> {
    await this.#ensure(pool);
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          // `reserved` counts every reservation ever made, so a recount can tell whether any
          // happened since it last looked (see setWaiting). The priority's sequence number comes
          // back with the same write: a queued job's position past the counted head is estimated
          // from it (core/queue-position.ts).
          UpdateExpression:
            'SET waiting = waiting + :one, reserved = if_not_exists(reserved, :zero) + :one, #seq = if_not_exists(#seq, :zero) + :one',
          ConditionExpression: 'waiting < :max',
          ExpressionAttributeNames: { '#seq': queueCounterNames(priority).seq },
          ExpressionAttributeValues: { ':one': 1, ':zero': 0, ':max': maxQueueSize },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(Attributes?.[queueCounterNames(priority).seq]);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async freeQueueSlot(pool: string, priorities: readonly number[]): Promise<void> {
    if (priorities.length === 0) return;
    await this.#ensure(pool);
    const count = priorities.length;
    // The leavers' priorities are counted in the same write as the waiting counter.
    const left = leftCounts(priorities);
    const leftSets = left.sets.map((set) => `, ${set}`).join('');
    const withLeft = (values: Record<string, unknown>) => ({
      ...(left.sets.length > 0 && { ExpressionAttributeNames: left.names }),
      ExpressionAttributeValues: { ...values, ...left.values },
    });
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          UpdateExpression: `SET waiting = waiting - :n${leftSets}`,
          ConditionExpression: 'waiting >= :n',
          ...withLeft({ ':n': count }),
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
          UpdateExpression: `SET waiting = :zero${leftSets}`,
          ConditionExpression: 'waiting < :n',
          ...withLeft({ ':n': count, ':zero': 0 }),
        }),
      );
      return;
    } catch (error) {
      // Another free or a submit moved the counter between the two: it is at or above `count` now,
      // or already zero; either way this free is not taken again, which can only leave it high.
      if (!isConditionFailure(error)) throw error;
    }
    // The jobs did leave, whatever the waiting counter says: their priorities are counted still.
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: poolKey(pool),
        UpdateExpression: `SET ${left.sets.join(', ')}`,
        ...withLeft({}),
      }),
    );
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
   * `byPriority` (the same count by priority) sets each priority's `queueLeft<p>` to its
   * `queueSeq<p>` less the jobs of it that wait, in the same write, so that the position estimates
   * (core/queue-position.ts) recover from a crash between a job's move and its counter update. A
   * submit that reserved before the read here but is not in the count yet leaves its priority's
   * estimates one low until the next recount (docs/queue-position.md).
   */
  async setWaiting(
    pool: string,
    waiting: number,
    byPriority: Readonly<Record<number, number>> = {},
  ): Promise<void> {
    await this.#ensure(pool);
    const item = await this.#read(pool);
    const counter = item.waiting;
    const reserved = item.reserved;
    const quiet = item.recountMark === (reserved ?? 0);
    const mark = reserved ?? 0;
    const correct = waiting > counter || (waiting < counter && quiet);
    const sets = [...(correct ? ['waiting = :waiting'] : []), 'recountMark = :mark'];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const { seq } = item.queue;
    const priorities = new Set([...Object.keys(seq), ...Object.keys(byPriority)].map(Number));
    for (const priority of priorities) {
      names[`#left${priority}`] = queueCounterNames(priority).left;
      values[`:left${priority}`] = (seq[priority] ?? 0) - (byPriority[priority] ?? 0);
      sets.push(`#left${priority} = :left${priority}`);
    }
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          UpdateExpression: `SET ${sets.join(', ')}`,
          // Nothing reserved or freed since the read above: the decision is still the right one.
          ConditionExpression: `waiting = :counter AND ${reserved === undefined ? 'attribute_not_exists(reserved)' : 'reserved = :mark'}`,
          ...(priorities.size > 0 && { ExpressionAttributeNames: names }),
          ExpressionAttributeValues: {
            ...values,
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
      queue: item.queue,
    };
  }

  /** The pool item and its queue counters; a pool never written to reads as empty. */
  async #read(pool: string): Promise<PoolItem & { readonly queue: QueueCounters }> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: poolKey(pool), ConsistentRead: true }),
    );
    return { ...(Item ? parsePoolItem(Item) : EMPTY_POOL), queue: queueCounters(Item) };
  }
}
