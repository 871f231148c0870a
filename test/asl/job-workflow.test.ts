import { afterAll, beforeAll, describe, it } from 'vitest';
import { retryDelaysSeconds } from '#core/backoff.ts';
import { retryPolicySchema } from '#core/job-request.ts';
import { sqlJob, testConfig } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import {
  endsUnseen,
  fail,
  type HarnessOptions,
  hang,
  held,
  OWNER,
  ScriptedSender,
  succeed,
  throwError,
  until,
  WorkflowHarness,
} from '../support/workflow.ts';
import { HAPPY_PATH_STATES, jobWorkflowDefinition, retrierOf, TIMEOUT_PATH_STATES } from './definition.ts';

/**
 * Every path through state-machines/job.asl.json as a named scenario on the local interpreter
 * (aws-local-stepfunctions, through LocalWorkflow): the job record and pool lease made by the
 * real submit and admission, every DynamoDB condition evaluated by dynalite, the wake sent to
 * a LocalQueue, the finalizer and notifier as their handlers; only the Spark backend and the
 * webhook receiver are scripted. The scenarios run concurrently, each on its own table.
 */

let db: TestDatabase;
const harnesses: WorkflowHarness[] = [];

async function harness(options: HarnessOptions): Promise<WorkflowHarness> {
  const created = await WorkflowHarness.create(db, options);
  harnesses.push(created);
  return created;
}

beforeAll(async () => {
  db = await startTestDatabase('asl-unused');
});

afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.close()));
  await db?.stop();
});

/** A configuration whose default pool runs on EMR on EKS only. */
function eksConfig(extra: Readonly<Record<string, unknown>> = {}) {
  const eks = { virtualClusterId: 'vc-config', executionRoleArn: 'arn:aws:iam::000000000000:role/asl-eks' };
  return testConfig({ pools: { default: { backends: { eks: { ...eks, ...extra } } } } });
}

/** A one-second run timeout: the run state's TimeoutSecondsPath reads it. */
const oneSecondTimeout: HarnessOptions['input'] = (input) => ({ ...input, timeoutSeconds: 1 });

describe.concurrent('job.asl.json scenarios', () => {
  it('happy path: RUNNING then SUCCEEDED in at most 10 transitions, lease released, admission woken', async ({
    expect,
  }) => {
    const h = await harness({ spark: [succeed] });
    const { jobId, execution } = await h.start(sqlJob());
    expect((await h.pools.getPool('default')).running).toBe(1);

    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.statesEntered).toEqual(HAPPY_PATH_STATES);
    expect(execution.transitions).toBeLessThanOrEqual(10);

    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'SUCCEEDED', attempts: 1, backendState: 'SUCCESS' });
    expect(job.reason).toBeUndefined();
    expect(job.startedAt).toBeDefined();
    expect(Date.parse(job.completedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(job.startedAt ?? ''));
    const pool = await h.pools.getPool('default');
    expect(pool.leases[jobId]).toBeUndefined();
    expect(pool).toMatchObject({ running: 0, cpuUsed: 0, memoryUsedMiB: 0 });
    expect(h.wakes(jobId)).toEqual([{ kind: 'wake', pool: 'default', jobId }]);
    expect(await h.statusHistory(jobId)).toEqual(['SCHEDULED', 'RUNNING', 'SUCCEEDED']);
    const [running, succeeded] = (await h.events(jobId)).slice(1);
    expect(running).toMatchObject({ status: 'RUNNING', from: 'SCHEDULED', attempt: 0 });
    expect(succeeded).toMatchObject({ status: 'SUCCEEDED', from: 'RUNNING', attempt: 0 });

    // What EMR Serverless was asked: the job's name, an idempotency token per attempt, the backstop.
    expect(h.spark.calls).toHaveLength(1);
    const request = h.spark.calls[0]?.request;
    expect(request).toMatchObject({
      ApplicationId: 'app-asl',
      Name: jobId,
      ClientToken: `${jobId}-0`,
      Tags: { 'libra:job-id': jobId, 'libra:pool': 'default' },
    });
    expect(Object.keys(request ?? {}).sort()).toEqual([
      'ApplicationId',
      'ClientToken',
      'ConfigurationOverrides',
      'ExecutionRoleArn',
      'ExecutionTimeoutMinutes',
      'JobDriver',
      'Name',
      'Tags',
    ]);
    // The final state's notify task always runs; with no subscription nothing is sent.
    expect(h.notifierInvocations).toEqual([{ jobId, status: 'SUCCEEDED' }]);
    expect(h.sender.sent).toEqual([]);
    expect(h.finalizerInvocations).toEqual([]);
    expect(h.ended).toEqual([]);
  });

  it('happy path on EMR on EKS: the run goes to emr-containers with the virtual cluster', async ({
    expect,
  }) => {
    const config = eksConfig();
    const h = await harness({ spark: [succeed], config });
    const { jobId, execution } = await h.start(sqlJob({ executionMode: 'eks' }));
    await execution.done;

    expect(execution.statesEntered).toEqual(
      HAPPY_PATH_STATES.map((state) => state.replace('RunOnEmrServerless', 'RunOnEks')),
    );
    expect(await h.job(jobId)).toMatchObject({ status: 'SUCCEEDED', backend: 'eks', attempts: 1 });
    expect(h.spark.calls.map((call) => call.kind)).toEqual(['eks']);
    expect(h.spark.calls[0]?.request).toMatchObject({
      VirtualClusterId: 'vc-asl',
      ReleaseLabel: 'emr-7.5.0-latest',
      Name: jobId,
      ClientToken: `${jobId}-0`,
      JobDriver: { SparkSubmitJobDriver: { EntryPoint: 's3://asl-artifacts/runners/sql_runner.py' } },
    });
    expect(await h.lease(jobId)).toBeUndefined();
  });

  it('tags named as JavaScript object members reach StartJobRun as given, through the interpreter', async ({
    expect,
  }) => {
    const h = await harness({ spark: [succeed] });
    const tags = { constructor: 'c', toString: 't', hasOwnProperty: 'h', valueOf: 'v' };
    const { jobId, execution } = await h.start(sqlJob({ tags }));
    await execution.done;

    expect(await h.job(jobId)).toMatchObject({ status: 'SUCCEEDED', tags });
    expect(h.spark.calls[0]?.request.Tags).toEqual({
      ...tags,
      'libra:job-id': jobId,
      'libra:pool': 'default',
    });
  });

  it("EMR on EKS with the pool's job template: the run starts with JobTemplateId, on every attempt", async ({
    expect,
  }) => {
    const config = eksConfig({ jobTemplateId: 'tpl0123' });
    const withTemplate: HarnessOptions['input'] = (input) => ({
      ...input,
      request: { eks: { ...(input.request.eks ?? expect.unreachable()), JobTemplateId: 'tpl0123' } },
    });
    const h = await harness({ spark: [fail(), succeed], config, input: withTemplate });
    const { jobId, execution } = await h.start(
      sqlJob({ executionMode: 'eks', retryPolicy: { maxRetries: 1 } }),
    );
    await execution.done;

    expect(execution.statesEntered.filter((state) => state.startsWith('RunOn'))).toEqual([
      'RunOnEksWithTemplate',
      'RunOnEksWithTemplate',
    ]);
    expect(await h.job(jobId)).toMatchObject({ status: 'SUCCEEDED', backend: 'eks', attempts: 2 });
    expect(h.spark.calls.map((call) => call.request.JobTemplateId)).toEqual(['tpl0123', 'tpl0123']);
    expect(h.spark.calls[1]?.request).toMatchObject({
      VirtualClusterId: 'vc-asl',
      ClientToken: `${jobId}-1`,
    });
  });

  it('a run the backend refuses for good: FAILED with BACKEND_UNAVAILABLE at once, not retried', async ({
    expect,
  }) => {
    const h = await harness({ spark: [throwError('EMRServerless.ValidationException')] });
    const { jobId, execution } = await h.start(sqlJob({ retryPolicy: { maxRetries: 2 } }));
    await execution.done;

    expect(execution.statesEntered).toContain('MarkRefused');
    expect(execution.statesEntered).not.toContain('OnFailure');
    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'FAILED', attempts: 1, reason: { code: 'BACKEND_UNAVAILABLE' } });
    expect(job.reason?.message).toBe('EMRServerless.ValidationException: scripted');
    expect(h.spark.calls).toHaveLength(1);
    expect(await h.lease(jobId)).toBeUndefined();
    expect(h.wakes(jobId)).toHaveLength(1);
  });

  it('EMR on EKS refuses with its own errors: caught on the EKS run, not as a failed run', async ({
    expect,
  }) => {
    const h = await harness({
      spark: [throwError('EMRContainers.ValidationException')],
      config: eksConfig(),
    });
    const { jobId, execution } = await h.start(
      sqlJob({ executionMode: 'eks', retryPolicy: { maxRetries: 2 } }),
    );
    await execution.done;

    expect(execution.statesEntered).toContain('MarkRefused');
    expect(await h.job(jobId)).toMatchObject({ status: 'FAILED', reason: { code: 'BACKEND_UNAVAILABLE' } });
    expect(h.spark.calls).toHaveLength(1);
  });

  it("EMR Serverless's errors on an EKS run are a failed run like any other: retried", async ({ expect }) => {
    const h = await harness({
      spark: [throwError('EMRServerless.ValidationException'), succeed],
      config: eksConfig(),
    });
    const { jobId, execution } = await h.start(
      sqlJob({ executionMode: 'eks', retryPolicy: { maxRetries: 1 } }),
    );
    await execution.done;

    expect(execution.statesEntered).not.toContain('MarkRefused');
    expect(await h.job(jobId)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
  });

  it('webhooks for every subscribed move, one message id per occurrence', async ({ expect }) => {
    const h = await harness({ spark: [fail(), succeed] });
    const { jobId, execution } = await h.start(
      sqlJob({
        retryPolicy: { maxRetries: 1 },
        notifications: { webhook: 'http://127.0.0.1:9/hooks', events: ['RUNNING', 'RETRYING', 'SUCCEEDED'] },
      }),
    );
    await execution.done;

    expect(await h.job(jobId)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(h.sender.types).toEqual(['job.running', 'job.retrying', 'job.running', 'job.succeeded']);
    expect(new Set(h.sender.sent.map((message) => message.id)).size).toBe(4);
    const webhooks = (await h.events(jobId)).filter((event) => event.type === 'WEBHOOK');
    expect(webhooks.map((event) => [event.status, event.detail?.outcome])).toEqual([
      ['RUNNING', 'delivered'],
      ['RETRYING', 'delivered'],
      ['RUNNING', 'delivered'],
      ['SUCCEEDED', 'delivered'],
    ]);
  });

  it("duration warnings: every MarkRunning sets warnAt to its run's start, which puts a warned job in the warnings index; the end takes it out", async ({
    expect,
  }) => {
    const h = await harness({ spark: [fail(), held, held] });
    const far = '2999-01-01T00:00:00.000Z';
    const warned = await h.start(sqlJob({ warnAfterMinutes: 1, retryPolicy: { maxRetries: 1 } }));
    const plain = await h.start(sqlJob());
    await until('both retried and plain runs to be going', () => h.spark.running.length === 2);

    const job = await h.job(warned.jobId);
    expect(job).toMatchObject({ status: 'RUNNING', attempts: 2 });
    const running = (await h.events(warned.jobId)).filter((e) => e.status === 'RUNNING');
    // The second attempt's start, not the first's: MarkRunning wrote it again after the retry.
    expect(running.map((e) => e.attempt)).toEqual([0, 1]);
    // (the history item is written a state later than the mark.)
    const runStartedAt = Date.parse(job.runStartedAt ?? '');
    expect(runStartedAt).toBeGreaterThan(Date.parse(running[0]?.at ?? ''));
    expect(runStartedAt).toBeLessThanOrEqual(Date.parse(running[1]?.at ?? ''));
    expect(Date.parse(job.startedAt ?? '')).toBeLessThan(runStartedAt);
    expect(job.warnAt).toBe(job.runStartedAt);
    // Every run has the clock; only the job with a warning is in the index.
    expect((await h.job(plain.jobId)).warnAt).toBeDefined();
    expect((await h.jobs.dueWarnings('default', far, 10)).due).toEqual([
      { jobId: warned.jobId, warnAt: job.warnAt },
    ]);

    h.spark.finish(warned.jobId);
    h.spark.finish(plain.jobId);
    await Promise.all([warned.execution.done, plain.execution.done]);
    for (const { jobId } of [warned, plain]) {
      const ended = await h.job(jobId);
      expect(ended.status).toBe('SUCCEEDED');
      expect(ended.warnAt).toBeUndefined();
      expect(ended.runStartedAt).toBeDefined();
    }
    expect((await h.jobs.dueWarnings('default', far, 10)).due).toEqual([]);
  });

  it('fail then succeed: one retry after the computed 1 s delay, attempts 2', async ({ expect }) => {
    const h = await harness({ spark: [fail('attempt 0 lost its executors'), succeed] });
    const { jobId, execution } = await h.start(sqlJob({ retryPolicy: { maxRetries: 2 } }));
    await execution.done;

    expect(execution.status).toBe('SUCCEEDED');
    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(h.spark.calls.map((call) => call.clientToken)).toEqual([`${jobId}-0`, `${jobId}-1`]);
    expect(await h.statusHistory(jobId)).toEqual([
      'SCHEDULED',
      'RUNNING',
      'RETRYING',
      'RUNNING',
      'SUCCEEDED',
    ]);
    const retrying = (await h.events(jobId)).find((event) => event.status === 'RETRYING');
    expect(retrying).toMatchObject({
      from: 'RUNNING',
      attempt: 1,
      delaySeconds: 1,
      error: { name: 'States.TaskFailed' },
    });
    expect(String((retrying?.error as { cause?: string } | undefined)?.cause)).toContain(
      'attempt 0 lost its executors',
    );
    expect(h.spark.pauseBefore(1)).toBeGreaterThanOrEqual(1000);
    expect(execution.statesEntered.filter((state) => state === 'Backoff')).toHaveLength(1);
    expect(await h.lease(jobId)).toBeUndefined();
    expect(h.wakes(jobId)).toHaveLength(1);
  });

  it('retries exhausted: maxRetries 2 → FAILED after 3 attempts, RETRYING items carry the delays 1, 2', async ({
    expect,
  }) => {
    const h = await harness({ spark: [fail('boom 0'), fail('boom 1'), fail('boom 2')] });
    const policy = { maxRetries: 2, initialDelaySeconds: 1, backoffMultiplier: 2 };
    const { jobId, execution } = await h.start(sqlJob({ retryPolicy: policy }));
    await execution.done;

    expect(execution.status).toBe('SUCCEEDED');
    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'FAILED', attempts: 3, reason: { code: 'SPARK_JOB_FAILED' } });
    expect(job.reason?.message).toContain('boom 2');
    expect(h.spark.calls.map((call) => call.attempt)).toEqual([0, 1, 2]);
    expect(await h.statusHistory(jobId)).toEqual([
      'SCHEDULED',
      'RUNNING',
      'RETRYING',
      'RUNNING',
      'RETRYING',
      'RUNNING',
      'FAILED',
    ]);
    const retrying = (await h.events(jobId)).filter((event) => event.status === 'RETRYING');
    const expectedDelays = retryDelaysSeconds(retryPolicySchema.parse(policy));
    expect(expectedDelays).toEqual([1, 2]);
    expect(retrying.map((event) => event.delaySeconds)).toEqual(expectedDelays);
    expect(retrying.map((event) => event.attempt)).toEqual([1, 2]);
    // The waits between the runs were at least the delays.
    expect(h.spark.pauseBefore(1)).toBeGreaterThanOrEqual(1000);
    expect(h.spark.pauseBefore(2)).toBeGreaterThanOrEqual(2000);
    expect(await h.lease(jobId)).toBeUndefined();
    expect(h.wakes(jobId)).toHaveLength(1);
  });

  it('timeout: the run state times out → TIMEOUT with RUN_TIMEOUT, StopRun stops the run', async ({
    expect,
  }) => {
    const h = await harness({ spark: [hang], input: oneSecondTimeout });
    const { jobId, execution } = await h.start(sqlJob());
    await execution.done;

    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.statesEntered).toEqual(TIMEOUT_PATH_STATES);
    const job = await h.job(jobId);
    expect(job).toMatchObject({
      status: 'TIMEOUT',
      attempts: 1,
      reason: { code: 'RUN_TIMEOUT', message: 'the run took longer than 1 seconds' },
    });
    expect(h.finalizerInvocations).toEqual([{ action: 'stop-run', jobId, attempt: 0 }]);
    expect(h.notifierInvocations).toEqual([{ jobId, status: 'TIMEOUT' }]);
    expect(h.spark.cancels).toEqual([jobId]);
    expect(h.spark.calls.map((call) => call.end)).toEqual(['CANCELLED']);
    expect(h.spark.running).toEqual([]);
    expect(await h.statusHistory(jobId)).toEqual(['SCHEDULED', 'RUNNING', 'TIMEOUT']);
    expect(await h.lease(jobId)).toBeUndefined();
    expect(h.wakes(jobId)).toHaveLength(1);
  });

  it('timeout with retryOnTimeout: the timed-out run is stopped, the retry succeeds', async ({ expect }) => {
    const h = await harness({ spark: [hang, succeed], input: oneSecondTimeout });
    const { jobId, execution } = await h.start(
      sqlJob({ retryOnTimeout: true, retryPolicy: { maxRetries: 1, initialDelaySeconds: 1 } }),
    );
    await execution.done;

    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(execution.statesEntered).toContain('StopTimedOutRun');
    expect(h.finalizerInvocations).toEqual([{ action: 'stop-run', jobId, attempt: 0 }]);
    const [first, second] = h.spark.calls;
    expect(first?.end).toBe('CANCELLED');
    // The timed-out run was stopped before the next attempt took its place.
    expect(h.spark.pauseBefore(1)).toBeGreaterThanOrEqual(0);
    expect(second?.end).toBe('SUCCESS');
    expect(await h.statusHistory(jobId)).toEqual([
      'SCHEDULED',
      'RUNNING',
      'RETRYING',
      'RUNNING',
      'SUCCEEDED',
    ]);
    const retrying = (await h.events(jobId)).find((event) => event.status === 'RETRYING');
    expect(retrying).toMatchObject({ delaySeconds: 1, error: { name: 'States.Timeout' } });
    expect(await h.lease(jobId)).toBeUndefined();
  });

  it('timeout with retryOnTimeout: the retry times out too → TIMEOUT after 2 attempts', async ({
    expect,
  }) => {
    const h = await harness({ spark: [hang, hang], input: oneSecondTimeout });
    const { jobId, execution } = await h.start(
      sqlJob({ retryOnTimeout: true, retryPolicy: { maxRetries: 1, initialDelaySeconds: 1 } }),
    );
    await execution.done;

    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'TIMEOUT', attempts: 2, reason: { code: 'RUN_TIMEOUT' } });
    expect(h.finalizerInvocations).toEqual([
      { action: 'stop-run', jobId, attempt: 0 },
      { action: 'stop-run', jobId, attempt: 1 },
    ]);
    expect(h.spark.calls.map((call) => call.end)).toEqual(['CANCELLED', 'CANCELLED']);
    expect(await h.statusHistory(jobId)).toEqual(['SCHEDULED', 'RUNNING', 'RETRYING', 'RUNNING', 'TIMEOUT']);
    expect(await h.lease(jobId)).toBeUndefined();
    expect(h.wakes(jobId)).toHaveLength(1);
  });

  it('a timeout without retryOnTimeout is not retried, even with retries left', async ({ expect }) => {
    const h = await harness({ spark: [hang], input: oneSecondTimeout });
    const { jobId, execution } = await h.start(sqlJob({ retryPolicy: { maxRetries: 3 } }));
    await execution.done;

    expect(await h.job(jobId)).toMatchObject({ status: 'TIMEOUT', attempts: 1 });
    expect(h.spark.calls).toHaveLength(1);
  });

  it('cancel while running: CANCELLING, execution stopped, finalizer cancels the run → CANCELLED', async ({
    expect,
  }) => {
    const h = await harness({ spark: [hang] });
    const { jobId, execution } = await h.start(
      sqlJob({ notifications: { webhook: 'http://127.0.0.1:9/hooks', events: ['CANCELLED'] } }),
    );
    await until('the run to start', () => h.spark.running.length === 1);
    expect((await h.job(jobId)).status).toBe('RUNNING');
    expect(await h.lease(jobId)).toBeDefined();

    const answer = await h.service.cancel(OWNER, jobId);
    expect(answer).toMatchObject({ jobId, status: 'CANCELLING' });
    await execution.done;

    expect(execution.status).toBe('ABORTED');
    expect(h.ended.map((end) => end.execution.name)).toEqual([jobId]);
    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'CANCELLED', reason: { code: 'CANCELLED_BY_USER' } });
    expect(job.cancelledAt).toBeDefined();
    expect(h.spark.cancels).toEqual([jobId]);
    expect(h.spark.calls.map((call) => call.end)).toEqual(['CANCELLED']);
    expect(await h.statusHistory(jobId)).toEqual(['SCHEDULED', 'RUNNING', 'CANCELLING', 'CANCELLED']);
    // The finalizer notifies the final state the workflow could not reach.
    expect(h.sender.types).toEqual(['job.cancelled']);
    expect(await h.lease(jobId)).toBeUndefined();
    expect((await h.pools.getPool('default')).running).toBe(0);
    expect(h.wakes(jobId)).toHaveLength(1);
  });

  it('cancel while waiting to retry: the Backoff wait is cut short → CANCELLED, no further attempt', async ({
    expect,
  }) => {
    const h = await harness({ spark: [fail('attempt 0 failed')] });
    const { jobId, execution } = await h.start(
      sqlJob({ retryPolicy: { maxRetries: 1, initialDelaySeconds: 60, maxDelaySeconds: 60 } }),
    );
    await until('the Backoff wait', () => execution.statesEntered.at(-1) === 'Backoff');
    // No run is going while the job waits: the failed run is no longer on the record.
    const waiting = await h.job(jobId);
    expect(waiting.status).toBe('RETRYING');
    expect(waiting.backendState).toBeUndefined();
    expect(waiting.backendRunId).toBeUndefined();
    // Its FAILED event may still be delivered after the retry decision; it must not decide the end.
    await h.jobs.recordRun({
      jobId,
      runId: `jr-${h.spark.calls[0]?.clientToken}`,
      state: 'FAILED',
      at: new Date().toISOString(),
    });
    expect((await h.job(jobId)).backendState).toBe('FAILED');

    const answer = await h.service.cancel(OWNER, jobId);
    expect(answer).toMatchObject({ jobId, status: 'CANCELLING' });
    await execution.done;

    expect(execution.status).toBe('ABORTED');
    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'CANCELLED', reason: { code: 'CANCELLED_BY_USER' } });
    expect(h.spark.calls).toHaveLength(1);
    expect(await h.statusHistory(jobId)).toEqual([
      'SCHEDULED',
      'RUNNING',
      'RETRYING',
      'CANCELLING',
      'CANCELLED',
    ]);
    expect(await h.lease(jobId)).toBeUndefined();
    expect(h.wakes(jobId)).toHaveLength(1);
  });

  it('throttled start: StartJobRun throttled twice is retried without spending an attempt', async ({
    expect,
  }) => {
    const throttled = throwError('EMRServerless.ThrottlingException');
    const h = await harness({ spark: [throttled, throttled, succeed] });
    const { jobId, execution } = await h.start(sqlJob({ retryPolicy: { maxRetries: 2 } }));
    await execution.done;

    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(h.spark.calls.map((call) => [call.clientToken, call.end])).toEqual([
      [`${jobId}-0`, 'EMRServerless.ThrottlingException'],
      [`${jobId}-0`, 'EMRServerless.ThrottlingException'],
      [`${jobId}-0`, 'SUCCESS'],
    ]);
    expect(execution.statesEntered).toEqual(HAPPY_PATH_STATES);
    // Each retry of the run state is billed as a transition.
    expect(execution.transitions).toBe(HAPPY_PATH_STATES.length + 2);
    expect(await h.statusHistory(jobId)).toEqual(['SCHEDULED', 'RUNNING', 'SUCCEEDED']);
  });

  it("cancel racing the run: a run that ended before the stop reached it ends SUCCEEDED through the finalizer, the cancel's reason cleared", async ({
    expect,
  }) => {
    const h = await harness({ spark: [endsUnseen('SUCCESS')] });
    const { jobId, execution } = await h.start(sqlJob());
    await until('the run to end', () => h.spark.running.length === 1);
    expect(await h.job(jobId)).toMatchObject({ status: 'RUNNING', backendState: 'SUCCESS' });

    expect(await h.service.cancel(OWNER, jobId)).toMatchObject({ status: 'CANCELLING' });
    await execution.done;

    expect(execution.status).toBe('ABORTED');
    const job = await h.job(jobId);
    // Ended as the workflow's MarkSucceeded ends the same race: SUCCEEDED, the cancel's reason
    // cleared; the history keeps the cancel that came too late.
    expect(job.status).toBe('SUCCEEDED');
    expect(job.reason).toBeUndefined();
    expect(job.completedAt).toBeDefined();
    const events = await h.events(jobId);
    expect(events.find((event) => event.status === 'CANCELLING')).toMatchObject({
      reason: { code: 'CANCELLED_BY_USER', message: `cancelled by ${OWNER}` },
    });
    expect(events.find((event) => event.status === 'SUCCEEDED')).not.toHaveProperty('reason');
    // The finalizer's move ended it, so the job ender counted it, once, as what the run reached.
    expect(h.metrics.counter('jobsFinished', job.pool, { status: 'SUCCEEDED' })).toBe(1);
    expect(h.metrics.counter('jobsFinished', job.pool, { status: 'CANCELLED' })).toBe(0);
    expect(await h.statusHistory(jobId)).toEqual(['SCHEDULED', 'RUNNING', 'CANCELLING', 'SUCCEEDED']);
    expect(await h.lease(jobId)).toBeUndefined();
    expect(h.wakes(jobId)).toHaveLength(1);
  });

  it("cancel racing the run: a run that succeeds between the cancel's write and its stop ends SUCCEEDED, the cancel's reason cleared", async ({
    expect,
  }) => {
    const h = await harness({ spark: [held] });
    const { jobId, execution } = await h.start(sqlJob());
    await until('the run to start', () => h.spark.running.length === 1);
    // The cancel's first step, its write; its StopExecution has not come yet.
    const reason = { code: 'CANCELLED_BY_USER' as const, message: `cancelled by ${OWNER}` };
    await h.jobs.transition(jobId, ['RUNNING'], 'CANCELLING', { at: new Date().toISOString(), reason });
    h.spark.finish(jobId);
    await execution.done;

    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.statesEntered).toContain('MarkSucceeded');
    const job = await h.job(jobId);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.reason).toBeUndefined();
    expect(job.completedAt).toBeDefined();
    const succeeded = (await h.events(jobId)).find((event) => event.status === 'SUCCEEDED');
    expect(succeeded).toMatchObject({ from: 'CANCELLING' });
    expect(await h.statusHistory(jobId)).toEqual(['SCHEDULED', 'RUNNING', 'CANCELLING', 'SUCCEEDED']);
    expect(await h.lease(jobId)).toBeUndefined();
    expect(h.wakes(jobId)).toHaveLength(1);
    // The cancel's StopExecution now finds the execution ended, and the job final: nothing changes.
    await expect(h.service.cancel(OWNER, jobId)).rejects.toMatchObject({ name: 'ConflictError' });
  });

  it('cancel while StartJobRun is being retried after a throttle: no run starts after the stop', async ({
    expect,
  }) => {
    const h = await harness({ spark: [throwError('EMRServerless.ThrottlingException'), hang] });
    const { jobId, execution } = await h.start(sqlJob());
    await until('the throttled call', () => h.spark.calls.length === 1);

    expect(await h.service.cancel(OWNER, jobId)).toMatchObject({ status: 'CANCELLING' });
    await execution.done;

    expect(execution.status).toBe('ABORTED');
    expect(await h.job(jobId)).toMatchObject({ status: 'CANCELLED' });
    // Step Functions schedules nothing once an execution is stopped: no run is left going
    // (when the retry came before the cancel, the cancel stopped that run).
    expect(h.spark.running).toEqual([]);
    expect(h.spark.calls.slice(1).map((call) => call.end)).toEqual(
      h.spark.calls.length > 1 ? ['CANCELLED'] : [],
    );
    expect(await h.lease(jobId)).toBeUndefined();
  });

  it('webhook down: every delivery fails, the notify task is retried per its Retry, the job still succeeds', async ({
    expect,
  }) => {
    const sender = new ScriptedSender(() => 503);
    const h = await harness({ spark: [succeed], sender });
    const { jobId, execution } = await h.start(
      sqlJob({ notifications: { webhook: 'http://127.0.0.1:9/hooks', events: ['SUCCEEDED'] } }),
    );
    await execution.done;

    expect(execution.status).toBe('SUCCEEDED');
    expect(await h.job(jobId)).toMatchObject({ status: 'SUCCEEDED' });
    const retrier = retrierOf(jobWorkflowDefinition(), 'NotifyFinal', 'WebhookDeliveryFailed');
    const deliveries = 1 + retrier.MaxAttempts;
    expect(h.notifierInvocations).toHaveLength(deliveries);
    expect(sender.types).toEqual(Array(deliveries).fill('job.succeeded'));
    // Every attempt is recorded on the job, under one webhook id.
    const webhooks = (await h.events(jobId)).filter((event) => event.type === 'WEBHOOK');
    expect(webhooks.map((event) => event.detail)).toEqual(
      Array.from({ length: deliveries }, (_, i) =>
        expect.objectContaining({ attempt: i + 1, outcome: 'failed', statusCode: 503 }),
      ),
    );
    expect(new Set(webhooks.map((event) => event.detail?.webhookId)).size).toBe(1);
    expect(execution.output).toMatchObject({ notifyError: { Error: 'WebhookDeliveryFailed' } });
    expect(await h.lease(jobId)).toBeUndefined();
  }, 60_000);

  it('webhook 410: the subscription is disabled at the first event, later events are not sent', async ({
    expect,
  }) => {
    const sender = new ScriptedSender(() => 410);
    const h = await harness({ spark: [succeed], sender });
    const { jobId, execution } = await h.start(
      sqlJob({ notifications: { webhook: 'http://127.0.0.1:9/hooks', events: ['RUNNING', 'SUCCEEDED'] } }),
    );
    await execution.done;

    const job = await h.job(jobId);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.webhookDisabledAt).toBeDefined();
    expect(execution.statesEntered).toContain('NotifyRunning');
    expect(execution.statesEntered).toContain('NotifyFinal');
    expect(h.notifierInvocations).toEqual([
      { jobId, status: 'RUNNING' },
      { jobId, status: 'SUCCEEDED' },
    ]);
    expect(sender.types).toEqual(['job.running']);
    const webhooks = (await h.events(jobId)).filter((event) => event.type === 'WEBHOOK');
    expect(webhooks).toEqual([
      expect.objectContaining({
        status: 'RUNNING',
        detail: expect.objectContaining({ outcome: 'gone', statusCode: 410 }),
      }),
    ]);
    expect(execution.output).not.toHaveProperty('notifyError');
  });
});
