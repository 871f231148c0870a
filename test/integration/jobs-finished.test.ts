import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOBS_FINISHED } from '#core/job-ends.ts';
import { TERMINAL_STATUSES } from '#core/job-states.ts';
import { createWorkflowEndedHandler } from '#handlers/workflow-ended.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { silentLogger } from '../support/api.ts';
import { startRoomyRuntime } from '../support/local-runtime.ts';
import { until } from '../support/workflow.ts';

/**
 * jobsFinished over the real paths: job.asl.json on the local interpreter, the local engine,
 * the finalizer and the job ender the local runtime composes (with its InMemoryMetrics), and the
 * workflow-ended handler given each execution's end as EventBridge gives it in AWS (the local
 * runtime sends only the other ends to the finalizer). A job the workflow ends and a job the
 * finalizer ends are each counted once, under their final state.
 */

let runtime: LocalRuntime;

beforeAll(async () => {
  runtime = await startRoomyRuntime();
});

afterAll(async () => {
  await runtime?.stop();
});

interface Answer {
  readonly status: number;
  readonly body: { readonly jobId?: string; readonly status?: string };
}

async function call(method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${runtime.url}/api/v1/spark/jobs${path}`, {
    method,
    ...(body !== undefined && {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

async function submit(body: Record<string, unknown>): Promise<string> {
  const answer = await call('POST', '/submit', body);
  if (answer.status !== 202) throw new Error(`submit answered ${answer.status}`);
  return answer.body.jobId as string;
}

const statusOf = async (jobId: string): Promise<string | undefined> =>
  (await call('GET', `/${jobId}`)).body.status;

/** Waits for the job's execution to end and hands its end to the handler, as the rule on SUCCEEDED would. */
async function executionEnded(jobId: string, handler: ReturnType<typeof createWorkflowEndedHandler>) {
  const execution = await until(`an execution of ${jobId}`, () => runtime.workflow.get(jobId));
  await execution.done;
  return handler({
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: {
      name: jobId,
      status: execution.status,
      output: execution.output === undefined ? null : JSON.stringify(execution.output),
    },
  });
}

const finished = () =>
  Object.fromEntries(
    TERMINAL_STATUSES.map((status) => [
      status,
      runtime.metrics.counter(JOBS_FINISHED, 'default', { status }),
    ]),
  );

describe('jobsFinished', () => {
  it('counts each job once under its final state, whether the workflow or the finalizer ended it', async () => {
    // Prepare
    const handler = createWorkflowEndedHandler({ metrics: runtime.metrics, logger: silentLogger() });

    // Act
    const succeeded = await submit({ code: 'SELECT 1', kind: 'sql' });
    const failed = await submit({ code: 'SELEC 1', kind: 'sql', retryPolicy: { maxRetries: 0 } });
    const cancelled = await submit({ code: 'import time; time.sleep(600)', kind: 'python' });
    await until('the long job to run', async () => (await statusOf(cancelled)) === 'RUNNING');
    expect((await call('DELETE', `/${cancelled}`)).status).toBe(202);
    const ends = await Promise.all(
      [succeeded, failed, cancelled].map((jobId) => executionEnded(jobId, handler)),
    );
    await until('the cancelled job to end', async () => (await statusOf(cancelled)) === 'CANCELLED');

    // Assess: the workflow wrote two ends (its executions succeeded), the finalizer the third.
    expect(await Promise.all([succeeded, failed].map(statusOf))).toEqual(['SUCCEEDED', 'FAILED']);
    expect(ends).toEqual([
      { jobId: succeeded, counted: 'SUCCEEDED' },
      { jobId: failed, counted: 'FAILED' },
      { jobId: cancelled },
    ]);
    expect(finished()).toEqual({ SUCCEEDED: 1, FAILED: 1, CANCELLED: 1, TIMEOUT: 0 });

    // Act again: what a reconciler pass or a redelivered finalizer event would do.
    await runtime.parts.jobEnder.finish(cancelled, 'CANCELLED');
    await runtime.parts.jobEnder.finish(succeeded, 'SUCCEEDED');

    // Assess
    expect(finished()).toEqual({ SUCCEEDED: 1, FAILED: 1, CANCELLED: 1, TIMEOUT: 0 });
  });
});
