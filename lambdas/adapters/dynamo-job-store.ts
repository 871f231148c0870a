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
import { TransitionConflict, ValidationError } from '#core/errors.ts';
import { JOB_ID_PATTERN, type JobEvent, type JobRecord, waitKey } from '#core/job-record.ts';
import { type JobStatus, STATUS_TIMESTAMP } from '#core/job-states.ts';
import type {
  CountedAhead,
  IdempotencyClaim,
  JobPage,
  JobStore,
  JobSummary,
  ListJobsQuery,
  RunStateChange,
  TransitionChange,
  WaitingJob,
  WaitingJobs,
  WaitingPage,
  WebhookLog,
} from '#core/ports.ts';
import { JOB_TABLE } from './table-definition.ts';

const META = 'META';
const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/** Query calls one list page may make before it returns short, so a sparse filter cannot run away. */
const MAX_QUERIES_PER_PAGE = 10;

const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: META });

/**
 * `IDEM#<owner>#<key>` with `%` and `#` escaped in the owner: JWT subjects may hold any
 * character and keys may hold `#`, so unescaped, owner `a#b` with key `c` and owner `a` with
 * key `b#c` would share one item, and one caller would be handed the other's job.
 */
const idempotencyKey = (owner: string, key: string) => ({
  pk: `IDEM#${owner.replaceAll('%', '%25').replaceAll('#', '%23')}#${key}`,
  sk: 'IDEM',
});

/** Attributes the store adds to a record; stripped before a record leaves the adapter. */
const STORAGE_ATTRIBUTES = ['pk', 'sk', 'ownerSort', 'waitPool', 'waitKey', 'expiresAt'] as const;

function toRecord(item: Record<string, unknown>): JobRecord {
  const record = { ...item };
  for (const attribute of STORAGE_ATTRIBUTES) delete record[attribute];
  return record as unknown as JobRecord;
}

function toSummary(item: Record<string, unknown>): JobSummary {
  const summary: Record<string, unknown> = {};
  for (const attribute of ['jobId', ...JOB_TABLE.indexes.owner.nonKeyAttributes]) {
    if (item[attribute] !== undefined) summary[attribute] = item[attribute];
  }
  return summary as unknown as JobSummary;
}

/**
 * A caller-keyed map (tags, Spark conf) as the marshaller should write it. The SDK takes an
 * object for a map only when `value.constructor.name` is 'Object', so a caller's own key
 * `constructor` made the put throw; a Map is written as the same M attribute and read back
 * as a plain object.
 */
function asMapAttribute(record: Readonly<Record<string, string>>): Map<string, string> {
  return new Map(Object.entries(record));
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
    ...jobKey(job.jobId),
    ownerSort: `${job.submittedAt}#${job.jobId}`,
    ...(job.status === 'QUEUED' && {
      waitPool: job.pool,
      waitKey: waitKey(job.priority, job.submittedAt, job.jobId),
    }),
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
}

/** Orders history items written in the same millisecond by this process. */
let eventSequence = 0;

export class DynamoJobStore implements JobStore, WaitingJobs, WebhookLog {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionSeconds: number;

  constructor(options: DynamoJobStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#retentionSeconds = options.retentionDays * 24 * 60 * 60;
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
    return Item ? toRecord(Item) : undefined;
  }

  async transition(
    jobId: string,
    from: readonly JobStatus[],
    to: JobStatus,
    change: TransitionChange,
  ): Promise<JobRecord> {
    const names: Record<string, string> = { '#status': 'status', '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':to': to, ':at': change.at };
    const sets = ['#status = :to', '#updatedAt = :at'];
    const removes: string[] = [];

    const timestamp = STATUS_TIMESTAMP[to];
    if (timestamp) {
      names['#ts'] = timestamp;
      sets.push('#ts = if_not_exists(#ts, :at)');
    }
    if (change.reason) {
      names['#reason'] = 'reason';
      values[':reason'] = change.reason;
      sets.push('#reason = :reason');
    }
    for (const [i, [attribute, value]] of Object.entries(change.set ?? {}).entries()) {
      names[`#s${i}`] = attribute;
      values[`:s${i}`] = value;
      sets.push(`#s${i} = :s${i}`);
    }
    if (to !== 'QUEUED') removes.push('waitPool', 'waitKey');

    const sources = from.map((status, i) => {
      values[`:from${i}`] = status;
      return `:from${i}`;
    });

    let updated: Record<string, unknown> | undefined;
    try {
      const result = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: jobKey(jobId),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: `attribute_exists(pk) AND #status IN (${sources.join(', ')})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      updated = result.Attributes;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const current = await this.getJob(jobId);
        throw new TransitionConflict(jobId, from, current?.status);
      }
      throw error;
    }
    const record = toRecord(updated ?? {});
    await this.#putEvent({
      jobId,
      at: change.at,
      type: 'STATUS',
      status: to,
      ...(from.length === 1 && { from: from[0] }),
      ...(change.reason && { reason: change.reason }),
    });
    return record;
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
      for (const item of page.Items ?? []) {
        const { pk: _pk, sk: _sk, expiresAt: _ttl, ...event } = item;
        events.push(event as JobEvent);
      }
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

    const jobs: JobSummary[] = [];
    let startKey = query.nextToken === undefined ? undefined : decodeToken(query.nextToken, query.owner);
    for (let call = 0; call < MAX_QUERIES_PER_PAGE && jobs.length < query.limit; call++) {
      const input: QueryCommandInput = {
        TableName: this.#table,
        IndexName: index.indexName,
        KeyConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
        // Never evaluate past the page: the last evaluated key is then exactly where the next page starts.
        Limit: query.limit - jobs.length,
        ExclusiveStartKey: startKey,
        ...(filters.length > 0 && { FilterExpression: filters.join(' AND ') }),
      };
      const page = await this.#client.send(new QueryCommand(input));
      for (const item of page.Items ?? []) jobs.push(toSummary(item));
      startKey = page.LastEvaluatedKey;
      if (!startKey) break;
    }
    return { jobs, ...(startKey && { nextToken: encodeToken(startKey) }) };
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
          ':key': waitKey(job.priority, job.submittedAt, job.jobId),
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
    const index = JOB_TABLE.indexes.waiting;
    const page = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: index.indexName,
        KeyConditionExpression: '#pool = :pool',
        ExpressionAttributeNames: { '#pool': index.partitionKey },
        ExpressionAttributeValues: { ':pool': pool },
        Limit: limit,
        ExclusiveStartKey: start,
      }),
    );
    const jobs: WaitingJob[] = (page.Items ?? []).map((item) => ({
      jobId: String(item.jobId),
      owner: String(item.owner),
      priority: Number(item.priority),
      submittedAt: String(item.submittedAt),
      reservation: item.reservation as WaitingJob['reservation'],
    }));
    return { jobs, ...(page.LastEvaluatedKey && { next: page.LastEvaluatedKey }) };
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
    return { claimed: false, jobId: String(Item.jobId), requestHash: String(Item.requestHash) };
  }

  async recordDelivery(event: JobEvent & { readonly type: 'WEBHOOK' }): Promise<void> {
    await this.#putEvent(event);
  }

  async disableWebhook(jobId: string, at: string): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: jobKey(jobId),
          UpdateExpression: 'SET #disabled = if_not_exists(#disabled, :at)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#disabled': 'webhookDisabledAt' },
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
    return true;
  }
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
