import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore, LIST_READ_BUDGET, type ListReadBudget } from '#adapters/dynamo-job-store.ts';
import {
  type Api,
  cancelEvent,
  iamCaller,
  listEvent,
  serviceApi,
  sqlJob,
  steppingClock,
  submitEvent,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { type CountingClient, countingClient } from '../support/request-counter.ts';

/**
 * What a listing page costs in DynamoDB round trips over 300 jobs, counted by a middleware on the
 * SDK client, and the shape of the pages: a filtered listing reads on until its page is full or
 * the index ends, within a read budget; an empty page with a nextToken only when that budget ran
 * out; never a nextToken on the last page.
 */

const OWNER = iamCaller('reader');
const TOTAL = 300;

let db: TestDatabase;
let counter: CountingClient;
/** Job ids in submit order (the clock steps a second per submit, so this is time order). */
const submitted: string[] = [];
const cancelled = new Set<string>();
/** Every 50th job carries tag rare=yes. */
const rare = new Set<string>();

function apiWith(budget: ListReadBudget = LIST_READ_BUDGET): Api {
  return serviceApi(db, {
    clock: steppingClock(),
    store: () =>
      new DynamoJobStore({
        client: counter.documentClient,
        tableName: db.tableName,
        retentionDays: 90,
        listReadBudget: budget,
      }),
  });
}

beforeAll(async () => {
  db = await startTestDatabase();
  counter = countingClient(db);
  const api = apiWith();
  for (let i = 0; i < TOTAL; i++) {
    const tags = i % 50 === 7 ? { rare: 'yes' } : { rare: 'no' };
    const reply = await api.submit(submitEvent(OWNER, sqlJob({ tags })));
    expect(reply.status).toBe(202);
    submitted.push(reply.body.jobId);
    if (tags.rare === 'yes') rare.add(reply.body.jobId);
    if (i % 10 === 3) {
      expect((await api.cancel(cancelEvent(OWNER, reply.body.jobId))).status).toBe(200);
      cancelled.add(reply.body.jobId);
    }
  }
}, 120_000);
afterAll(async () => {
  counter?.destroy();
  await db?.stop();
});

interface Page {
  readonly jobs: { jobId: string }[];
  readonly nextToken?: string;
}

/** Follows nextToken to the end: every page, and the Query calls and items each page cost. */
async function allPages(api: Api, query: Record<string, string>) {
  const pages: Page[] = [];
  const queries: number[] = [];
  const scanned: number[] = [];
  let nextToken: string | undefined;
  do {
    counter.reset();
    const reply = await api.list(listEvent(OWNER, { ...query, ...(nextToken && { nextToken }) }));
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    pages.push(reply.body);
    queries.push(counter.count('Query'));
    scanned.push(counter.scanned());
    nextToken = reply.body.nextToken;
    expect(pages.length, JSON.stringify(query)).toBeLessThanOrEqual(TOTAL);
  } while (nextToken);
  return { pages, queries, scanned };
}

const ids = (pages: Page[]) => pages.flatMap((page) => page.jobs.map((job) => job.jobId));
const newestFirst = (jobIds: Iterable<string>) => [...jobIds].reverse();

describe('GET /api/v1/spark/jobs over 300 jobs, counting round trips', () => {
  it('answers status=RUNNING&limit=1 with none running in one page, no token, in at most 2 Query calls (was 31)', async () => {
    const { pages, queries } = await allPages(apiWith(), { status: 'RUNNING', limit: '1' });

    expect(pages).toEqual([{ jobs: [] }]);
    expect(queries[0]).toBeLessThanOrEqual(2);
  });

  it('pages limit=100 over exactly 300 jobs as 100, 100 and 100, the last without a token, one Query each', async () => {
    const { pages, queries, scanned } = await allPages(apiWith(), { limit: '100' });

    expect(pages.map((page) => page.jobs.length)).toEqual([100, 100, 100]);
    expect(pages.map((page) => page.nextToken !== undefined)).toEqual([true, true, false]);
    expect(ids(pages)).toEqual(newestFirst(submitted));
    expect(queries).toEqual([1, 1, 1]);
    // Each page reads one job past itself to know whether another page follows; the last finds none.
    expect(scanned).toEqual([101, 101, 100]);
  });

  it('fills every filtered page but the last, which carries no token, for any limit', async () => {
    const cases: [Record<string, string>, string[]][] = [
      [{ tag: 'rare=yes' }, submitted.filter((id) => rare.has(id))],
      [{ status: 'CANCELLED' }, submitted.filter((id) => cancelled.has(id))],
      [{ status: 'QUEUED', tag: 'rare=no' }, submitted.filter((id) => !cancelled.has(id) && !rare.has(id))],
      [{ pool: 'default' }, submitted],
    ];
    for (const [filter, expected] of cases) {
      // Limits that page each case in at most 50 pages, to keep the test quick.
      for (const limit of [1, 3, 6, 7, 30, 100].filter((l) => expected.length / l <= 50)) {
        const what = `${JSON.stringify(filter)} limit ${limit}`;
        const { pages, queries } = await allPages(apiWith(), { ...filter, limit: String(limit) });

        expect(ids(pages), what).toEqual(newestFirst(expected));
        const sizes = pages.map((page) => page.jobs.length);
        const full = Math.ceil(expected.length / limit);
        expect(sizes, what).toEqual(
          Array.from({ length: full }, (_, i) =>
            i < full - 1 ? limit : expected.length - limit * (full - 1),
          ),
        );
        expect(pages.at(-1)?.nextToken, what).toBeUndefined();
        for (const count of queries) expect(count, what).toBeLessThanOrEqual(LIST_READ_BUDGET.queries);
      }
    }
  });

  it('finds 6 rare jobs among 300 in at most 3 Query calls a page', async () => {
    const { pages, queries } = await allPages(apiWith(), { tag: 'rare=yes', limit: '6' });

    expect(pages).toHaveLength(1);
    expect(pages[0]?.jobs).toHaveLength(6);
    expect(queries[0]).toBeLessThanOrEqual(3);
  });
});

describe('the read budget', () => {
  const SMALL: ListReadBudget = { queries: 3, items: 40 };

  it('answers short with a token when the budget runs out, and only then; following it finds every match once', async () => {
    const { pages, queries, scanned } = await allPages(apiWith(SMALL), { tag: 'rare=yes', limit: '2' });

    expect(ids(pages)).toEqual(newestFirst(submitted.filter((id) => rare.has(id))));
    for (const [i, page] of pages.entries()) {
      expect(queries[i]).toBeLessThanOrEqual(SMALL.queries);
      expect(scanned[i]).toBeLessThanOrEqual(SMALL.items);
      // A page short of its limit that is not the last is one whose budget ran out.
      if (page.jobs.length < 2 && page.nextToken !== undefined) {
        expect(scanned[i] === SMALL.items || queries[i] === SMALL.queries, `page ${i}`).toBe(true);
      }
    }
    expect(pages.some((page) => page.jobs.length === 0 && page.nextToken !== undefined)).toBe(true);
    expect(pages.at(-1)?.nextToken).toBeUndefined();
  });

  it('reads no more than the budget for status=RUNNING&limit=1, then goes on from where it stopped', async () => {
    const { pages, queries, scanned } = await allPages(apiWith(SMALL), { status: 'RUNNING', limit: '1' });

    // 300 jobs, 40 items a request: 8 pages, every one empty, only the last without a token.
    expect(pages).toHaveLength(Math.ceil(TOTAL / SMALL.items));
    for (const page of pages) expect(page.jobs).toEqual([]);
    expect(pages.map((page) => page.nextToken === undefined)).toEqual(
      pages.map((_, i) => i === pages.length - 1),
    );
    expect(scanned.reduce((a, b) => a + b, 0)).toBe(TOTAL);
    for (const count of queries) expect(count).toBeLessThanOrEqual(SMALL.queries);
  });
});
