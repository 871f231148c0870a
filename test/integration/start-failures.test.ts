import * as sfn from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asStartRefusal } from '#adapters/aws-errors.ts';
import { START_EXECUTION_ERRORS } from '#adapters/sfn-workflow-starter.ts';
import { startRetryDelaySeconds } from '#core/backoff.ts';
import type { LibraConfig } from '#core/config.ts';
import {
  checkConverged,
  createHarness,
  freshTable,
  type Harness,
  leaseOutsideAdmission,
  sizedJob,
} from '../support/admission.ts';
import { testConfig } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { forJob } from '../support/faults.ts';

/**
 * No poison job: a workflow start that fails must never hold a pool's capacity for good. A start
 * Step Functions refuses for good ends the job FAILED/START_FAILED at once; one that fails
 * transiently is tried again by the tick after a backoff, and ends the same way once
 * startRetry.maxAttempts attempts failed. Either way the lease is given back, the pool is woken
 * and its next job runs, the owner is notified, and startFailed is counted. The errors are the
 * SDK's own exception classes, sorted by the adapter's classifier as StepFunctionsExecutions
 * sorts them.
 */

const config: LibraConfig = testConfig({
  // One job at a time: a job whose start failed and kept its lease would block the pool.
  pools: { one: { cpuCores: 16, memoryGb: 64, maxConcurrentJobs: 1, maxQueueSize: 10 } },
});
const RETRY = config.startRetry;
const SECOND = 1_000;
const MINUTE = 60 * SECOND;

/** A Step Functions answer to StartExecution, as the SDK raises it and the adapter hands it on. */
function startAnswer(
  ErrorClass: typeof sfn.InvalidExecutionInput | typeof sfn.ExecutionLimitExceeded,
  message: string,
) {
  return () =>
    asStartRefusal(
      new ErrorClass({ message, $metadata: { httpStatusCode: 400 } }),
      START_EXECUTION_ERRORS,
    ) as Error;
}

/** The input was over StartExecution's limit: refused for good. */
const inputTooLarge = startAnswer(
  sfn.InvalidExecutionInput,
  'Input exceeds the maximum allowed size of 262144 bytes.',
);
/** The account's open executions are at their limit: clears once some end. */
const executionLimit = startAnswer(sfn.ExecutionLimitExceeded, 'Execution limit exceeded');

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase();
});

afterAll(async () => {
  await db.stop();
});

async function harness(): Promise<Harness> {
  return createHarness(db, { config, tableName: await freshTable(db) });
}

/** A and then B submitted to pool `one`; their intake messages not yet delivered. */
async function twoJobs(h: Harness): Promise<{ A: string; B: string }> {
  const a = await h.submit(sizedJob('one', 2));
  const b = await h.submit(sizedJob('one', 2));
  expect([a.status, b.status]).toEqual([202, 202]);
  return { A: a.jobId as string, B: b.jobId as string };
}

/**
 * A and B submitted to pool `one`, every start of A failing: as `error` says, or when absent as
 * an InjectedFault (an error no adapter sorts as refused: transient).
 */
async function startsOfAFail(
  name: string,
  error?: () => Error,
  h?: Harness,
): Promise<{ h: Harness; A: string; B: string }> {
  const world = h ?? (await harness());
  const ids = await twoJobs(world);
  world.faults.arm({
    name,
    match: forJob('start', ids.A),
    timing: 'before',
    persistent: true,
    ...(error && { error }),
  });
  return { h: world, ...ids };
}

const deliverAll = (h: Harness) => h.deliver(h.intake.messages.splice(0));

/** Every capacity counter of the pool back at zero, no lease held. */
async function expectPoolEmpty(h: Harness): Promise<void> {
  const pool = await h.pools.getPool('one');
  expect({
    cpu: pool.cpuUsed,
    memory: pool.memoryUsedMiB,
    running: pool.running,
    leases: pool.leases,
  }).toEqual({
    cpu: 0,
    memory: 0,
    running: 0,
    leases: {},
  });
}

/** The pool now holds only `jobId`, which started. */
async function expectRunsAlone(h: Harness, jobId: string): Promise<void> {
  const pool = await h.pools.getPool('one');
  expect(Object.keys(pool.leases)).toEqual([jobId]);
  expect(pool.running).toBe(1);
  expect(h.starter.started.has(jobId)).toBe(true);
  expect((await h.jobs.getJob(jobId))?.status).toBe('SCHEDULED');
}

/** A started B's workflow moves it to RUNNING; the harness starter runs no workflow, so the test does. */
async function runs(h: Harness, jobId: string): Promise<void> {
  const running = await h.jobs.transition(jobId, ['SCHEDULED'], 'RUNNING', {
    at: h.clock.now().toISOString(),
  });
  expect(running.status).toBe('RUNNING');
}

describe('a start Step Functions refuses for good', () => {
  it('through admission: the job ends START_FAILED with AWS’s message, at once, and the next job runs', async () => {
    const { h, A, B } = await startsOfAFail('refused', inputTooLarge);

    await deliverAll(h);

    const a = await h.jobs.getJob(A);
    expect(a?.status).toBe('FAILED');
    expect(a?.reason).toEqual({
      code: 'START_FAILED',
      message:
        'Step Functions StartExecution refused it (InvalidExecutionInput): Input exceeds the maximum allowed size of 262144 bytes.',
    });
    expect(a?.completedAt).toBeDefined();
    // Tried once: a refusal for good is not retried.
    expect(h.faults.firedNamed('refused')).toHaveLength(1);
    expect(a?.startAttempts).toBeUndefined();
    await expectPoolEmpty(h);
    expect(h.notified).toEqual([{ jobId: A, status: 'FAILED' }]);
    expect(h.metrics.counter('startFailed', 'one')).toBe(1);
    expect(h.metrics.counter('jobsFinished', 'one', { status: 'FAILED' })).toBe(1);
    expect(h.metrics.counter('startRetried', 'one')).toBe(0);
    // Its history says why, from SCHEDULED.
    const events = await h.jobs.listEvents(A);
    expect(events.at(-1)).toMatchObject({
      status: 'FAILED',
      from: 'SCHEDULED',
      reason: { code: 'START_FAILED' },
    });

    // The job ender woke the pool: B takes the room A gave back, and runs.
    expect(h.intake.messages).toEqual([{ kind: 'wake', pool: 'one', jobId: A }]);
    await deliverAll(h);
    await expectRunsAlone(h, B);
    await runs(h, B);

    // A later tick neither starts A again nor counts it again.
    h.clock.advance(10 * MINUTE);
    await h.tick();
    expect(h.faults.firedNamed('refused')).toHaveLength(1);
    expect(h.metrics.counter('startFailed', 'one')).toBe(1);
    expect(h.notified).toHaveLength(1);
    await checkConverged(h, [A, B]);
  });

  it('through the reconciler: a SCHEDULED job with no execution ends START_FAILED, and the tick admits the next', async () => {
    const h = await harness();
    const { A, B } = await twoJobs(h);
    h.intake.messages.length = 0;
    // As an admission that died after its move and before its start leaves it: leased,
    // SCHEDULED, no execution.
    await leaseOutsideAdmission(h, A);
    await h.jobs.transition(A, ['QUEUED'], 'SCHEDULED', { at: h.clock.now().toISOString() });
    h.faults.arm({
      name: 'refused',
      match: forJob('start', A),
      timing: 'before',
      persistent: true,
      error: inputTooLarge,
    });

    // Within the grace a SCHEDULED job gets, the tick leaves it alone; then it starts it.
    h.clock.advance(10 * SECOND);
    await h.tick();
    expect(h.faults.firedNamed('refused')).toHaveLength(0);
    expect((await h.jobs.getJob(A))?.status).toBe('SCHEDULED');
    h.clock.advance(MINUTE);
    await h.tick();

    const a = await h.jobs.getJob(A);
    expect(a?.status).toBe('FAILED');
    expect(a?.reason?.code).toBe('START_FAILED');
    expect(a?.reason?.message).toContain('Input exceeds the maximum allowed size of 262144 bytes.');
    expect(h.faults.firedNamed('refused')).toHaveLength(1);
    expect(h.notified).toEqual([{ jobId: A, status: 'FAILED' }]);
    expect(h.metrics.counter('startFailed', 'one')).toBe(1);
    expect(h.metrics.counter('jobsFinished', 'one', { status: 'FAILED' })).toBe(1);
    // The same tick's admission pass, after the reconciler, already took the room for B.
    await expectRunsAlone(h, B);
    await runs(h, B);
    // And the wake the job ender sent finds nothing more to do.
    expect(h.intake.messages).toContainEqual({ kind: 'wake', pool: 'one', jobId: A });
    await deliverAll(h);
    await checkConverged(h, [A, B]);
  });

  it('a job that started meanwhile is not failed by a late refusal, and keeps its lease', async () => {
    const h = await harness();
    const { A } = await twoJobs(h);
    // The job moves on (its execution, started by another party, marked it RUNNING) just as
    // this start is refused.
    h.faults.interpose('A runs', forJob('start', A), async () => {
      await runs(h, A);
    });
    h.faults.arm({ name: 'refused', match: forJob('start', A), timing: 'before', error: inputTooLarge });

    await deliverAll(h);

    expect(h.faults.firedNamed('refused')).toHaveLength(1);
    expect((await h.jobs.getJob(A))?.status).toBe('RUNNING');
    expect(Object.keys((await h.pools.getPool('one')).leases)).toEqual([A]);
    expect(h.notified).toEqual([]);
    expect(h.metrics.counter('startFailed', 'one')).toBe(0);
  });
});

describe('a start that fails transiently', () => {
  it('is tried again by the tick after its backoff, not before, and the job runs', async () => {
    const h = await harness();
    const { A, B } = await twoJobs(h);
    h.faults.arm({ name: 'limit', match: forJob('start', A), timing: 'before', error: executionLimit });

    await deliverAll(h);

    const a = await h.jobs.getJob(A);
    expect(a?.status).toBe('SCHEDULED');
    expect(a?.startAttempts).toBe(1);
    const delay = startRetryDelaySeconds(RETRY, 1) * SECOND;
    expect(Date.parse(a?.nextStartAt ?? '') - Date.parse(a?.updatedAt ?? '')).toBe(delay);
    expect(h.metrics.counter('startRetried', 'one')).toBe(1);
    expect(h.metrics.counter('startFailed', 'one')).toBe(0);
    // It keeps its lease while it is retried: B waits.
    expect(Object.keys((await h.pools.getPool('one')).leases)).toEqual([A]);

    // Before the backoff is over the tick does not start it.
    h.clock.advance(delay - 5 * SECOND);
    await h.tick();
    expect(h.starter.started.has(A)).toBe(false);
    expect((await h.jobs.getJob(A))?.startAttempts).toBe(1);

    h.clock.advance(10 * SECOND);
    await h.tick();
    expect(h.starter.started.has(A)).toBe(true);
    expect((await h.jobs.getJob(A))?.status).toBe('SCHEDULED');
    expect(h.starter.started.has(B)).toBe(false);
    expect(h.notified).toEqual([]);
    expect(h.metrics.counter('startFailed', 'one')).toBe(0);
    await checkConverged(h, [A, B]);
  });

  it('that never succeeds: tried maxAttempts times with growing waits, then START_FAILED, and the next job runs', async () => {
    const { h, A, B } = await startsOfAFail('limit', executionLimit);
    const admittedAt = h.clock.now().getTime();
    await deliverAll(h);

    // Ticks every 10 s (finer than AWS's minute, to see the waits) until A ends.
    const attemptsAt: number[] = [admittedAt];
    const step = 10 * SECOND;
    for (let t = 0; t < 30 * MINUTE && (await h.jobs.getJob(A))?.status === 'SCHEDULED'; t += step) {
      h.clock.advance(step);
      const before = h.faults.firedNamed('limit').length;
      await h.tick();
      if (h.faults.firedNamed('limit').length > before) attemptsAt.push(h.clock.now().getTime());
    }

    expect(h.faults.firedNamed('limit')).toHaveLength(RETRY.maxAttempts);
    expect(attemptsAt).toHaveLength(RETRY.maxAttempts);
    // Each wait is at least the backoff after the failure before it, and less than one tick more.
    for (let n = 1; n < attemptsAt.length; n++) {
      const waited = (attemptsAt[n] as number) - (attemptsAt[n - 1] as number);
      const backoff = startRetryDelaySeconds(RETRY, n) * SECOND;
      expect(waited, `wait before attempt ${n + 1}`).toBeGreaterThanOrEqual(backoff);
      expect(waited, `wait before attempt ${n + 1}`).toBeLessThan(backoff + step + SECOND);
    }
    // The waits grow: 30 s, 60 s, 120 s, 240 s by default.
    expect([1, 2, 3, 4].map((n) => startRetryDelaySeconds(RETRY, n))).toEqual([30, 60, 120, 240]);

    const a = await h.jobs.getJob(A);
    expect(a?.status).toBe('FAILED');
    expect(a?.reason?.code).toBe('START_FAILED');
    expect(a?.reason?.message).toBe(
      `the workflow did not start in ${RETRY.maxAttempts} attempts; the last failed with: ExecutionLimitExceeded: Execution limit exceeded`,
    );
    expect(a?.startAttempts).toBe(RETRY.maxAttempts - 1);
    expect(h.metrics.counter('startRetried', 'one')).toBe(RETRY.maxAttempts - 1);
    expect(h.metrics.counter('startFailed', 'one')).toBe(1);
    expect(h.metrics.counter('jobsFinished', 'one', { status: 'FAILED' })).toBe(1);
    expect(h.notified).toEqual([{ jobId: A, status: 'FAILED' }]);
    // The tick that ended A admitted B in its admission pass.
    await expectRunsAlone(h, B);
    await runs(h, B);
    await deliverAll(h);
    await checkConverged(h, [A, B]);
  });

  it('with a smaller bound in the configuration, ends after that many attempts', async () => {
    const { h, A, B } = await startsOfAFail(
      'net',
      undefined,
      createHarness(db, {
        config: testConfig({ ...config, startRetry: { maxAttempts: 2, initialDelaySeconds: 5 } }),
        tableName: await freshTable(db),
      }),
    );

    await deliverAll(h);
    expect((await h.jobs.getJob(A))?.status).toBe('SCHEDULED');
    h.clock.advance(6 * SECOND);
    await h.tick();

    const a = await h.jobs.getJob(A);
    expect(h.faults.firedNamed('net')).toHaveLength(2);
    expect(a?.status).toBe('FAILED');
    expect(a?.reason?.message).toMatch(
      /^the workflow did not start in 2 attempts; the last failed with: InjectedFault: /,
    );
    await expectRunsAlone(h, B);
  });
});
