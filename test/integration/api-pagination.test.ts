import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Api,
  cancelEvent,
  iamCaller,
  listEvent,
  serviceApi,
  sqlJob,
  steppingClock,
  submitEvent,
  testConfig,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

const OWNER = iamCaller('pager');
const OTHER = iamCaller('pager-other');
const ADMIN = iamCaller('pager-admin');
const TOTAL = 45;

let db: TestDatabase;
let api: Api;
/** Job ids in submit order; the clock steps a second per submit, so this is time order. */
const submitted: string[] = [];
/** Every third job carries tag batch=odd-one; every fifth is cancelled. */
const tagged = new Set<string>();
const cancelled = new Set<string>();

beforeAll(async () => {
  db = await startTestDatabase();
  api = serviceApi(db, { clock: steppingClock(), config: testConfig({ admins: [ADMIN] }) });
  for (let i = 0; i < TOTAL; i++) {
    const tags = i % 3 === 0 ? { batch: 'odd-one' } : { batch: 'plain' };
    const reply = await api.submit(submitEvent(OWNER, sqlJob({ name: `job ${i}`, tags })));
    expect(reply.status).toBe(202);
    submitted.push(reply.body.jobId);
    if (i % 3 === 0) tagged.add(reply.body.jobId);
    // Another owner's jobs interleave with the owner's in time.
    if (i % 4 === 0) await api.submit(submitEvent(OTHER, sqlJob()));
  }
  for (const [i, jobId] of submitted.entries()) {
    if (i % 5 === 0) {
      expect((await api.cancel(cancelEvent(OWNER, jobId))).status).toBe(200);
      cancelled.add(jobId);
    }
  }
});
afterAll(async () => {
  await db?.stop();
});

interface Page {
  readonly jobs: { jobId: string; status: string; submittedAt: string }[];
  readonly nextToken?: string;
}

/** Follows nextToken to the end, returning every page. */
async function allPages(caller: string, query: Record<string, string>): Promise<Page[]> {
  const pages: Page[] = [];
  let nextToken: string | undefined;
  do {
    const reply = await api.list(listEvent(caller, { ...query, ...(nextToken && { nextToken }) }));
    expect(reply.status).toBe(200);
    pages.push(reply.body);
    nextToken = reply.body.nextToken;
    // Within the read budget, a page is empty only when nothing matches at all, and then it is the only one.
    if (reply.body.jobs.length === 0)
      expect(pages.length === 1 && !nextToken, JSON.stringify(query)).toBe(true);
    expect(pages.length, JSON.stringify(query)).toBeLessThanOrEqual(TOTAL);
  } while (nextToken);
  return pages;
}

const ids = (pages: Page[]) => pages.flatMap((page) => page.jobs.map((job) => job.jobId));
const newestFirst = (jobIds: Iterable<string>) => [...jobIds].reverse();

describe('GET /api/v1/spark/jobs, page by page', () => {
  it('pages 45 jobs by 20 as 20, 20 and 5, newest first, with no duplicate and no gap', async () => {
    const pages = await allPages(OWNER, { limit: '20' });

    expect(pages.map((page) => page.jobs.length)).toEqual([20, 20, 5]);
    expect(pages.map((page) => page.nextToken !== undefined)).toEqual([true, true, false]);
    expect(ids(pages)).toEqual(newestFirst(submitted));
    const times = pages.flatMap((page) => page.jobs.map((job) => job.submittedAt));
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('pages by 20 when no limit is given', async () => {
    const pages = await allPages(OWNER, {});
    expect(pages.map((page) => page.jobs.length)).toEqual([20, 20, 5]);
  });

  it('pages a filtered listing without duplicates or gaps', async () => {
    const cases: [Record<string, string>, string[]][] = [
      [{ tag: 'batch=odd-one' }, submitted.filter((id) => tagged.has(id))],
      [{ status: 'CANCELLED' }, submitted.filter((id) => cancelled.has(id))],
      [
        { status: 'QUEUED', tag: 'batch=plain' },
        submitted.filter((id) => !cancelled.has(id) && !tagged.has(id)),
      ],
      [{ pool: 'default', tag: 'batch' }, submitted],
    ];
    for (const [filter, expected] of cases) {
      for (const limit of ['1', '4', '7', '100']) {
        const pages = await allPages(OWNER, { ...filter, limit });
        expect(ids(pages), `${JSON.stringify(filter)} limit ${limit}`).toEqual(newestFirst(expected));
        for (const page of pages) expect(page.jobs.length).toBeLessThanOrEqual(Number(limit));
      }
    }
  });

  it("lets an admin page through another owner's jobs with owner=", async () => {
    const pages = await allPages(ADMIN, { owner: OWNER, limit: '20' });
    expect(ids(pages)).toEqual(newestFirst(submitted));
  });

  it('refuses a tampered or made-up nextToken with 400 naming it', async () => {
    const first = await api.list(listEvent(OWNER, { limit: '20' }));
    const token: string = first.body.nextToken;
    const key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const tampered = [
      'garbage',
      '!!!',
      token.slice(0, -3),
      `${token}x`,
      `x${token}`,
      encode({}),
      encode(null),
      encode([key]),
      encode({ ...key, extra: 'x' }),
      encode({ ...key, ownerSort: 42 }),
      encode({ ...key, ownerSort: 'nonsense' }),
      encode({ ...key, pk: 'POOL#default', sk: 'POOL' }),
      encode({ ...key, pk: 'JOB#elsewhere' }),
      Buffer.from('{"owner":').toString('base64url'),
    ];

    for (const nextToken of tampered) {
      const reply = await api.list(listEvent(OWNER, { limit: '20', nextToken }));
      expect(reply.status, nextToken).toBe(400);
      expect(reply.headers['content-type']).toBe('application/problem+json');
      expect(reply.body.errors).toEqual([expect.objectContaining({ field: 'nextToken' })]);
    }
  });

  it("refuses another owner's token with 400; reshaped, it shows nothing of theirs", async () => {
    const theirs = await api.list(listEvent(OTHER, { limit: '2' }));
    const token: string = theirs.body.nextToken;
    expect(token).toBeDefined();

    const reply = await api.list(listEvent(OWNER, { limit: '2', nextToken: token }));
    expect(reply.status).toBe(400);

    // Reshaped to name the caller, it is only a position: the caller still sees only its own jobs.
    const key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    const renamed = Buffer.from(JSON.stringify({ ...key, owner: OWNER })).toString('base64url');
    const reshaped = await api.list(listEvent(OWNER, { limit: '20', nextToken: renamed }));
    expect(reshaped.status).toBe(200);
    for (const job of reshaped.body.jobs) expect(submitted).toContain(job.jobId);
  });
});
