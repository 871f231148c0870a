import { describe, expect, it } from 'vitest';
import { CHECKS, runSmoke } from '../../bin/smoke/checks.ts';
import { LibraClient } from '../../bin/smoke/client.ts';

/**
 * The smoke's checks against answers shaped as a deployed stack gives them (API Gateway's own
 * refusals, EMR links instead of served output), which the local runtime cannot produce; the
 * local runtime itself is in test/integration/smoke.test.ts.
 */

const API = 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/';

type Route = (method: string, url: URL, body: unknown) => { status: number; body: unknown } | undefined;

function clientAnswering(route: Route): LibraClient {
  const fetcher = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const answer = route(init?.method ?? 'GET', url, body) ?? { status: 404, body: { message: 'Not Found' } };
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': 'application/json' },
    });
  }) as typeof fetch;
  return new LibraClient({ endpoint: new URL(API), auth: { mode: 'jwt', token: 't' }, fetch: fetcher });
}

const POOLS = { status: 200, body: { pools: [{ name: 'default' }] } };
const poll = { firstMs: 5, maxMs: 20 };

/** A stack whose jobs run one status read after submit, then end as `end` says, with EMR's links. */
function deployedStack(end: (name: string) => Record<string, unknown>): Route {
  const jobs = new Map<string, { name: string; reads: number; cancelled: boolean }>();
  return (method, url, body) => {
    const path = url.pathname;
    if (path === '/api/v1/spark/pools') return POOLS;
    if (method === 'POST' && path === '/api/v1/spark/jobs/submit') {
      const jobId = `job-00000000-0000-4000-8000-00000000000${jobs.size}`;
      jobs.set(jobId, { name: (body as { name: string }).name, reads: 0, cancelled: false });
      return { status: 202, body: { jobId, status: 'QUEUED' } };
    }
    const jobId = /^\/api\/v1\/spark\/jobs\/(job-[0-9a-f-]+)$/.exec(path)?.[1];
    const job = jobId ? jobs.get(jobId) : undefined;
    if (!job || !jobId) return undefined;
    if (method === 'DELETE') {
      job.cancelled = true;
      return { status: 202, body: { jobId, status: 'CANCELLING' } };
    }
    job.reads++;
    const run = { id: `00abc/${jobId.slice(-4)}` };
    const links = {
      console: 'https://eu-west-1.console.aws.amazon.com/emr/…',
      logs: `s3://artifacts/logs/${jobId}/`,
    };
    if (job.cancelled)
      return {
        status: 200,
        body: {
          jobId,
          status: 'CANCELLED',
          reason: { code: 'CANCELLED_BY_USER', message: 'cancelled by alice' },
          run: { ...run, state: 'CANCELLED' },
          links,
        },
      };
    if (job.reads === 1)
      return { status: 200, body: { jobId, status: 'RUNNING', run: { ...run, state: 'RUNNING' }, links } };
    return { status: 200, body: { jobId, run: { ...run, state: 'RUNNING' }, links, ...end(job.name) } };
  };
}

describe('smoke checks on deployed-shaped answers', () => {
  it("says where a deployed job's output is, since the API does not serve it", async () => {
    const rows = await runSmoke({
      client: clientAnswering(
        deployedStack((name) =>
          name === 'libra-smoke-cancel' ? { status: 'RUNNING' } : { status: 'SUCCEEDED' },
        ),
      ),
      timeoutMs: 2000,
      poll,
    });
    expect(rows.map((row) => [row.check, row.outcome])).toEqual([
      [CHECKS.api, 'PASS'],
      [CHECKS.sql, 'PASS'],
      [CHECKS.python, 'PASS'],
      [CHECKS.cancel, 'PASS'],
      [CHECKS.webhook, 'SKIP'],
    ]);
    expect(rows[1]?.detail).toMatch(
      /^job-\S+ SUCCEEDED; output not served by the API, logs at s3:\/\/artifacts\/logs\/job-\S+\/$/,
    );
    expect(rows[3]?.detail).toMatch(/^job-\S+ CANCELLED; run 00abc\/\S+ CANCELLED$/);
  });

  it('fails a job that ends otherwise with its reason, and one that never ends with where it stood', async () => {
    const rows = await runSmoke({
      client: clientAnswering(
        deployedStack((name) =>
          name === 'libra-smoke-sql'
            ? { status: 'FAILED', reason: { code: 'SPARK_JOB_FAILED', message: 'Job run failed' } }
            : { status: 'RUNNING' },
        ),
      ),
      timeoutMs: 300,
      poll,
    });
    expect(rows[1]).toMatchObject({
      outcome: 'FAIL',
      detail: expect.stringMatching(/^job-\S+ ended FAILED \(SPARK_JOB_FAILED: Job run failed\)$/),
    });
    expect(rows[2]).toMatchObject({
      outcome: 'FAIL',
      detail: expect.stringMatching(/^waited 0\.3 s for job-\S+ to end; it is RUNNING \(run RUNNING\)$/),
    });
  });

  it("explains API Gateway's own refusals of a signature or a token", async () => {
    for (const [status, message, hint] of [
      [403, 'Forbidden', /API Gateway refused the signature: check the region, the credentials/],
      [401, 'Unauthorized', /API Gateway refused the token/],
    ] as const) {
      const [api, ...rest] = await runSmoke({
        client: clientAnswering(() => ({ status, body: { message } })),
        timeoutMs: 1000,
        poll,
      });
      expect(api?.outcome).toBe('FAIL');
      expect(api?.detail).toMatch(new RegExp(`^GET /api/v1/spark/pools: HTTP ${status} ${message} \\(`));
      expect(api?.detail).toMatch(hint);
      expect(rest.map((row) => row.outcome)).toEqual(['FAIL', 'FAIL', 'FAIL', 'SKIP']);
    }
  });
});
