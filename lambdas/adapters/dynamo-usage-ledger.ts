import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { roundFigure, roundUsd, runTotalUsd, usageDay, usageMonth } from '#core/cost.ts';
import type { UsageEntry, UsageLedger, UsageQuery, UsageTotals } from '#core/ports.ts';
import { parseSpendItem, parseUsageItem, type UsageItem } from './stored-items.ts';

/**
 * The usage totals of docs/cost.md, kept in the job table beside the jobs:
 *
 * | item | pk | sk |
 * |---|---|---|
 * | a day's usage by owner and pool | `USAGE#P#<day>` | `<owner>#<pool>` |
 * | a day's usage by owner and tag | `USAGE#T#<day>` | `<owner>#<key>=<value>` |
 * | a pool's spend in a month | `SPEND#<pool>` | `<YYYY-MM>` |
 *
 * Each run's end adds to its items with `ADD` (one update each, 2 + its tags). A total over a
 * period is one Query per day, over that day's items only — one per owner and pool (or tag)
 * that ran something that day — whatever the number of jobs ever run. An owner's own totals
 * are the items whose sort key starts with that owner. Names in keys are URI-encoded, so a `#`
 * or `=` in an owner or a tag cannot make two keys meet.
 */

/** How long usage items are kept: 13 months, so that a year ago can be compared with today. */
export const USAGE_RETENTION_DAYS = 400;
/** Days queried at once. */
const PARALLEL_DAYS = 8;

const enc = encodeURIComponent;
const dayKey = (kind: 'P' | 'T', day: string) => `USAGE#${kind}#${day}`;
const spendKey = (pool: string, month: string) => ({ pk: `SPEND#${pool}`, sk: month });

export interface DynamoUsageLedgerOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly clock?: () => Date;
}

export class DynamoUsageLedger implements UsageLedger {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: () => Date;

  constructor(options: DynamoUsageLedgerOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#clock = options.clock ?? (() => new Date());
  }

  async add(entry: UsageEntry): Promise<number> {
    const { cost, owner, pool } = entry;
    const day = usageDay(cost.at);
    const expiresAt = Math.floor(this.#clock().getTime() / 1000) + USAGE_RETENTION_DAYS * 86_400;
    const values = {
      ':runs': 1,
      ':estimated': cost.estimate ? 1 : 0,
      ':vcpu': cost.vcpuHours,
      ':memory': cost.memoryGbHours,
      ':storage': cost.storageGbHours,
      ':duration': cost.durationSeconds,
      ':compute': cost.usd,
      ':orchestration': cost.orchestrationUsd,
      ':expiresAt': expiresAt,
    };
    // Every attribute by a name placeholder: `pool`, `owner` and others are DynamoDB reserved words.
    const names = {
      '#runs': 'runs',
      '#estimated': 'estimatedRuns',
      '#vcpu': 'vcpuHours',
      '#memory': 'memoryGbHours',
      '#storage': 'storageGbHours',
      '#duration': 'durationSeconds',
      '#compute': 'computeUsd',
      '#orchestration': 'orchestrationUsd',
      '#expiresAt': 'expiresAt',
      '#owner': 'owner',
    };
    const adds =
      'ADD #runs :runs, #estimated :estimated, #vcpu :vcpu, #memory :memory, #storage :storage, ' +
      '#duration :duration, #compute :compute, #orchestration :orchestration ' +
      'SET #expiresAt = :expiresAt, #owner = :owner';
    const updates = [
      new UpdateCommand({
        TableName: this.#table,
        Key: spendKey(pool, usageMonth(cost.at)),
        UpdateExpression: 'ADD #usd :usd, #runs :runs SET #expiresAt = :expiresAt',
        ExpressionAttributeNames: { '#usd': 'usd', '#runs': 'runs', '#expiresAt': 'expiresAt' },
        ExpressionAttributeValues: { ':usd': runTotalUsd(cost), ':runs': 1, ':expiresAt': expiresAt },
        ReturnValues: 'UPDATED_NEW',
      }),
      new UpdateCommand({
        TableName: this.#table,
        Key: { pk: dayKey('P', day), sk: `${enc(owner)}#${enc(pool)}` },
        UpdateExpression: `${adds}, #pool = :pool`,
        ExpressionAttributeNames: { ...names, '#pool': 'pool' },
        ExpressionAttributeValues: { ...values, ':owner': owner, ':pool': pool },
      }),
      ...Object.entries(entry.tags).map(
        ([key, value]) =>
          new UpdateCommand({
            TableName: this.#table,
            Key: { pk: dayKey('T', day), sk: `${enc(owner)}#${enc(key)}=${enc(value)}` },
            UpdateExpression: `${adds}, #tag = :tag`,
            ExpressionAttributeNames: { ...names, '#tag': 'tag' },
            ExpressionAttributeValues: { ...values, ':owner': owner, ':tag': `${key}=${value}` },
          }),
      ),
    ];
    // Every update is waited for, failed or not, before the first failure is thrown.
    const results = await Promise.allSettled(updates.map((update) => this.#client.send(update)));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const spend = results[0] as PromiseFulfilledResult<{ Attributes?: Record<string, unknown> }>;
    return roundUsd(Number(spend.value.Attributes?.usd ?? 0));
  }

  async monthSpend(pool: string, month: string): Promise<number> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: spendKey(pool, month), ProjectionExpression: 'usd' }),
    );
    return Item === undefined ? 0 : roundUsd(parseSpendItem(Item).usd);
  }

  async totals(query: UsageQuery): Promise<UsageTotals[]> {
    const days = daysBetween(query.from, query.to);
    const groups = new Map<string, Accumulator>();
    for (let index = 0; index < days.length; index += PARALLEL_DAYS) {
      const pages = await Promise.all(
        days.slice(index, index + PARALLEL_DAYS).map((day) => this.#dayItems(day, query)),
      );
      for (const item of pages.flat()) {
        const key = query.groupBy === 'owner' ? item.owner : query.groupBy === 'pool' ? item.pool : item.tag;
        if (key === undefined) continue;
        let group = groups.get(key);
        if (group === undefined) {
          group = new Accumulator(key);
          groups.set(key, group);
        }
        group.add(item);
      }
    }
    return [...groups.values()]
      .map((group) => group.totals())
      .sort((a, b) => b.usd - a.usd || cmp(a.key, b.key));
  }

  async #dayItems(day: string, query: UsageQuery): Promise<UsageItem[]> {
    const items: UsageItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression:
            query.owner === undefined ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :owner)',
          ExpressionAttributeValues: {
            ':pk': dayKey(query.groupBy === 'tag' ? 'T' : 'P', day),
            ...(query.owner !== undefined && { ':owner': `${enc(query.owner)}#` }),
          },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) items.push(parseUsageItem(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }
}

class Accumulator {
  readonly #key: string;
  #runs = 0;
  #estimatedRuns = 0;
  #vcpuHours = 0;
  #memoryGbHours = 0;
  #storageGbHours = 0;
  #durationSeconds = 0;
  #computeUsd = 0;
  #orchestrationUsd = 0;

  constructor(key: string) {
    this.#key = key;
  }

  add(item: UsageItem): void {
    this.#runs += item.runs;
    this.#estimatedRuns += item.estimatedRuns;
    this.#vcpuHours += item.vcpuHours;
    this.#memoryGbHours += item.memoryGbHours;
    this.#storageGbHours += item.storageGbHours;
    this.#durationSeconds += item.durationSeconds;
    this.#computeUsd += item.computeUsd;
    this.#orchestrationUsd += item.orchestrationUsd;
  }

  totals(): UsageTotals {
    const computeUsd = roundUsd(this.#computeUsd);
    const orchestrationUsd = roundUsd(this.#orchestrationUsd);
    return {
      key: this.#key,
      runs: this.#runs,
      estimatedRuns: this.#estimatedRuns,
      vcpuHours: roundFigure(this.#vcpuHours),
      memoryGbHours: roundFigure(this.#memoryGbHours),
      storageGbHours: roundFigure(this.#storageGbHours),
      durationSeconds: roundFigure(this.#durationSeconds),
      computeUsd,
      orchestrationUsd,
      usd: roundUsd(computeUsd + orchestrationUsd),
    };
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every day from `from` to `to` (YYYY-MM-DD, both included), in order. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  const end = Date.parse(`${to}T00:00:00Z`);
  for (let at = Date.parse(`${from}T00:00:00Z`); at <= end; at += 86_400_000) {
    days.push(new Date(at).toISOString().slice(0, 10));
  }
  return days;
}
