import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { RunCost } from '#core/cost.ts';
import { TransitionConflict, ValidationError } from '#core/errors.ts';
import { ownerKey, tagOfWaitKey } from '#core/fair-share.ts';
import { JOB_ID_PATTERN, type JobEvent, type JobRecord, waitKey } from '#core/job-record.ts';
import { type JobStatus, LIFECYCLE } from '#core/job-states.ts';
import type {
  CountedAhead,
  IdempotencyClaim,
  JobPage,
  JobStore,
  ListJobsQuery,
  RunCostLog,
  RunCostRecorded,
  RunStateChange,
  StartAttempts,
  StartFailure,
  TransitionChange,
  WaitingJob,
  WaitingJobs,
  WaitingPage,
  WebhookLog,
} from '#core/ports.ts';
import type { Progress, ProgressEntries, ProgressStore } from '#core/progress.ts';
import type {
  DueWarningPage,
  DurationWarningEvent,
  DurationWarningStore,
} from '#core/use-cases/duration-warnings.ts';
import { moveUpdate, updateExpression } from './job-move-update.ts';
import {
  parseIdempotencyItem,
  parseJobEvent,
  parseJobRecord,
  parseJobSummary,
  parseWaitingJob,
} from './stored-items.ts';
import { JOB_TABLE } from './table-definition.ts';

const META = 'META';
const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/**
 * What one list request may read before it answers with what it found: a filtered listing reads
 * on until its page is full or the index ends, and this bounds the cost of a filter that matches
 * little (the filter runs after the read, so DynamoDB bills every item evaluated).
 */
export interface ListReadBudget {
  /** Query calls. */
  readonly queries: number;
  /** Index items evaluated, matching or not. */
  readonly items: number;
}

export const LIST_READ_BUDGET: ListReadBudget = { queries: 10, items: 1000 };
/**
 * The least a filtered listing's first Query reads: as many items as the largest page, which an
 * unfiltered listing may read too. A filter that matches one job in a hundred then fills a small
 * page in one or two round trips rather than creeping up on it.
 */
const FILTERED_FIRST_READ = 100;
/** How much more a filtered listing reads in its next Query when the last one matched nothing. */
const EMPTY_READ_GROWTH = 4;
/** Margin on the match rate seen so far, so the next Query is likely the last. */
const MATCH_RATE_MARGIN = 1.25;

const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: META });

/**
 * The waiting index's partition of an owner's jobs parked in a pool while the owner is at the
 * pool's maxRunningPerOwner (docs/fair-share.md). Pool names never hold `#`.
 */
export const parkedPartition = (pool: string, owner: string) => `${pool}#parked#${owner}`;

/**
 * `IDEM#<owner>#<key>` with `%` and `#` escaped in the owner: JWT subjects may hold any
 * character and keys may hold `#`, so unescaped, owner `a#b` with key `c` and owner `a` with
 * key `b#c` would share one item, and one caller would be handed the other's job.
 */
const idempotencyKey = (owner: string, key: string) => ({
  pk: `IDEM#${owner.replaceAll('%', '%25').replaceAll('#', '%23')}#${key}`,
  sk: 'IDEM',
});

/**
 * A caller-keyed map (tags, Spark conf) as the marshaller should write it. The SDK takes an
 * object for a map only when `value.constructor.name` is 'Object', so a caller's own key
 * `constructor` made the put throw; a Map is written as the same M attribute and read back
 * as a plain object.
 */
function asMapAttribute(record: Readonly<Record<string, string>>): Map<string, string> {
  return new Map(Object.entries(record));
}

/** Makes a conditional write: true when it was made, false when its condition did not hold. */
async function conditionally(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** The kept request, its caller-keyed maps (tags, Spark conf) written as maps, as the record's own are. */
function requestAttribute(request: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { tags, sparkConf, ...rest } = request;
  return {
    ...rest,
    ...(tags !== undefined && { tags: asMapAttribute(tags as Record<string, string>) }),
    ...(sparkConf !== undefined && { sparkConf: asMapAttribute(sparkConf as Record<string, string>) }),
  };
}

/** The TTL of an item written at `fromIso` and kept `retentionSeconds`, in epoch seconds. */
export function expiresAt(fromIso: string, retentionSeconds: number): number {
  return Math.floor(Date.parse(fromIso) / 1000) + retentionSeconds;
}

/**
 * The job item as the store writes it: createJob writes a QUEUED record, with the waiting
 * index's keys; a record in any other status carries none, as transition leaves it.
 */
export function jobItem(job: JobRecord, retentionSeconds: number): Record<string, unknown> {
  return {
    ...job,
    tags: asMapAttribute(job.tags),
    spec: { ...job.spec, sparkConf: asMapAttribute(job.spec.sparkConf) },
    ...(job.request !== undefined && { request: requestAttribute(job.request) }),
    ...jobKey(job.jobId),
    ownerSort: `${job.submittedAt}#${job.jobId}`,
    ...(job.status === 'QUEUED' && {
      waitPool: job.pool,
      waitKey: waitKey(job),
    }),
    // With warnAt, which only a running job has, the key of the duration warnings' sparse index.
    ...(job.spec.warnAfterMinutes !== undefined && { warnPool: job.pool }),
    expiresAt: expiresAt(job.submittedAt, retentionSeconds),
  };
}

/** A history item as the store writes it; `sequence` orders items written in one millisecond. */
export function eventItem(
  event: JobEvent,
  sequence: number,
  retentionSeconds: number,
): Record<string, unknown> {
  return {
    pk: `JOB#${event.jobId}`,
    // Time, then this process's sequence for order within a millisecond, then a random
    // part: two processes writing the same job's history in one millisecond never collide.
    sk: `EVT#${event.at}#${String(sequence).padStart(6, '0')}#${randomUUID().slice(0, 8)}`,
    ...event,
    expiresAt: expiresAt(event.at, retentionSeconds),
  };
}

export interface DynamoJobStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly retentionDays: number;
  /** LIST_READ_BUDGET unless given. */
  readonly listReadBudget?: ListReadBudget;
}

/** Orders history items written in the same millisecond by this process. */
let eventSequence = 0;

export class DynamoJobStore
  implements JobStore, WaitingJobs, WebhookLog, StartAttempts, DurationWarningStore, RunCostLog, ProgressStore
{
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionSeconds: number;
  readonly #listReadBudget: ListReadBudget;

  constructor(options: DynamoJobStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#retentionSeconds = options.retentionDays * 24 * 60 * 60;
    this.#listReadBudget = options.listReadBudget ?? LIST_READ_BUDGET;
  }

  async createJob(job: JobRecord): Promise<'created' | 'exists'> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: jobItem(job, this.#retentionSeconds),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'exists';
      throw error;
    }
    return 'created';
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: jobKey(jobId), ConsistentRead: true }),
    );
    return Item ? parseJobRecord(Item) : undefined;
  }

  async transition(
    jobId: string,
    from: readonly JobStatus[],
    to: JobStatus,
    change: TransitionChange,
  ): Promise<JobRecord> {
    const spec = LIFECYCLE[to];
    // A source the lifecycle forbids is never part of the condition: a job standing there is
    // refused as any job that moved first is.
    const allowed = from.filter((status) => spec.from.includes(status));
    if (allowed.length === 0) {
      throw new TransitionConflict(jobId, from, (await this.getJob(jobId))?.status);
    }
    const { sets, removes, names } = moveUpdate(to, ':at', change.reason !== undefined);
    const values: Record<string, unknown> = { ':to': to, ':at': change.at };
    if (change.reason) values[':reason'] = change.reason;
    for (const [i, [attribute, value]] of Object.entries(change.set ?? {}).entries()) {
      names[`#s${i}`] = attribute;
      values[`:s${i}`] = value;
      sets.push(`#s${i} = :s${i}`);
    }
    if (to !== 'QUEUED') removes.push('waitPool', 'waitKey');

    const sources = allowed.map((status, i) => {
      values[`:from${i}`] = status;
      return `:from${i}`;
    });

    let updated: Record<string, unknown>;
    try {
      const result = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: jobKey(jobId),
          UpdateExpression: updateExpression(sets, removes),
          ConditionExpression: `attribute_exists(pk) AND #status IN (${sources.join(', ')})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      updated = result.Attributes ?? {};
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        // Where the job stands, from the item as the condition found it when the store returns
        // it (DynamoDB does; a missing job returns none), else from a read.
        const current = error.Item ? parseJobRecord(unmarshall(error.Item)) : await this.getJob(jobId);
        throw new TransitionConflict(jobId, from, current?.status);
      }
      throw error;
    }
    await this.#putEvent({
      ...change.event,
      jobId,
      at: change.at,
      type: 'STATUS',
      status: to,
      ...(allowed.length === 1 && { from: allowed[0] }),
      ...(change.reason && { reason: change.reason }),
    });
    // Parsed once the move's history is written: a malformed item fails the caller, but the move
    // it made is recorded like any other.
    return parseJobRecord(updated);
  }

  async #putEvent(event: JobEvent): Promise<void> {
    eventSequence = (eventSequence + 1) % 1_000_000;
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: eventItem(event, eventSequence, this.#retentionSeconds),
      }),
    );
  }

  async listEvents(jobId: string): Promise<JobEvent[]> {
    const events: JobEvent[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :evt)',
          ExpressionAttributeValues: { ':pk': `JOB#${jobId}`, ':evt': 'EVT#' },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) events.push(parseJobEvent(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return events;
  }

  async listJobs(query: ListJobsQuery): Promise<JobPage> {
    const index = JOB_TABLE.indexes.owner;
    const names: Record<string, string> = { '#owner': index.partitionKey };
    const values: Record<string, unknown> = { ':owner': query.owner };
    const filters: string[] = [];
    if (query.status) {
      names['#status'] = 'status';
      values[':status'] = query.status;
      filters.push('#status = :status');
    }
    if (query.pool) {
      names['#pool'] = 'pool';
      values[':pool'] = query.pool;
      filters.push('#pool = :pool');
    }
    if (query.tag) {
      names['#tags'] = 'tags';
      names['#tagKey'] = query.tag.key;
      if (query.tag.value === undefined) {
        filters.push('attribute_exists(#tags.#tagKey)');
      } else {
        values[':tagValue'] = query.tag.value;
        filters.push('#tags.#tagKey = :tagValue');
      }
    }

    // One item past the page is read when it can be: finding it is what says a next page exists.
    const wanted = query.limit + 1;
    const budget = this.#listReadBudget;
    const found: Record<string, unknown>[] = [];
    let startKey = query.nextToken === undefined ? undefined : decodeToken(query.nextToken, query.owner);
    let evaluated = 0;
    let lastRead = 0;
    for (let call = 0; call < budget.queries && found.length < wanted && evaluated < budget.items; call++) {
      lastRead = nextReadSize({
        stillWanted: wanted - found.length,
        filtered: filters.length > 0,
        matched: found.length,
        evaluated,
        lastRead,
        budgetLeft: budget.items - evaluated,
      });
      const input: QueryCommandInput = {
        TableName: this.#table,
        IndexName: index.indexName,
        KeyConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
        Limit: lastRead,
        ExclusiveStartKey: startKey,
        ...(filters.length > 0 && { FilterExpression: filters.join(' AND ') }),
      };
      const page = await this.#client.send(new QueryCommand(input));
      found.push(...(page.Items ?? []));
      evaluated += page.ScannedCount ?? page.Items?.length ?? 0;
      startKey = page.LastEvaluatedKey;
      if (!startKey) break;
    }
    const jobs = found.slice(0, query.limit);
    // A match past the page: the next page starts after the page's last job. Otherwise, the index
    // not ended means the budget ran out first: the next page starts where the reading stopped.
    const resumeAt = found.length > query.limit ? ownerIndexKey(jobs[jobs.length - 1] ?? {}) : startKey;
    return { jobs: jobs.map(parseJobSummary), ...(resumeAt && { nextToken: encodeToken(resumeAt) }) };
  }

  async queuePosition(job: JobRecord, limit: number): Promise<CountedAhead> {
    const index = JOB_TABLE.indexes.waiting;
    const page = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: index.indexName,
        KeyConditionExpression: '#pool = :pool AND #key < :key',
        ExpressionAttributeNames: { '#pool': index.partitionKey, '#key': index.sortKey },
        ExpressionAttributeValues: {
          ':pool': job.pool,
          ':key': waitKey(job),
        },
        Select: 'COUNT',
        // Reads at most `limit` index items, however many wait ahead: the cost of a status read
        // does not grow with the queue.
        Limit: limit,
      }),
    );
    const ahead = page.Count ?? 0;
    return { ahead, more: page.LastEvaluatedKey !== undefined && ahead >= limit };
  }

  async listWaiting(
    pool: string,
    limit: number,
    start?: Readonly<Record<string, unknown>>,
  ): Promise<WaitingPage> {
    return this.#waitingPage(pool, limit, start);
  }

  async listParked(
    pool: string,
    owner: string,
    limit: number,
    start?: Readonly<Record<string, unknown>>,
  ): Promise<WaitingPage> {
    return this.#waitingPage(parkedPartition(pool, owner), limit, start);
  }

  /** A page of one partition of the waiting index: a pool's, or an owner's parked jobs in it. */
  async #waitingPage(
    partition: string,
    limit: number,
    start?: Readonly<Record<string, unknown>>,
  ): Promise<WaitingPage> {
    const index = JOB_TABLE.indexes.waiting;
    const page = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: index.indexName,
        KeyConditionExpression: '#pool = :pool',
        ExpressionAttributeNames: { '#pool': index.partitionKey },
        ExpressionAttributeValues: { ':pool': partition },
        Limit: limit,
        ExclusiveStartKey: start,
      }),
    );
    const jobs: WaitingJob[] = (page.Items ?? []).map((item) => {
      const fairTag = tagOfWaitKey(String(item[index.sortKey] ?? ''));
      return parseWaitingJob(fairTag === undefined ? item : { ...item, fairTag });
    });
    return { jobs, ...(page.LastEvaluatedKey && { next: page.LastEvaluatedKey }) };
  }

  async park(job: Pick<WaitingJob, 'jobId' | 'owner'>, pool: string): Promise<boolean> {
    return this.#conditionalUpdate({
      TableName: this.#table,
      Key: jobKey(job.jobId),
      // Only the index partition changes: the key keeps the job's place among its owner's jobs.
      UpdateExpression: 'SET waitPool = :parked',
      ConditionExpression: '#status = :queued AND waitPool = :pool',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':parked': parkedPartition(pool, ownerKey(job.owner)),
        ':queued': 'QUEUED',
        ':pool': pool,
      },
    });
  }

  async recordRun(change: RunStateChange): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: jobKey(change.jobId),
          UpdateExpression:
            'SET backendRunId = :run, backendState = :state, backendUpdatedAt = :at, backendDetails = :details' +
            (change.links ? ', links = :links' : ''),
          // Events can arrive out of order: a report older than the one recorded changes nothing.
          ConditionExpression:
            'attribute_exists(pk) AND (attribute_not_exists(backendUpdatedAt) OR backendUpdatedAt <= :at)',
          ExpressionAttributeValues: {
            ':run': change.runId,
            ':state': change.state,
            ':at': change.at,
            ':details': change.details ?? '',
            ...(change.links && { ':links': change.links }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        return (await this.getJob(change.jobId)) !== undefined;
      throw error;
    }
  }

  /**
   * The run's cost goes into the job's `runCosts` map under the run's id, only if not there yet,
   * so that a redelivered end of run is counted once. The map is made by the first run's write
   * (a SET of a map entry needs the map to exist), later runs add to it.
   */
  async recordRunCost(jobId: string, runId: string, cost: RunCost): Promise<RunCostRecorded> {
    const first = await this.#conditionalUpdate({
      TableName: this.#table,
      Key: jobKey(jobId),
      UpdateExpression: 'SET runCosts = :costs',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(runCosts)',
      ExpressionAttributeValues: { ':costs': { [runId]: cost } },
    });
    if (first) return 'recorded';
    const later = await this.#conditionalUpdate({
      TableName: this.#table,
      Key: jobKey(jobId),
      UpdateExpression: 'SET runCosts.#run = :cost',
      ConditionExpression: 'attribute_exists(runCosts) AND attribute_not_exists(runCosts.#run)',
      ExpressionAttributeNames: { '#run': runId },
      ExpressionAttributeValues: { ':cost': cost },
    });
    if (later) return 'recorded';
    return (await this.getJob(jobId)) === undefined ? 'missing' : 'duplicate';
  }

  /** True when the update was made, false when its condition failed. */
  async #conditionalUpdate(input: ConstructorParameters<typeof UpdateCommand>[0]): Promise<boolean> {
    return conditionally(() => this.#client.send(new UpdateCommand(input)));
  }

  async recordStartFailure(jobId: string, failure: StartFailure): Promise<boolean> {
    return this.#conditionalUpdate({
      TableName: this.#table,
      Key: jobKey(jobId),
      UpdateExpression: 'SET startAttempts = :attempts, nextStartAt = :retryAt, #updatedAt = :at',
      ConditionExpression:
        failure.attempts === 1
          ? '#status = :scheduled AND attribute_not_exists(startAttempts)'
          : '#status = :scheduled AND startAttempts = :previous',
      ExpressionAttributeNames: { '#status': 'status', '#updatedAt': 'updatedAt' },
      ExpressionAttributeValues: {
        ':attempts': failure.attempts,
        ':retryAt': failure.retryAt,
        ':at': failure.at,
        ':scheduled': 'SCHEDULED',
        ...(failure.attempts > 1 && { ':previous': failure.attempts - 1 }),
      },
    });
  }

  async setReruns(
    jobId: string,
    seenCount: number,
    reruns: readonly string[],
    count: number,
  ): Promise<boolean> {
    return this.#conditionalUpdate({
      TableName: this.#table,
      Key: jobKey(jobId),
      UpdateExpression: 'SET reruns = :reruns, rerunCount = :count',
      ConditionExpression:
        seenCount === 0 ? 'attribute_exists(pk) AND attribute_not_exists(rerunCount)' : 'rerunCount = :seen',
      ExpressionAttributeValues: {
        ':reruns': reruns,
        ':count': count,
        ...(seenCount !== 0 && { ':seen': seenCount }),
      },
    });
  }

  async claimIdempotencyKey(
    owner: string,
    key: string,
    jobId: string,
    requestHash: string,
  ): Promise<IdempotencyClaim> {
    const itemKey = idempotencyKey(owner, key);
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...itemKey,
            jobId,
            requestHash,
            expiresAt: Math.floor(Date.now() / 1000) + IDEMPOTENCY_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { claimed: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: itemKey, ConsistentRead: true }),
    );
    if (!Item) {
      // Expired between the two calls: claim again.
      return this.claimIdempotencyKey(owner, key, jobId, requestHash);
    }
    const stored = parseIdempotencyItem(Item);
    return { claimed: false, jobId: stored.jobId, requestHash: stored.requestHash };
  }

  async dueWarnings(
    pool: string,
    now: string,
    limit: number,
    start?: Readonly<Record<string, unknown>>,
  ): Promise<DueWarningPage> {
    const index = JOB_TABLE.indexes.warnings;
    const page = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: index.indexName,
        KeyConditionExpression: '#pool = :pool AND #at <= :now',
        ExpressionAttributeNames: { '#pool': index.partitionKey, '#at': index.sortKey },
        ExpressionAttributeValues: { ':pool': pool, ':now': now },
        Limit: limit,
        ExclusiveStartKey: start,
      }),
    );
    const due = (page.Items ?? []).map((item) => ({
      jobId: String(item.jobId),
      warnAt: String(item.warnAt),
    }));
    return { due, ...(page.LastEvaluatedKey && { next: page.LastEvaluatedKey }) };
  }

  async rescheduleWarning(
    jobId: string,
    seen: { warnAt: string; attempts: number },
    dueAt: string,
  ): Promise<boolean> {
    return this.#conditionalUpdate({
      TableName: this.#table,
      Key: jobKey(jobId),
      UpdateExpression: 'SET warnAt = :due',
      ConditionExpression: 'warnAt = :seen AND attempts = :attempts AND #status = :running',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':due': dueAt,
        ':seen': seen.warnAt,
        ':attempts': seen.attempts,
        ':running': 'RUNNING',
      },
    });
  }

  async recordWarning(event: DurationWarningEvent): Promise<boolean> {
    return conditionally(() =>
      this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: `JOB#${event.jobId}`,
            // One key per attempt, whoever writes it: two ticks that race write it once.
            sk: `EVT#${event.at}#warn-${event.detail.attempt}`,
            ...event,
            expiresAt: expiresAt(event.at, this.#retentionSeconds),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async clearWarning(jobId: string, seen: string): Promise<void> {
    // A warnAt that moved on since (another tick, a new attempt, the run's end) is not ours to remove.
    await this.#conditionalUpdate({
      TableName: this.#table,
      Key: jobKey(jobId),
      UpdateExpression: 'REMOVE warnAt',
      ConditionExpression: 'warnAt = :seen',
      ExpressionAttributeValues: { ':seen': seen },
    });
  }

  async recordDelivery(event: JobEvent & { readonly type: 'WEBHOOK' }): Promise<void> {
    await this.#putEvent(event);
  }

  /** The same one-attribute update a driver's reporter makes (runners/libra_progress.py), but only on an existing job. */
  async recordProgress(jobId: string, progress: Progress): Promise<boolean> {
    return this.#conditionalUpdate({
      TableName: this.#table,
      Key: jobKey(jobId),
      UpdateExpression: 'SET progress = :progress',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':progress': progress },
    });
  }

  /**
   * Counts the entry on the record first, conditionally on the count `job` was read with, so that
   * two ticks that read the same record write one entry; then the history item. A crash between
   * the two loses that one entry, never adds one more than the cap.
   */
  async addProgressEntry(job: JobRecord, at: string): Promise<boolean> {
    const progress = job.progress;
    if (progress === undefined) return false;
    const previous = job.progressEntries;
    const entries: ProgressEntries = {
      at,
      count: (previous?.count ?? 0) + 1,
      reportedAt: progress.updatedAt,
    };
    const counted = await this.#conditionalUpdate({
      TableName: this.#table,
      Key: jobKey(job.jobId),
      UpdateExpression: 'SET progressEntries = :entries',
      ConditionExpression:
        previous === undefined
          ? 'attribute_exists(pk) AND attribute_not_exists(progressEntries)'
          : 'progressEntries.#count = :count',
      ...(previous !== undefined && { ExpressionAttributeNames: { '#count': 'count' } }),
      ExpressionAttributeValues: {
        ':entries': entries,
        ...(previous !== undefined && { ':count': previous.count }),
      },
    });
    if (!counted) return false;
    await this.#putEvent({ jobId: job.jobId, at, type: 'PROGRESS', status: job.status, progress });
    return true;
  }

  async disableWebhook(jobId: string, at: string): Promise<boolean> {
    return this.#conditionalUpdate({
      TableName: this.#table,
      Key: jobKey(jobId),
      UpdateExpression: 'SET #disabled = if_not_exists(#disabled, :at)',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#disabled': 'webhookDisabledAt' },
      ExpressionAttributeValues: { ':at': at },
    });
  }
}

/**
 * How many index items the next Query of a listing evaluates (its Limit). Unfiltered, what is
 * still wanted. Filtered: at first at least FILTERED_FIRST_READ; after a Query that matched
 * nothing, EMPTY_READ_GROWTH times the last; otherwise what the match rate so far says fills the
 * page. Never more than the budget has left.
 */
function nextReadSize(read: {
  readonly stillWanted: number;
  readonly filtered: boolean;
  readonly matched: number;
  readonly evaluated: number;
  readonly lastRead: number;
  readonly budgetLeft: number;
}): number {
  const { stillWanted, matched, evaluated } = read;
  let size = stillWanted;
  if (read.filtered && evaluated === 0) size = FILTERED_FIRST_READ;
  else if (read.filtered && matched === 0) size = read.lastRead * EMPTY_READ_GROWTH;
  else if (read.filtered) size = Math.ceil(((stillWanted * evaluated) / matched) * MATCH_RATE_MARGIN);
  return Math.max(1, Math.min(Math.max(size, stillWanted), read.budgetLeft));
}

/** A listed item's position in the owner index, as a page token names it (see decodeToken). */
function ownerIndexKey(item: Record<string, unknown>): Record<string, unknown> {
  const index = JOB_TABLE.indexes.owner;
  return {
    pk: item.pk,
    sk: item.sk,
    [index.partitionKey]: item[index.partitionKey],
    [index.sortKey]: item[index.sortKey],
  };
}

function encodeToken(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * A page token is opaque to callers; one that was not ours, or names another owner, is a 400.
 * It must be the position of a job in the caller's own listing — the owner index's key and the
 * job's table key, agreeing with each other — so a made-up start key never reaches the query.
 */
function decodeToken(token: string, owner: string): Record<string, unknown> {
  const invalid = () =>
    new ValidationError('nextToken is not valid', [
      { field: 'nextToken', message: 'not a token this API issued' },
    ]);
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (key === null || typeof key !== 'object' || Array.isArray(key)) throw invalid();
  const index = JOB_TABLE.indexes.owner;
  const {
    pk,
    sk,
    [index.partitionKey]: keyOwner,
    [index.sortKey]: ownerSort,
    ...rest
  } = key as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || sk !== META || keyOwner !== owner) throw invalid();
  if (typeof pk !== 'string' || typeof ownerSort !== 'string' || !pk.startsWith('JOB#')) throw invalid();
  const jobId = pk.slice('JOB#'.length);
  const submittedAt = ownerSort.slice(0, -(jobId.length + 1));
  if (
    !JOB_ID_PATTERN.test(jobId) ||
    ownerSort !== `${submittedAt}#${jobId}` ||
    !ISO_INSTANT.test(submittedAt) ||
    Number.isNaN(Date.parse(submittedAt))
  ) {
    throw invalid();
  }
  return { pk, sk, [index.partitionKey]: keyOwner, [index.sortKey]: ownerSort };
}
