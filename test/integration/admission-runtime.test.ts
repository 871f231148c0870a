import { afterEach, describe, expect, it, vi } from 'vitest';
import { type JobRecord, newJobId } from '#core/job-record.ts';
import type { JobStatus } from '#core/job-states.ts';
import { QUEUE_FULL_RETRY_AFTER, TICK_SECONDS } from '#core/retry-after.ts';
import type { RecordingStarter } from '../../local/recording-starter.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startLocalRuntime } from '../../local/runtime.ts';
import { aheadOf, eventually, sizedJob } from '../support/admission.ts';
import { type Reply, testConfig } from '../support/api.ts';

/**
 * Admission through the local runtime, over HTTP and the local SQS queue: submitters racing
 * for the last places of a queue, a poison intake message, a lost one.
 */

const SUBMIT = '/api/v1/spark/jobs/submit';

const config = testConfig({
  pools: {
    // One job runs at a time; ten may wait.
    busy: { cpuCores: 16, memoryGb: 64, maxConcurrentJobs: 1, maxQueueSize: 10 },
  },
});

let runtime: LocalRuntime | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await runtime?.stop();
  runtime = undefined;
});

async function start(): Promise<LocalRuntime> {
  // Workflows are not run: an admitted job holds its place until the test ends it.
  runtime = await startLocalRuntime({
    config,
    port: 0,
    logLevel: 'SILENT',
    tickSeconds: 3600,
    onWorkflowStart: () => undefined,
  });
  return runtime;
}

const startedOf = (rt: LocalRuntime) => (rt.starter as RecordingStarter).started;

/** A reply over HTTP, shaped as the handler tests read one. */
async function reply(response: Response): Promise<Reply> {
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers.entries()),
    body: await response.json(),
  };
}

async function post(rt: LocalRuntime, body: unknown): Promise<Reply> {
  return reply(
    await fetch(`${rt.url}${SUBMIT}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}

async function status(rt: LocalRuntime, jobId: string): Promise<Reply> {
  return reply(await fetch(`${rt.url}/api/v1/spark/jobs/${jobId}`));
}

async function waitingIn(rt: LocalRuntime, pool: string): Promise<number> {
  const response = await fetch(`${rt.url}/api/v1/spark/pools`);
  const { pools } = (await response.json()) as { pools: { name: string; waiting: number }[] };
  return pools.find((p) => p.name === pool)?.waiting ?? -1;
}

/** The workflow's end of a job: it runs, then finishes, giving its place back and waking the pool. */
async function finish(rt: LocalRuntime, jobId: string): Promise<void> {
  await rt.parts.jobs.transition(jobId, ['SCHEDULED'], 'RUNNING', { at: new Date().toISOString() });
  await rt.parts.jobEnder.finish(jobId, 'SUCCEEDED');
}

/** A QUEUED job written straight to the table: a job whose intake message was lost. */
async function writeWithoutMessage(rt: LocalRuntime, like: string): Promise<string> {
  const template = (await rt.parts.jobs.getJob(like)) as JobRecord;
  const now = new Date().toISOString();
  const { scheduledAt: _scheduled, ...rest } = template;
  const job: JobRecord = {
    ...rest,
    jobId: newJobId(),
    status: 'QUEUED' as JobStatus,
    submittedAt: now,
    queuedAt: now,
    updatedAt: now,
  };
  expect(await rt.parts.jobs.createJob(job)).toBe('created');
  return job.jobId;
}

describe('64 concurrent submitters against a pool whose queue is nearly full', () => {
  it('get only 202 or 429, never more waiting jobs than maxQueueSize, and every accepted job waits in order', async () => {
    const rt = await start();
    const running = await post(rt, sizedJob('busy', 1));
    expect(running.status).toBe(202);
    await eventually('the first job is admitted', () => startedOf(rt).has(running.body.jobId));
    const earlier: string[] = [];
    for (const priority of [5, 3, 8, 5, 1, 9])
      earlier.push((await post(rt, sizedJob('busy', 1, priority))).body.jobId);
    expect(await waitingIn(rt, 'busy')).toBe(6);

    // 64 submitters at once, with ticks (reconciler recount + admission pass) running through them.
    const priorities = Array.from({ length: 64 }, (_, i) => [5, 9, 1, 7][i % 4] as number);
    const [replies] = await Promise.all([
      Promise.all(priorities.map((priority) => post(rt, sizedJob('busy', 1, priority)))),
      rt.tick(),
      new Promise((resolve) => setTimeout(resolve, 5)).then(() => rt.tick()),
      new Promise((resolve) => setTimeout(resolve, 20)).then(() => rt.tick()),
    ]);

    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s !== 202 && s !== 429)).toEqual([]);
    const accepted = replies.filter((r) => r.status === 202).map((r) => r.body.jobId as string);
    const refused = replies.filter((r) => r.status === 429);
    expect(accepted).toHaveLength(4);
    expect(refused).toHaveLength(60);
    for (const reply of refused) {
      expect(reply.headers['content-type']).toBe('application/problem+json');
      expect(reply.body).toMatchObject({ status: 429, type: expect.any(String), title: expect.any(String) });
      // One job running, started seconds ago: Retry-After is about its age, not the one-minute tick.
      expect(reply.headers['retry-after']).toBe(String(reply.body.retryAfter));
      expect(reply.body.retryAfter).toBeGreaterThanOrEqual(QUEUE_FULL_RETRY_AFTER.min);
      expect(reply.body.retryAfter).toBeLessThan(TICK_SECONDS);
    }

    // Nothing lost: every accepted job exists and waits, and the queue holds exactly ten.
    await rt.tick();
    const waiting = [...earlier, ...accepted];
    const views = await Promise.all(waiting.map((jobId) => status(rt, jobId)));
    for (const view of views) {
      expect(view.status).toBe(200);
      expect(view.body.status).toBe('QUEUED');
    }
    expect(await waitingIn(rt, 'busy')).toBe(10);
    expect((await post(rt, sizedJob('busy', 1))).status).toBe(429);

    // In order: positions follow priority then submit order, and admission follows the positions.
    // With the tag each job was given (the status view does not show it).
    const records = await Promise.all(waiting.map((jobId) => rt.parts.jobs.getJob(jobId)));
    const inOrder = records
      .map((record) => record as JobRecord)
      .sort((a, b) => (aheadOf(a, b) ? -1 : aheadOf(b, a) ? 1 : 0))
      .map((record) => record.jobId);
    expect(views.map((v) => v.body.queuePosition).sort((a, b) => a - b)).toEqual(
      waiting.map((_, i) => i + 1),
    );
    for (const view of views) expect(inOrder.indexOf(view.body.jobId) + 1).toBe(view.body.queuePosition);

    let current = running.body.jobId as string;
    for (const next of inOrder) {
      await finish(rt, current);
      await eventually(`${next} is admitted`, () => startedOf(rt).has(next));
      expect([...startedOf(rt).keys()].at(-1)).toBe(next);
      current = next;
    }
    expect([...startedOf(rt).keys()]).toEqual([running.body.jobId, ...inOrder]);
  });
});

describe('the intake queue of the local runtime', () => {
  it('moves a malformed message to the dead-letter queue after five receives, and admits with the good messages of its batch', async () => {
    const rt = await start();
    const first = await post(rt, sizedJob('default', 1));
    await eventually('the first job is admitted', () => startedOf(rt).has(first.body.jobId));
    const lost = await writeWithoutMessage(rt, first.body.jobId);

    // The queue's clock is the process's: visibility timeouts pass when the test says so.
    vi.useFakeTimers({ toFake: ['Date'] });
    const inFlightOnly = () => {
      const counts = rt.intake.getAttributes();
      return counts.ApproximateNumberOfMessages === 0 && counts.ApproximateNumberOfMessagesNotVisible === 1;
    };
    // One batch: a message that is not an intake message, and a good one.
    rt.intake.send('{"kind":"submitted","pool":');
    rt.intake.send(JSON.stringify({ kind: 'submitted', pool: 'default', jobId: lost }));
    await eventually('the good message admitted the job', () => startedOf(rt).has(lost));
    await eventually('the bad message waits out its visibility timeout', inFlightOnly);

    for (let receive = 2; receive <= 5; receive++) {
      vi.setSystemTime(Date.now() + 31_000);
      rt.intake.send(JSON.stringify({ kind: 'wake', pool: 'default' }));
      await eventually(`receive ${receive} of the bad message`, inFlightOnly);
      expect(rt.intakeDeadLetters.getAttributes().ApproximateNumberOfMessages).toBe(0);
    }
    vi.setSystemTime(Date.now() + 31_000);
    rt.intake.send(JSON.stringify({ kind: 'wake', pool: 'default' }));
    await eventually(
      'the bad message is dead-lettered',
      () => rt.intakeDeadLetters.getAttributes().ApproximateNumberOfMessages === 1,
    );
    await eventually('the intake queue is empty', () => {
      const counts = rt.intake.getAttributes();
      return counts.ApproximateNumberOfMessages + counts.ApproximateNumberOfMessagesNotVisible === 0;
    });
    const [dead] = rt.intakeDeadLetters.receive(1);
    expect(dead?.body).toBe('{"kind":"submitted","pool":');
  });

  it('loses a message, and the tick admits the job it was for', async () => {
    const rt = await start();
    const first = await post(rt, sizedJob('default', 1));
    await eventually('the first job is admitted', () => startedOf(rt).has(first.body.jobId));
    // No pass may be left to run: the first job's message is done with, and so is the tick the
    // runtime ran at start (tick() waits for a tick that is running, or runs one that finds nothing).
    await eventually('the intake queue is idle', () => {
      const counts = rt.intake.getAttributes();
      return counts.ApproximateNumberOfMessages + counts.ApproximateNumberOfMessagesNotVisible === 0;
    });
    await rt.tick();
    const lost = await writeWithoutMessage(rt, first.body.jobId);
    // Nothing wakes the pool: no message, no release.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(startedOf(rt).has(lost)).toBe(false);
    expect((await status(rt, lost)).body.status).toBe('QUEUED');

    await rt.tick();

    expect(startedOf(rt).has(lost)).toBe(true);
    expect((await status(rt, lost)).body.status).toBe('SCHEDULED');
  });
});
