import { afterEach, describe, expect, it } from 'vitest';
import { ownerKey } from '#core/fair-share.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.ts';
import { eventually } from '../support/admission.ts';
import { testConfig } from '../support/api.ts';
import { submitJob } from '../support/local-http.ts';

/**
 * Fair share end to end in the local runtime (this process): submits over HTTP as two users
 * (`x-libra-user`), admission on the local queue, every job's workflow (job.asl.json) run by the
 * local interpreter, its SQL by DuckDB, its release written by the workflow's own DynamoDB step.
 * One user floods the pool; the other's job still gets in, and no user passes the pool's cap.
 */

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT']);

let runtime: LocalRuntime | undefined;

afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

interface View {
  readonly jobId: string;
  readonly status: string;
  readonly submittedAt: string;
  readonly scheduledAt?: string;
  readonly completedAt?: string;
}

const submit = (rt: LocalRuntime, user: string, pool: string) =>
  submitJob(rt.url, { kind: 'sql', code: 'SELECT 42 AS answer', pool }, { user });

async function view(rt: LocalRuntime, user: string, jobId: string): Promise<View> {
  const response = await fetch(`${rt.url}/api/v1/spark/jobs/${jobId}`, { headers: { 'x-libra-user': user } });
  return (await response.json()) as View;
}

async function allEnded(rt: LocalRuntime, jobs: readonly (readonly [string, string])[]): Promise<View[]> {
  let views: View[] = [];
  await eventuallyLong('every job ended', async () => {
    views = await Promise.all(jobs.map(([user, jobId]) => view(rt, user, jobId)));
    return views.every((v) => FINAL.has(v.status));
  });
  return views;
}

/** As `eventually`, for work that runs real workflows: a minute at most. */
async function eventuallyLong(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`still not true: ${what}`);
}

describe('fair share in the local runtime', () => {
  it('lets the second user in while the first floods the pool, and every release gives its owner’s count back', {
    timeout: 120_000,
  }, async () => {
    runtime = await startLocalRuntime({
      config: testConfig({
        pools: { shared: { cpuCores: 16, memoryGb: 64, maxConcurrentJobs: 1, maxQueueSize: 100 } },
      }),
      port: 0,
      logLevel: 'SILENT',
      tickSeconds: 5,
    });
    const rt = runtime;
    const flood: string[] = [];
    for (let i = 0; i < 12; i++) flood.push(await submit(rt, 'alice', 'shared'));
    const lone = await submit(rt, 'bob', 'shared');
    // Bob's job arrives when its submit takes its fair-share tag, somewhere between its
    // submittedAt and this answer: what was admitted in between came before it arrived.
    const arrived = new Date().toISOString();

    const views = await allEnded(rt, [...flood.map((id) => ['alice', id] as const), ['bob', lone] as const]);
    for (const v of views) expect(v.status).toBe('SUCCEEDED');
    // Admitted after bob's job arrived, in admission order: bob's job is among the first two.
    const after = views
      .filter((v) => v.jobId === lone || (v.scheduledAt as string) >= arrived)
      .sort((a, b) => (a.scheduledAt as string).localeCompare(b.scheduledAt as string))
      .map((v) => v.jobId);
    expect(after.indexOf(lone)).toBeGreaterThanOrEqual(0);
    expect(after.indexOf(lone)).toBeLessThan(2);
    // Alice's own jobs in her submit order.
    const aliceOrder = views
      .filter((v) => flood.includes(v.jobId))
      .sort((a, b) => (a.scheduledAt as string).localeCompare(b.scheduledAt as string))
      .map((v) => v.jobId);
    expect(aliceOrder).toEqual(flood);

    // The workflow's releases gave every count back.
    await eventually('the pool is empty', async () => (await rt.parts.pools.getPool('shared')).running === 0);
    const usage = await rt.parts.pools.getPool('shared');
    expect(usage.fair.running[ownerKey('alice')] ?? 0).toBe(0);
    expect(usage.fair.running[ownerKey('bob')] ?? 0).toBe(0);
  });

  it('holds each user to maxRunningPerOwner while the other uses the rest of the pool', {
    timeout: 120_000,
  }, async () => {
    runtime = await startLocalRuntime({
      config: testConfig({
        pools: {
          capped: {
            cpuCores: 32,
            memoryGb: 128,
            maxConcurrentJobs: 3,
            maxRunningPerOwner: 1,
            maxQueueSize: 100,
          },
        },
      }),
      port: 0,
      logLevel: 'SILENT',
      tickSeconds: 5,
    });
    const rt = runtime;
    const jobs: (readonly [string, string])[] = [];
    for (let i = 0; i < 5; i++) jobs.push(['alice', await submit(rt, 'alice', 'capped')]);
    for (let i = 0; i < 3; i++) jobs.push(['bob', await submit(rt, 'bob', 'capped')]);

    const views = await allEnded(rt, jobs);
    for (const v of views) expect(v.status).toBe('SUCCEEDED');
    // One job of each user at a time: no two of a user's admissions overlap.
    for (const user of ['alice', 'bob']) {
      const spans = views
        .filter((v) => jobs.some(([u, id]) => u === user && id === v.jobId))
        .map((v) => [v.scheduledAt as string, v.completedAt as string] as const)
        .sort((a, b) => a[0].localeCompare(b[0]));
      for (let i = 1; i < spans.length; i++) {
        expect(
          (spans[i]?.[0] as string) >= (spans[i - 1]?.[1] as string),
          `${user}'s jobs ${i - 1} and ${i} overlap`,
        ).toBe(true);
      }
    }
    await eventually('the pool is empty', async () => (await rt.parts.pools.getPool('capped')).running === 0);
  });
});
