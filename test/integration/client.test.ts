import { randomUUID } from 'node:crypto';
import {
  type JobMove,
  LibraApiError,
  LibraClient,
  LibraConnectionError,
  retryAfterMs,
} from 'libra-serverless/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { type LocalProcess, startLocalProcess } from '../support/local-process.ts';
import { freePort } from '../support/processes.ts';

/** The typed client against the local runtime, with faults injected by a proxy in front of it. */

const FAST_RETRY = { baseDelayMs: 20, maxDelayMs: 100 };

async function collect(moves: AsyncIterable<JobMove>): Promise<JobMove[]> {
  const all: JobMove[] = [];
  for await (const move of moves) all.push(move);
  return all;
}

describe('libra-serverless/client against the local runtime', () => {
  let runtime: LocalProcess;
  let client: LibraClient;

  beforeAll(async () => {
    runtime = await startLocalProcess();
    client = new LibraClient({ endpoint: runtime.url, retry: FAST_RETRY });
  });

  afterAll(async () => {
    await runtime?.stop();
  });

  it('submits, follows every status move in order to SUCCEEDED, and reads the output behind its links', async () => {
    const submitted = await client.submit({ code: 'print("hello from the client")', kind: 'python' });
    expect(submitted).toEqual({
      jobId: expect.stringMatching(/^job-/),
      status: 'QUEUED',
      submittedAt: expect.any(String),
    });

    const moves = await collect(client.waitFor(submitted.jobId, { intervalMs: 100 }));
    const statuses = moves.filter((move) => move.kind === 'status').map((move) => move.status);
    expect(statuses).toEqual(['QUEUED', 'SCHEDULED', 'RUNNING', 'SUCCEEDED']);
    expect(moves.map((move) => move.final)).toEqual(moves.map((_, i) => i === moves.length - 1));
    const elapsed = moves.map((move) => move.elapsedMs);
    expect(elapsed).toEqual([...elapsed].sort((a, b) => a - b));
    expect(moves.find((move) => move.status === 'RUNNING')?.from).toBe('SCHEDULED');

    const last = moves.at(-1);
    expect(last?.job.status).toBe('SUCCEEDED');
    const stdout = last?.job.links?.stdout;
    expect(stdout).toBeDefined();
    expect(await client.fetchLink(stdout as string)).toBe('hello from the client\n');
  });

  it('ends a failed job on FAILED with its reason', async () => {
    const { jobId } = await client.submit({
      code: 'SELECT * FROM no_such_table',
      kind: 'sql',
      retryPolicy: { maxRetries: 0 },
    });
    const moves = await collect(client.waitFor(jobId, { intervalMs: 100 }));
    const last = moves.at(-1);
    expect(last?.status).toBe('FAILED');
    expect(last?.final).toBe(true);
    expect(last?.job.reason?.code).toBe('SPARK_JOB_FAILED');
  });

  it('reports the queue position while a job waits, and an abort ends the wait but not the job', async () => {
    // Fifteen one-core executors and a driver fill the default pool's 16 cores.
    const long = await client.submit({
      code: 'import time; time.sleep(600)',
      kind: 'python',
      sparkConf: { 'spark.executor.instances': '15' },
    });
    try {
      for await (const move of client.waitFor(long.jobId, { intervalMs: 100 })) {
        if (move.status === 'RUNNING') break;
      }
      const next = await client.submit({ code: 'SELECT 42 AS answer', kind: 'sql' });
      const abort = new AbortController();
      const seen: JobMove[] = [];
      const waiting = (async () => {
        for await (const move of client.waitFor(next.jobId, { intervalMs: 100, signal: abort.signal })) {
          seen.push(move);
          if (move.queuePosition !== undefined) abort.abort(new Error('stopped waiting'));
        }
      })();
      await expect(waiting).rejects.toThrow('stopped waiting');
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ kind: 'status', status: 'QUEUED', queuePosition: 1, final: false });
      expect((await client.status(next.jobId)).status).toBe('QUEUED');

      await client.cancel(long.jobId);
      const rest = await collect(client.waitFor(next.jobId, { intervalMs: 100 }));
      expect(rest.at(-1)?.status).toBe('SUCCEEDED');
    } finally {
      await client.cancel(long.jobId).catch(() => undefined);
    }
  });

  it('lists in pages and follows every page', async () => {
    const tag = `c${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 3; i++) {
      await client.submit({ code: `SELECT ${i}`, kind: 'sql', tags: { batch: tag } });
    }
    const first = await client.list({ tag: `batch=${tag}`, limit: 2 });
    expect(first.jobs).toHaveLength(2);
    expect(first.nextToken).toBeDefined();
    const pages = [];
    for await (const page of client.pages({ tag: `batch=${tag}`, limit: 2 })) pages.push(page);
    expect(pages.map((page) => page.jobs.length)).toEqual([2, 1]);
    const pools = await client.pools();
    expect(pools.pools.map((pool) => pool.name)).toContain('default');
  });

  it('sends a generated Idempotency-Key with every submit: a submit whose answer was lost makes one job', async () => {
    const name = `lost-answer-${randomUUID()}`;
    const proxy = await startFaultProxy(runtime.url, (request, i) =>
      request.method === 'POST' && i === 0 ? { kind: 'drop-answer' } : { kind: 'forward' },
    );
    try {
      const proxied = new LibraClient({ endpoint: proxy.url, retry: FAST_RETRY });
      const { jobId } = await proxied.submit({ code: 'SELECT 1', kind: 'sql', name });
      const posts = proxy.requests.filter((request) => request.method === 'POST');
      expect(posts).toHaveLength(2);
      const keys = posts.map((request) => request.headers['idempotency-key']);
      expect(keys[0]).toMatch(/^libra-[0-9a-f-]{36}$/);
      expect(keys[1]).toBe(keys[0]);
      const named = (await client.list({ limit: 100 })).jobs.filter((job) => job.name === name);
      expect(named.map((job) => job.jobId)).toEqual([jobId]);

      // Two logical submits of the same body are two jobs: each has its own key.
      const again = await proxied.submit({ code: 'SELECT 1', kind: 'sql', name });
      expect(again.jobId).not.toBe(jobId);
      const given = await proxied.submit(
        { code: 'SELECT 1', kind: 'sql', name },
        { idempotencyKey: `k-${name}` },
      );
      const replay = await proxied.submit(
        { code: 'SELECT 1', kind: 'sql', name },
        { idempotencyKey: `k-${name}` },
      );
      expect(replay.jobId).toBe(given.jobId);
    } finally {
      await proxy.close();
    }
  });

  it('re-runs a finished job as a submit is retried: a re-run whose answer was lost makes one job, linked', async () => {
    const original = await client.submit({ code: 'SELECT 1', kind: 'sql', name: 'to re-run' });
    await collect(client.waitFor(original.jobId, { intervalMs: 100 }));
    const proxy = await startFaultProxy(runtime.url, (request) =>
      request.method === 'POST' && proxy.requests.filter((r) => r.method === 'POST').length === 1
        ? { kind: 'drop-answer' }
        : { kind: 'forward' },
    );
    try {
      const proxied = new LibraClient({ endpoint: proxy.url, retry: FAST_RETRY });
      const rerun = await proxied.rerun(original.jobId, { priority: 9, name: 'again' });
      expect(rerun).toEqual({
        jobId: expect.stringMatching(/^job-/),
        // The retry is answered as a replay: the new job as it is by then.
        status: expect.stringMatching(/^(QUEUED|SCHEDULED|RUNNING|SUCCEEDED)$/),
        submittedAt: expect.any(String),
        rerunOf: original.jobId,
      });
      const posts = proxy.requests.filter((request) => request.method === 'POST');
      expect(posts.map((post) => post.url)).toEqual([
        `/prod/api/v1/spark/jobs/${original.jobId}/rerun`,
        `/prod/api/v1/spark/jobs/${original.jobId}/rerun`,
      ]);
      expect(posts[1]?.headers['idempotency-key']).toBe(posts[0]?.headers['idempotency-key']);
      expect(JSON.parse(posts[0]?.body ?? '')).toEqual({ priority: 9, name: 'again' });
      const before = await client.status(original.jobId);
      expect(before).toMatchObject({ reruns: [rerun.jobId], rerunCount: 1 });
      expect(await client.status(rerun.jobId)).toMatchObject({
        rerunOf: original.jobId,
        priority: 9,
        name: 'again',
      });
      await collect(client.waitFor(rerun.jobId, { intervalMs: 100 }));
    } finally {
      await proxy.close();
    }
  });

  it('retries a 429 after its Retry-After, and a 5xx read with backoff; a cancel is not retried on 5xx', async () => {
    const { jobId } = await client.submit({ code: 'SELECT 1', kind: 'sql' });
    let throttled = 0;
    let failed = 0;
    const proxy = await startFaultProxy(runtime.url, (request) => {
      if (request.url.endsWith('/pools') && throttled++ === 0) {
        return {
          kind: 'answer',
          status: 429,
          headers: { 'retry-after': '1' },
          body: '{"message":"Too Many Requests"}',
        };
      }
      if (request.url.endsWith(jobId) && request.method === 'GET' && failed++ < 2) {
        return { kind: 'answer', status: 503, body: '{"message":"Service Unavailable"}' };
      }
      if (request.method === 'DELETE')
        return { kind: 'answer', status: 502, body: '{"message":"Bad Gateway"}' };
      return { kind: 'forward' };
    });
    try {
      const proxied = new LibraClient({ endpoint: proxy.url, retry: FAST_RETRY });
      await proxied.pools();
      const pools = proxy.requests.filter((request) => request.url.endsWith('/pools'));
      expect(pools).toHaveLength(2);
      expect((pools[1]?.at ?? 0) - (pools[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);

      expect((await proxied.status(jobId)).jobId).toBe(jobId);
      expect(proxy.requests.filter((request) => request.url.endsWith(jobId))).toHaveLength(3);

      const refused = await proxied.cancel(jobId).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(LibraApiError);
      expect((refused as LibraApiError).status).toBe(502);
      expect(proxy.requests.filter((request) => request.method === 'DELETE')).toHaveLength(1);

      const noRetries = new LibraClient({ endpoint: proxy.url, retry: { retries: 0 } });
      throttled = 0;
      await expect(noRetries.pools()).rejects.toThrow(
        'GET /prod/api/v1/spark/pools: HTTP 429 Too Many Requests (Retry-After: 1 s)',
      );
      const patient = new LibraClient({ endpoint: proxy.url, retry: { maxRetryAfterMs: 500 } });
      throttled = 0;
      // A Retry-After longer than the client will wait is not waited out: the 429 is the answer.
      const before = proxy.requests.length;
      await expect(patient.pools()).rejects.toThrow('HTTP 429');
      expect(proxy.requests.length).toBe(before + 1);
    } finally {
      await proxy.close();
    }
  });

  it('says a refusal in one line with the problem title, detail and each field, and an unreachable endpoint as such', async () => {
    const refused = await client
      .submit({ code: 'SELECT 1', kind: 'sql', priority: 11 })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LibraApiError);
    expect((refused as Error).message).toBe(
      'POST /api/v1/spark/jobs/submit: HTTP 400 The request is not valid: the job request has invalid fields: priority: Too big: expected number to be <=10',
    );
    expect((refused as LibraApiError).problem?.errors).toEqual([
      { field: 'priority', message: 'Too big: expected number to be <=10' },
    ]);

    const { jobId } = await client.submit({ code: 'SELECT 1', kind: 'sql' });
    const mallory = new LibraClient({ endpoint: runtime.url, auth: { mode: 'local', user: 'mallory' } });
    await expect(mallory.status(jobId)).rejects.toMatchObject({ status: 404 });

    const port = await freePort();
    const nowhere = new LibraClient({
      endpoint: `http://127.0.0.1:${port}`,
      retry: { retries: 1, baseDelayMs: 1 },
    });
    const unreachable = await nowhere.pools().catch((error: unknown) => error);
    expect(unreachable).toBeInstanceOf(LibraConnectionError);
    expect((unreachable as Error).message).toBe(
      `GET /api/v1/spark/pools: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`,
    );
  });

  it('sends a JWT as a bearer token, and needs a region for IAM only when the endpoint names none', async () => {
    const proxy = await startFaultProxy(runtime.url, () => ({ kind: 'forward' }));
    try {
      await new LibraClient({ endpoint: proxy.url, auth: { mode: 'jwt', token: 'eyJ.test.token' } }).pools();
      expect(proxy.requests[0]?.headers.authorization).toBe('Bearer eyJ.test.token');
    } finally {
      await proxy.close();
    }
    const saved = { region: process.env.AWS_REGION, fallback: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      expect(() => new LibraClient({ endpoint: 'https://api.example.com/', auth: { mode: 'iam' } })).toThrow(
        'iam auth needs a region: api.example.com names none; give one, or set AWS_REGION',
      );
      expect(
        () =>
          new LibraClient({
            endpoint: 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/',
            auth: { mode: 'iam' },
          }),
      ).not.toThrow();
    } finally {
      if (saved.region !== undefined) process.env.AWS_REGION = saved.region;
      if (saved.fallback !== undefined) process.env.AWS_DEFAULT_REGION = saved.fallback;
    }
  });

  it("sends its auth with a link on its own endpoint only; another origin's link is read without it", async () => {
    const answer = {
      kind: 'answer',
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: 'out\n',
    } as const;
    const own = await startFaultProxy(runtime.url, () => answer);
    const other = await startFaultProxy(runtime.url, () => answer);
    try {
      const jwt = new LibraClient({ endpoint: own.url, auth: { mode: 'jwt', token: 'secret-token' } });
      expect(await jwt.fetchLink(`${own.url}local/jobs/j/runs/r/stdout.txt`)).toBe('out\n');
      expect(await jwt.fetchLink(`${other.url}local/jobs/j/runs/r/stdout.txt`)).toBe('out\n');
      expect(own.requests[0]?.headers.authorization).toBe('Bearer secret-token');
      expect(other.requests[0]?.headers.authorization).toBeUndefined();
      await expect(jwt.fetchLink('s3://bucket/logs/')).rejects.toThrow(
        'cannot read s3://bucket/logs/: not an http(s) link',
      );
    } finally {
      await own.close();
      await other.close();
    }
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs('Wed, 02 Dec 2026 14:00:05 GMT', Date.parse('2026-12-02T14:00:00Z'))).toBe(5000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});
