import { afterAll, beforeAll, describe, it } from 'vitest';
import type { IntakeMessage } from '#core/ports.ts';
import { type MotoServer, startMotoServer } from '../global/moto.ts';
import { sqlJob } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { configureMotoServer, MotoWorkflowHarness, sparkStandIns } from '../support/moto-workflow.ts';
import {
  fail,
  type HarnessOptions,
  hang,
  OWNER,
  type ScriptedSpark,
  succeed,
  until,
  WorkflowHarness,
} from '../support/workflow.ts';
import { HAPPY_PATH_STATES, jobWorkflowDefinition, TIMEOUT_PATH_STATES } from './definition.ts';

/**
 * state-machines/job.asl.json on a second interpreter: moto's Step Functions (derived from
 * LocalStack's), next to aws-local-stepfunctions. Each scenario runs on both, with the same use
 * cases and scripted Spark backend, and must leave the same job record, history, pool and wake
 * messages (times and ids normalised), enter the same states and send EMR and the Lambdas the same
 * requests.
 *
 * On moto the DynamoDB, SQS and Lambda tasks are real service calls; only the two EMR `.sync`
 * tasks are stood in for (sparkStandIns). This file has a moto_server of its own: moto's execution
 * switch (`stepfunctions.execute_state_machine`) swaps the whole Step Functions backend, so on the
 * suite's shared server it would hide every other file's state machines while it is on.
 */

let server: MotoServer;
let db: TestDatabase;
const closers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  [server, db] = await Promise.all([startMotoServer(), startTestDatabase('asl-moto-unused')]);
  await configureMotoServer(server.endpoint, {
    stepfunctions: { execute_state_machine: true },
    // moto's Lambda without Docker: invoking answers with the payload and runs no code.
    lambda: { use_docker: false },
  });
});

afterAll(async () => {
  await Promise.all(closers.map((closer) => closer.close()));
  await Promise.all([server?.stop(), db?.stop()]);
});

/** moto_server can die under a request it cannot handle: say so rather than fail on a refused connection. */
function assertServing(): void {
  if (!server.alive()) throw new Error(`this file's moto_server died:\n${server.log()}`);
}

async function bothInterpreters(options: HarnessOptions) {
  const [local, moto] = await Promise.all([
    WorkflowHarness.create(db, options),
    MotoWorkflowHarness.create(server, options),
  ]);
  closers.push(local, moto);
  return { local, moto };
}

const ISO_MILLIS = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g;
/** How moto's interpreter writes `$$.State.EnteredTime` (AWS: milliseconds and `Z`). */
const MOTO_ENTERED_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00/g;

/**
 * The value with what differs between two runs of one scenario replaced: the job id, Step
 * Functions' and the application's times (AWS's format only: a time in another format is a
 * difference) and TTLs computed from them.
 */
function normalise(value: unknown, jobId: string): unknown {
  if (typeof value === 'string') {
    return value
      .replaceAll(jobId, '<job>')
      .replace(ISO_MILLIS, '<time>')
      .replace(MOTO_ENTERED_TIME, '<time>');
  }
  if (Array.isArray(value)) return value.map((item) => normalise(item, jobId));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        normalise(key, jobId),
        key === 'expiresAt' && typeof item === 'number' ? '<ttl>' : normalise(item, jobId),
      ]),
    );
  }
  return value;
}

/** Runs that are over: the ScriptedSpark records a run's end after its last state event. */
const runsEnded = (spark: ScriptedSpark) => spark.calls.every((call) => call.end !== undefined);

interface Outcome {
  readonly execution: { status: string; states: readonly string[] };
  readonly job: unknown;
  readonly history: unknown;
  readonly pool: unknown;
  readonly wakes: unknown;
  readonly sparkRequests: unknown;
  readonly lambdas: unknown;
  readonly webhooksSent: number;
}

async function outcomeOf(
  h: WorkflowHarness | MotoWorkflowHarness,
  jobId: string,
  execution: { status: string; states: readonly string[] },
  lambdas: { notifier: unknown[]; finalizer: unknown[] },
): Promise<Outcome> {
  await until('the runs to end', () => runsEnded(h.spark));
  const wakes: IntakeMessage[] = await h.wakes(jobId);
  return normalise(
    {
      execution,
      job: await h.job(jobId),
      history: await h.jobs.listEvents(jobId),
      pool: await h.pools.getPool('default'),
      wakes,
      sparkRequests: h.spark.calls.map(({ kind, request, attempt, end }) => ({
        kind,
        request,
        attempt,
        end,
      })),
      lambdas,
      webhooksSent: h.sender.sent.length,
    },
    jobId,
  ) as Outcome;
}

async function localOutcome(h: WorkflowHarness, jobId: string): Promise<Outcome> {
  const execution = h.workflow.get(jobId);
  if (!execution) throw new Error(`no local execution for ${jobId}`);
  await execution.done;
  return outcomeOf(
    h,
    jobId,
    { status: execution.status, states: execution.statesEntered },
    { notifier: h.notifierInvocations, finalizer: h.finalizerInvocations },
  );
}

async function motoOutcome(h: MotoWorkflowHarness, jobId: string): Promise<Outcome> {
  const execution = await h.finished(jobId).catch((error: Error) => {
    // A 500 from moto is a Python exception: its log says which.
    throw new Error(`${error.message}\nmoto_server's log ends with:\n${server.log()}`, { cause: error });
  });
  const invoked = (fn: 'notifier' | 'finalizer') =>
    execution.lambdaInvocations
      .filter((invocation) => invocation.functionName.includes(`asl-${fn}-`))
      .map((invocation) => invocation.payload);
  return outcomeOf(
    h,
    jobId,
    { status: execution.status, states: execution.statesEntered },
    { notifier: invoked('notifier'), finalizer: invoked('finalizer') },
  );
}

/** Runs one scenario's job on both interpreters and returns both outcomes. */
async function runOnBoth(options: HarnessOptions, body: Record<string, unknown>) {
  const { local, moto } = await bothInterpreters(options);
  const [onLocal, onMoto] = await Promise.all([
    local.start(body).then(({ jobId }) => localOutcome(local, jobId)),
    moto.start(body).then(({ jobId }) => motoOutcome(moto, jobId)),
  ]);
  assertServing();
  return { onLocal, onMoto };
}

/**
 * A 3-second run timeout. Not 1 s: on a loaded machine moto's task thread can start after a 1 s
 * timeout has already expired, and then records a TaskScheduled event its GetExecutionHistory
 * cannot serialise (docs/emulators.md).
 */
const runTimeout: HarnessOptions['input'] = (input) => ({ ...input, timeoutSeconds: 3 });

// moto's interpreter is slow (a new boto3 client per service call) and the machine is shared.
describe.concurrent('job.asl.json on moto and on aws-local-stepfunctions', { timeout: 120_000 }, () => {
  it('success: the same record, history, pool and wake', async ({ expect }) => {
    const { onLocal, onMoto } = await runOnBoth({ spark: [succeed] }, sqlJob());

    expect(onMoto).toEqual(onLocal);
    expect(onMoto.execution).toEqual({ status: 'SUCCEEDED', states: HAPPY_PATH_STATES });
    expect(onMoto.job).toMatchObject({ status: 'SUCCEEDED', attempts: 1, backendState: 'SUCCESS' });
    expect(onMoto.pool).toMatchObject({ running: 0, cpuUsed: 0, memoryUsedMiB: 0, leases: {} });
    expect(onMoto.wakes).toEqual([{ kind: 'wake', pool: 'default', jobId: '<job>' }]);
    // NotifyFinal always runs; with no subscription the notifier sends nothing.
    expect(onMoto.lambdas).toEqual({ notifier: [{ jobId: '<job>', status: 'SUCCEEDED' }], finalizer: [] });
    expect(onMoto.webhooksSent).toBe(0);
  });

  it('$$.State.EnteredTime: moto writes microseconds and +00:00 where AWS and the local interpreter write milliseconds and Z', async ({
    expect,
  }) => {
    const { local, moto } = await bothInterpreters({ spark: [succeed] });
    const [onLocal, onMoto] = await Promise.all([
      local.start(sqlJob()).then(async ({ jobId, execution }) => {
        await execution.done;
        return local.job(jobId);
      }),
      moto.start(sqlJob()).then(async ({ jobId }) => {
        await moto.finished(jobId);
        return moto.job(jobId);
      }),
    ]);
    assertServing();
    // startedAt and completedAt come from the workflow's $$.State.EnteredTime; submittedAt from the API.
    expect(onLocal.startedAt).toMatch(/\.\d{3}Z$/);
    expect(onMoto.startedAt).toMatch(/\.\d{6}\+00:00$/);
    expect(onMoto.completedAt).toMatch(/\.\d{6}\+00:00$/);
    expect(onMoto.submittedAt).toMatch(/\.\d{3}Z$/);
    // Both forms parse as instants.
    expect(Date.parse(onMoto.completedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(onMoto.startedAt ?? ''));
  });

  it('retry then failure: one retry after 1 s, then FAILED with the last run as the reason', async ({
    expect,
  }) => {
    const { onLocal, onMoto } = await runOnBoth(
      { spark: [fail('boom 0'), fail('boom 1')] },
      sqlJob({ retryPolicy: { maxRetries: 1, initialDelaySeconds: 1 } }),
    );

    expect(onMoto).toEqual(onLocal);
    expect(onMoto.job).toMatchObject({ status: 'FAILED', attempts: 2, reason: { code: 'SPARK_JOB_FAILED' } });
    const history = onMoto.history as { status?: string; error?: { name: string; cause: string } }[];
    expect(history.map((event) => event.status)).toEqual([
      'SCHEDULED',
      'RUNNING',
      'RETRYING',
      'RUNNING',
      'FAILED',
    ]);
    expect(history.find((event) => event.status === 'RETRYING')?.error).toEqual({
      name: 'States.TaskFailed',
      cause: JSON.stringify({ JobRunId: 'jr-<job>-0', State: 'FAILED', StateDetails: 'boom 0' }),
    });
    expect(onMoto.execution.states.filter((state) => state === 'Backoff')).toHaveLength(1);
  });

  it('run timeout: TimeoutSecondsPath ends the run state → TIMEOUT, StopRun called, lease released', async ({
    expect,
  }) => {
    const { onLocal, onMoto } = await runOnBoth({ spark: [hang], input: runTimeout }, sqlJob());

    expect(onMoto).toEqual(onLocal);
    expect(onMoto.execution.states).toEqual(TIMEOUT_PATH_STATES);
    expect(onMoto.job).toMatchObject({
      status: 'TIMEOUT',
      reason: { code: 'RUN_TIMEOUT', message: 'the run took longer than 3 seconds' },
    });
    expect(onMoto.lambdas).toEqual({
      notifier: [{ jobId: '<job>', status: 'TIMEOUT' }],
      finalizer: [{ action: 'stop-run', jobId: '<job>', attempt: 0 }],
    });
  });

  it('cancelled before it runs: the late execution finds the job CANCELLED and ends at NotRunnable', async ({
    expect,
  }) => {
    const { local, moto } = await bothInterpreters({ spark: [], holdStarts: true });
    const cancelBeforeStart = async (h: WorkflowHarness | MotoWorkflowHarness) => {
      const jobId = await (h instanceof WorkflowHarness ? h.admitHeld(sqlJob()) : h.start(sqlJob())).then(
        (started) => (typeof started === 'string' ? started : started.jobId),
      );
      expect(await h.job(jobId)).toMatchObject({ status: 'SCHEDULED' });
      // No execution yet: the cancel stops nothing and finalizes the job itself.
      expect(await h.service.cancel(OWNER, jobId)).toMatchObject({ status: 'CANCELLED' });
      await h.releaseStarts();
      return jobId;
    };
    const [onLocal, onMoto] = await Promise.all([
      cancelBeforeStart(local).then((jobId) => localOutcome(local, jobId)),
      cancelBeforeStart(moto).then((jobId) => motoOutcome(moto, jobId)),
    ]);
    assertServing();

    expect(onMoto).toEqual(onLocal);
    expect(onMoto.execution).toEqual({ status: 'SUCCEEDED', states: ['MarkRunning', 'NotRunnable'] });
    expect(onMoto.job).toMatchObject({ status: 'CANCELLED', reason: { code: 'CANCELLED_BY_USER' } });
    expect((onMoto.history as { status?: string }[]).map((event) => event.status)).toEqual([
      'SCHEDULED',
      'CANCELLING',
      'CANCELLED',
    ]);
    expect(onMoto.pool).toMatchObject({ running: 0, leases: {} });
    expect(onMoto.sparkRequests).toEqual([]);
  });
});

describe('the EMR stand-in', () => {
  it('replaces exactly the two .sync run states and keeps their timeout, Retry and Catch', ({ expect }) => {
    const original = jobWorkflowDefinition();
    const replaced = JSON.parse(sparkStandIns(JSON.stringify(original), 'http://queue')) as typeof original;
    for (const name of ['RunOnEmrServerless', 'RunOnEks']) {
      const before = original.States[name];
      const after = replaced.States[name];
      expect(before?.Resource).toMatch(/startJobRun\.sync$/);
      expect(after).toMatchObject({
        Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
        TimeoutSecondsPath: before?.TimeoutSecondsPath,
        Retry: before?.Retry,
      });
    }
    const unchanged = Object.keys(original.States).filter((name) => !name.startsWith('RunOn'));
    for (const name of unchanged) expect(replaced.States[name]).toEqual(original.States[name]);
  });
});
