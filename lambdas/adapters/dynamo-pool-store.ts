import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ownerKey } from '#core/fair-share.ts';
import type {
  AcquireResult,
  FairState,
  HeldLease,
  LeaseOptions,
  LeaseRequest,
  LeaseWrite,
  PoolLimits,
  PoolStore,
  PoolUsage,
  QueueCounters,
  QueueSlot,
  SlotOwner,
} from '#core/ports.ts';
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

/** The pool's virtual time at one priority (core/fair-share.ts), a top-level number as the queue counters. */
export function virtualTimeName(priority: number): string {
  return `vtime${priority}`;
}

const VIRTUAL_TIME = /^vtime(\d+)$/;

/** The job priorities (1 to 10): each has its virtual time from the start, so that tags can be taken from it. */
const PRIORITIES = Array.from({ length: 10 }, (_, i) => i + 1);

/** The key of an owner's last tag at a priority in the `lastTag` map. */
const lastTagKey = (priority: number, owner: string) => `${priority}#${ownerKey(owner)}`;

function fairState(item: Record<string, unknown> | undefined, parsed: PoolItem): FairState {
  const virtualTime: Record<number, number> = {};
  for (const [name, value] of Object.entries(item ?? {})) {
    const match = VIRTUAL_TIME.exec(name);
    if (match) virtualTime[Number(match[1])] = Number(value);
  }
  return {
    virtualTime,
    lastTag: parsed.lastTag ?? {},
    running: parsed.ownerRunning ?? {},
    parked: parsed.parked ?? {},
  };
}

/** What a pool item holds before anything was counted in it. */
const EMPTY_POOL = {
  cpuUsed: 0,
  memoryUsed: 0,
  running: 0,
  waiting: 0,
  leases: {},
  ownerRunning: {},
  lastTag: {},
  parked: {},
} as const;

/** Reservation order of a submit's two ways to take a tag (reserveQueueSlot). */
type TagWay = 'continue' | 'fresh';
/** Owners' last way remembered in this process; forgotten all at once past this many. */
const REMEMBERED_WAYS = 10_000;
/** Entries forgotten in one write by pruneFairShare: each costs about 80 characters of expressions. */
const PRUNED_PER_WRITE = 40;
/** Rounds of the two ways before a submit gives up on a pool item that keeps changing under it. */
const RESERVE_ROUNDS = 4;

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
  /** Per pool, priority and owner, the way its last tag was taken here (reserveQueueSlot). */
  readonly #ways = new Map<string, TagWay>();

  constructor(options: DynamoPoolStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  /**
   * Makes the pool item hold every attribute the updates address (its counters, its maps, each
   * priority's virtual time), once per process: one update that sets only what is missing, so an
   * item written by an earlier version takes the attributes added since.
   */
  async #ensure(pool: string): Promise<void> {
    if (this.#known.has(pool)) return;
    const names: Record<string, string> = { '#pool': 'pool' };
    const sets = ['#pool = if_not_exists(#pool, :pool)'];
    for (const [name, empty] of Object.entries(EMPTY_POOL)) {
      names[`#${name}`] = name;
      sets.push(`#${name} = if_not_exists(#${name}, ${typeof empty === 'number' ? ':zero' : ':empty'})`);
    }
    for (const priority of PRIORITIES) {
      names[`#v${priority}`] = virtualTimeName(priority);
      sets.push(`#v${priority} = if_not_exists(#v${priority}, :zero)`);
    }
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: poolKey(pool),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ':pool': pool, ':zero': 0, ':empty': {} },
      }),
    );
    this.#known.add(pool);
  }

  async acquire(
    pool: string,
    limits: PoolLimits,
    job: LeaseRequest,
    at: string,
    options: LeaseOptions = {},
  ): Promise<AcquireResult> {
    const lease = await this.acquireAll(pool, limits, [job], at, options);
    if (lease.leased) return 'acquired';
    // Why it was refused, from the item as the condition found it when the store returns it.
    const usage = lease.found ?? (await this.getPool(pool));
    if (usage.leases[job.jobId]) return 'held';
    const cap = options.maxRunningPerOwner;
    const running = usage.fair.running[ownerKey(job.owner)] ?? 0;
    return cap !== undefined && running >= cap ? 'owner-capped' : 'no-capacity';
  }

  async acquireAll(
    pool: string,
    limits: PoolLimits,
    jobs: readonly LeaseRequest[],
    at: string,
    options: LeaseOptions = {},
  ): Promise<LeaseWrite> {
    await this.#ensure(pool);
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const conditions: string[] = [];
    let cpu = 0;
    let memory = 0;
    const perOwner = new Map<string, number>();
    jobs.forEach(({ jobId, reservation, owner }, i) => {
      const key = ownerKey(owner);
      names[`#j${i}`] = jobId;
      values[`:l${i}`] = { cpuCores: reservation.cpuCores, memoryMiB: reservation.memoryMiB, at, owner: key };
      sets.push(`leases.#j${i} = :l${i}`);
      conditions.push(`attribute_not_exists(leases.#j${i})`);
      cpu += reservation.cpuCores;
      memory += reservation.memoryMiB;
      perOwner.set(key, (perOwner.get(key) ?? 0) + 1);
    });
    // Each owner's count of admitted jobs moves in the same write, and is held under the cap.
    [...perOwner].forEach(([key, count], i) => {
      names[`#o${i}`] = key;
      values[`:n${i}`] = count;
      sets.push(`ownerRunning.#o${i} = if_not_exists(ownerRunning.#o${i}, :zero) + :n${i}`);
      if (options.maxRunningPerOwner !== undefined) {
        values[`:cap${i}`] = options.maxRunningPerOwner - count;
        conditions.push(`(attribute_not_exists(ownerRunning.#o${i}) OR ownerRunning.#o${i} <= :cap${i})`);
      }
    });
    for (const [priority, delta] of Object.entries(options.advanceVirtualTime ?? {})) {
      names[`#v${priority}`] = virtualTimeName(Number(priority));
      values[`:v${priority}`] = delta;
      sets.push(`#v${priority} = #v${priority} + :v${priority}`);
    }
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          UpdateExpression: `SET cpuUsed = cpuUsed + :c, memoryUsed = memoryUsed + :m, running = running + :k, ${sets.join(', ')}`,
          // Each limit against what is used plus all of the jobs, and no job leased already: a
          // retried acquire fails here and changes nothing.
          ConditionExpression: `cpuUsed <= :cpuMax AND memoryUsed <= :memMax AND running <= :jobsMax AND ${conditions.join(' AND ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: {
            ...values,
            ':zero': 0,
            ':c': cpu,
            ':m': memory,
            ':k': jobs.length,
            ':cpuMax': limits.cpuCores - cpu,
            ':memMax': limits.memoryMiB - memory,
            ':jobsMax': limits.maxConcurrentJobs - jobs.length,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { leased: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // DynamoDB returns the item with ReturnValuesOnConditionCheckFailure; a store may not.
      const { Item } = error as ConditionalCheckFailedException;
      return Item ? { leased: false, found: usageOf(pool, storedPool(unmarshall(Item))) } : { leased: false };
    }
  }

  async release(pool: string, jobId: string, held?: HeldLease): Promise<boolean> {
    await this.#ensure(pool);
    if (held) {
      const released = await this.#releaseLease(pool, jobId, {
        ...held.reservation,
        owner: ownerKey(held.owner),
      });
      if (released !== 'mismatch') return released;
    }
    // Without the amounts, or with a lease whose owner is not the one given (a lease taken before
    // leases named their owner): read the lease, since what is given back must be exactly what
    // was taken. Other amounts than the job's are not its lease: nothing is given back.
    const lease = (await this.getPool(pool)).leases[jobId];
    if (!lease) return false;
    if (
      held &&
      (lease.cpuCores !== held.reservation.cpuCores || lease.memoryMiB !== held.reservation.memoryMiB)
    ) {
      return false;
    }
    return (await this.#releaseLease(pool, jobId, lease)) === true;
  }

  /**
   * Removes the lease and gives back its amounts and its owner's count, if it is the lease given
   * (compared field by field: the local DynamoDB, dynalite, never finds two maps equal).
   */
  async #releaseLease(
    pool: string,
    jobId: string,
    lease: { readonly cpuCores: number; readonly memoryMiB: number; readonly owner?: string },
  ): Promise<boolean | 'mismatch'> {
    const owned = lease.owner !== undefined;
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          UpdateExpression: `SET cpuUsed = cpuUsed - :c, memoryUsed = memoryUsed - :m, running = running - :one${
            owned ? ', ownerRunning.#o = if_not_exists(ownerRunning.#o, :one) - :one' : ''
          } REMOVE leases.#job`,
          ConditionExpression: `leases.#job.cpuCores = :c AND leases.#job.memoryMiB = :m AND ${
            owned ? 'leases.#job.#owner = :owner' : 'attribute_not_exists(leases.#job.#owner)'
          }`,
          ExpressionAttributeNames: {
            '#job': jobId,
            '#owner': 'owner',
            ...(owned && { '#o': lease.owner as string }),
          },
          ExpressionAttributeValues: {
            ':c': lease.cpuCores,
            ':m': lease.memoryMiB,
            ':one': 1,
            ...(owned && { ':owner': lease.owner }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return 'mismatch';
      throw error;
    }
  }

  /**
   * One conditional update of the pool item, as before fair share, that also takes the owner's tag:
   * `max(virtual time, owner's last tag) + step`. An update expression has no max, so each way is
   * its own condition: 'continue' (the owner's last tag is at or past the virtual time: it goes on
   * from there) and 'fresh' (no last tag, or one behind: it starts from the virtual time). The way
   * that held for the owner last time in this process is tried first; the other costs a second
   * request. Both refused: the queue is full, or the item moved between the two; a read tells.
   */
  async reserveQueueSlot(
    pool: string,
    maxQueueSize: number,
    priority: number,
    owner: SlotOwner,
  ): Promise<QueueSlot | undefined> {
    await this.#ensure(pool);
    const remembered = `${pool}#${lastTagKey(priority, owner.owner)}`;
    const first = this.#ways.get(remembered) ?? 'continue';
    for (let round = 0; round < RESERVE_ROUNDS; round++) {
      for (const way of first === 'continue'
        ? (['continue', 'fresh'] as const)
        : (['fresh', 'continue'] as const)) {
        const slot = await this.#reserveWay(pool, maxQueueSize, priority, owner, way);
        if (slot === undefined) continue;
        if (this.#ways.size >= REMEMBERED_WAYS) this.#ways.clear();
        this.#ways.set(remembered, way);
        return slot;
      }
      const item = await this.#read(pool);
      if (item.waiting >= maxQueueSize) return undefined;
    }
    throw new Error(
      `pool ${pool}: the queue slot was not reserved in ${RESERVE_ROUNDS} rounds; the pool item kept changing`,
    );
  }

  async #reserveWay(
    pool: string,
    maxQueueSize: number,
    priority: number,
    owner: SlotOwner,
    way: TagWay,
  ): Promise<QueueSlot | undefined> {
    const seq = queueCounterNames(priority).seq;
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          // `reserved` counts every reservation ever made, so a recount can tell whether any
          // happened since it last looked (see setWaiting). The priority's sequence number comes
          // back with the same write: a queued job's position past the counted head is estimated
          // from it (core/queue-position.ts). So does the owner's new last tag, the job's tag.
          UpdateExpression: `SET waiting = waiting + :one, reserved = if_not_exists(reserved, :zero) + :one, #seq = if_not_exists(#seq, :zero) + :one, lastTag.#tag = ${
            way === 'continue' ? 'lastTag.#tag' : '#vtime'
          } + :step`,
          ConditionExpression: `waiting < :max AND ${
            way === 'continue'
              ? 'lastTag.#tag >= #vtime'
              : '(attribute_not_exists(lastTag.#tag) OR lastTag.#tag < #vtime)'
          }`,
          ExpressionAttributeNames: {
            '#seq': seq,
            '#tag': lastTagKey(priority, owner.owner),
            '#vtime': virtualTimeName(priority),
          },
          ExpressionAttributeValues: { ':one': 1, ':zero': 0, ':max': maxQueueSize, ':step': owner.step },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const tags = (Attributes?.lastTag ?? {}) as Record<string, unknown>;
      return {
        queueSeq: Number(Attributes?.[seq]),
        fairTag: Number(tags[lastTagKey(priority, owner.owner)]),
      };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async markParked(pool: string, key: string): Promise<void> {
    await this.#ensure(pool);
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: poolKey(pool),
        UpdateExpression: 'SET parked.#o = if_not_exists(parked.#o, :zero) + :one',
        ExpressionAttributeNames: { '#o': key },
        ExpressionAttributeValues: { ':zero': 0, ':one': 1 },
      }),
    );
  }

  async clearParked(pool: string, key: string, mark: number): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: poolKey(pool),
          UpdateExpression: 'REMOVE parked.#o',
          ConditionExpression: 'parked.#o = :mark',
          ExpressionAttributeNames: { '#o': key },
          ExpressionAttributeValues: { ':mark': mark },
        }),
      );
    } catch (error) {
      // Parked again since it was read: the mark stays, and the next pass looks again.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async pruneFairShare(pool: string, seen: FairState): Promise<void> {
    /** An entry to forget: where it is, and the condition that it is still spent. */
    const spent: {
      readonly remove: string;
      readonly names: Record<string, string>;
      readonly condition: string;
    }[] = [];
    // A last tag at or behind its priority's virtual time gives the owner's next job the same tag
    // as no entry would (max(V, last) = V): forgetting it changes nothing.
    for (const [key, tag] of Object.entries(seen.lastTag)) {
      const priority = Number(key.slice(0, key.indexOf('#')));
      if (tag > (seen.virtualTime[priority] ?? 0)) continue;
      spent.push({
        remove: 'lastTag.#k',
        names: { '#k': key, '#v': virtualTimeName(priority) },
        condition: '(attribute_not_exists(lastTag.#k) OR lastTag.#k <= #v)',
      });
    }
    for (const [key, running] of Object.entries(seen.running)) {
      if (running > 0) continue;
      spent.push({
        remove: 'ownerRunning.#k',
        names: { '#k': key },
        condition: '(attribute_not_exists(ownerRunning.#k) OR ownerRunning.#k <= :zero)',
      });
    }
    // A few dozen entries a write: an expression may not pass 4 KB.
    for (let from = 0; from < spent.length; from += PRUNED_PER_WRITE) {
      const names: Record<string, string> = {};
      const removes: string[] = [];
      const conditions: string[] = [];
      spent.slice(from, from + PRUNED_PER_WRITE).forEach((entry, i) => {
        // Each entry's placeholders numbered apart: `#k` → `#k3`, `#v` → `#v3`.
        const numbered = (text: string) => text.replace(/#([kv])\b/g, `#$1${i}`);
        for (const [name, value] of Object.entries(entry.names)) names[numbered(name)] = value;
        removes.push(numbered(entry.remove));
        conditions.push(numbered(entry.condition));
      });
      try {
        await this.#client.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: poolKey(pool),
            UpdateExpression: `REMOVE ${removes.join(', ')}`,
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeNames: names,
            ...(conditions.some((c) => c.includes(':zero')) && { ExpressionAttributeValues: { ':zero': 0 } }),
          }),
        );
      } catch (error) {
        // One of them moved on meanwhile (a submit, a lease): the next tick prunes again.
        if (!isConditionFailure(error)) throw error;
      }
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
    return usageOf(pool, await this.#read(pool));
  }

  async #read(pool: string): Promise<StoredPool> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: poolKey(pool), ConsistentRead: true }),
    );
    return storedPool(Item);
  }
}

type StoredPool = PoolItem & { readonly queue: QueueCounters; readonly fair: FairState };

/** The pool item, its queue counters and fair-share state; a pool never written to reads as empty. */
function storedPool(Item: Record<string, unknown> | undefined): StoredPool {
  const parsed = Item ? parsePoolItem(Item) : EMPTY_POOL;
  return { ...parsed, queue: queueCounters(Item), fair: fairState(Item, parsed) };
}

function usageOf(pool: string, item: StoredPool): PoolUsage {
  return {
    pool,
    cpuUsed: item.cpuUsed,
    memoryUsedMiB: item.memoryUsed,
    running: item.running,
    waiting: item.waiting,
    leases: item.leases,
    queue: item.queue,
    fair: item.fair,
  };
}
