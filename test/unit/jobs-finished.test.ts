import { Metrics } from '@aws-lambda-powertools/metrics';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PowertoolsMetricsSink } from '#adapters/powertools-metrics.ts';
import { TransitionConflict } from '#core/errors.ts';
import { JobEnder } from '#core/job-ender.ts';
import { JOBS_FINISHED, workflowFinalStatus } from '#core/job-ends.ts';
import type { JobRecord } from '#core/job-record.ts';
import { JOB_STATUSES, type JobStatus, TERMINAL_STATUSES, type TerminalStatus } from '#core/job-states.ts';
import type { JobStore, LogPort } from '#core/ports.ts';
import { createWorkflowEndedHandler } from '#handlers/workflow-ended.ts';
import { InMemoryMetrics } from '../../local/metrics.ts';

/**
 * jobsFinished (lambdas/core/job-ends.ts): each job that reaches a final state is counted once,
 * with its pool and status, by the party whose conditional move ended it — the job ender, or the
 * workflow's SUCCEEDED execution through the workflow-ended handler.
 */

const silent: LogPort = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The two calls the job ender makes on the job store, with the store's conditional-move rule. */
class MovesOnly {
  readonly jobs = new Map<string, JobRecord>();

  add(jobId: string, status: JobStatus, pool = 'etl'): void {
    this.jobs.set(jobId, { jobId, status, pool } as JobRecord);
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    return this.jobs.get(jobId);
  }

  async transition(jobId: string, from: readonly JobStatus[], to: JobStatus): Promise<JobRecord> {
    const job = this.jobs.get(jobId);
    if (!job || !from.includes(job.status)) throw new TransitionConflict(jobId, from, job?.status);
    const moved = { ...job, status: to };
    this.jobs.set(jobId, moved);
    return moved;
  }
}

function jobEnderOver(
  store: MovesOnly,
  metrics: InMemoryMetrics,
  release = async () => true,
  calls: string[] = [],
) {
  return new JobEnder({
    jobs: store as unknown as JobStore,
    pools: {
      release: async (...args: unknown[]) => {
        calls.push(`release ${args[1]}`);
        return release();
      },
      freeQueueSlot: async (pool: string) => {
        calls.push(`freeQueueSlot ${pool}`);
      },
    } as never,
    intake: {
      send: async (message) => {
        calls.push(`wake ${message.jobId}`);
      },
    },
    notifier: {
      notify: async (jobId, status) => {
        calls.push(`notify ${jobId} ${status}`);
      },
    },
    clock: () => new Date('2025-01-01T00:00:00.000Z'),
    logger: silent,
    metrics,
  });
}

/** Every jobsFinished count, as `pool status` → count. */
function finishedCounts(metrics: InMemoryMetrics): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [key, value] of metrics.counters) {
    const [name, pool, status] = key.split('|');
    if (name === JOBS_FINISHED) counts[`${pool} ${status?.replace('status=', '')}`] = value;
  }
  return counts;
}

describe('the job ender counts jobsFinished', () => {
  /** Two states each final state can be reached from (job-states.ts MOVES). */
  const FROM: Record<TerminalStatus, [JobStatus, JobStatus]> = {
    SUCCEEDED: ['RUNNING', 'CANCELLING'],
    FAILED: ['RETRYING', 'CANCELLING'],
    CANCELLED: ['SCHEDULED', 'CANCELLING'],
    TIMEOUT: ['QUEUED', 'RUNNING'],
  };

  it.each(TERMINAL_STATUSES)('once, with the pool and %s, when its move ends the job', async (status) => {
    // Prepare
    const store = new MovesOnly();
    store.add('job-1', FROM[status][0]);
    store.add('job-2', FROM[status][1]);
    const metrics = new InMemoryMetrics();

    // Act
    await jobEnderOver(store, metrics).finish('job-1', status);
    await jobEnderOver(store, metrics).finish('job-2', status);

    // Assess
    expect(finishedCounts(metrics)).toEqual({ [`etl ${status}`]: 2 });
    expect(metrics.counter(JOBS_FINISHED, 'etl', { status })).toBe(2);
  });

  it('not again for a retried finish, a lost race, a job the workflow ended, or one that cannot end', async () => {
    // Prepare
    const store = new MovesOnly();
    store.add('job-retried', 'CANCELLING');
    store.add('job-ended-by-workflow', 'SUCCEEDED');
    store.add('job-queued', 'QUEUED');
    const metrics = new InMemoryMetrics();
    const jobEnder = jobEnderOver(store, metrics);

    // Act
    await jobEnder.finish('job-retried', 'CANCELLED');
    await jobEnder.finish('job-retried', 'CANCELLED');
    await jobEnder.finish('job-retried', 'FAILED');
    await jobEnder.finish('job-ended-by-workflow', 'SUCCEEDED');
    await jobEnder.finish('job-queued', 'SUCCEEDED');

    // Assess
    expect(finishedCounts(metrics)).toEqual({ 'etl CANCELLED': 1 });
  });

  it('once when a step after the move fails and the whole finish is retried', async () => {
    // Prepare
    const store = new MovesOnly();
    store.add('job-1', 'RUNNING');
    const metrics = new InMemoryMetrics();
    let releases = 0;
    const jobEnder = jobEnderOver(store, metrics, async () => {
      releases++;
      if (releases === 1) throw new Error('DynamoDB throttled the release');
      return true;
    });

    // Act
    await expect(jobEnder.finish('job-1', 'FAILED')).rejects.toThrow(/throttled/);
    await jobEnder.finish('job-1', 'FAILED');

    // Assess
    expect(releases).toBe(2);
    expect(finishedCounts(metrics)).toEqual({ 'etl FAILED': 1 });
  });

  it('once per job that ended, with its final state, whatever finishes race or repeat', async () => {
    const finishCall = fc.record({
      job: fc.integer({ min: 0, max: 4 }),
      status: fc.constantFrom(...TERMINAL_STATUSES),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<JobStatus>('SCHEDULED', 'RUNNING', 'RETRYING', 'CANCELLING', 'QUEUED'), {
          minLength: 5,
          maxLength: 5,
        }),
        fc.array(fc.array(finishCall, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        async (starts, rounds) => {
          // Prepare
          const store = new MovesOnly();
          starts.forEach((status, i) => {
            store.add(`job-${i}`, status, i % 2 === 0 ? 'etl' : 'default');
          });
          const metrics = new InMemoryMetrics();
          const jobEnder = jobEnderOver(store, metrics);

          // Act: each round's finishes run at once, as a finalizer, a reconciler and a cancel may.
          for (const round of rounds) {
            await Promise.all(round.map((call) => jobEnder.finish(`job-${call.job}`, call.status)));
          }

          // Assess
          const expected: Record<string, number> = {};
          for (const job of store.jobs.values()) {
            if ((TERMINAL_STATUSES as readonly string[]).includes(job.status)) {
              const key = `${job.pool} ${job.status}`;
              expected[key] = (expected[key] ?? 0) + 1;
            }
          }
          expect(finishedCounts(metrics)).toEqual(expected);
        },
      ),
    );
  });
});

describe('the job ender, the one end of a job outside the workflow', () => {
  it('moves, counts, gives the lease back, wakes, then notifies; a queued job frees its place instead', async () => {
    const store = new MovesOnly();
    store.add('job-running', 'RUNNING');
    store.add('job-queued', 'QUEUED');
    const metrics = new InMemoryMetrics();
    const calls: string[] = [];
    const jobEnder = jobEnderOver(store, metrics, async () => true, calls);

    await jobEnder.finish('job-running', 'FAILED');
    await jobEnder.finish('job-queued', 'CANCELLED', undefined, { from: ['QUEUED'] });

    expect(calls).toEqual([
      'release job-running',
      'wake job-running',
      'notify job-running FAILED',
      'freeQueueSlot etl',
      'notify job-queued CANCELLED',
    ]);
    expect(finishedCounts(metrics)).toEqual({ 'etl FAILED': 1, 'etl CANCELLED': 1 });
  });

  it('tells the owner nothing for a job another party ended otherwise, and frees no place twice', async () => {
    const store = new MovesOnly();
    store.add('job-1', 'SUCCEEDED');
    store.add('job-2', 'CANCELLED');
    const calls: string[] = [];
    const jobEnder = jobEnderOver(store, new InMemoryMetrics(), async () => false, calls);

    const ended = await jobEnder.end('job-1', 'CANCELLED');
    await jobEnder.end('job-2', 'CANCELLED', undefined, { from: ['QUEUED'] });

    expect(ended).toMatchObject({ moved: false, job: { status: 'SUCCEEDED' } });
    // The lease, if any, is given back again (a no-op) and the pool woken; job-2's retried end
    // finds it ended as it wanted and only tells the owner again (same webhook id).
    expect(calls).toEqual(['release job-1', 'wake job-1', 'notify job-2 CANCELLED']);
  });
});

describe('workflowFinalStatus', () => {
  it('is the final state a Mark state wrote, and nothing for an execution that wrote none', () => {
    for (const status of TERMINAL_STATUSES) {
      expect(workflowFinalStatus({ pool: 'etl', final: { status } })).toBe(status);
    }
    for (const status of JOB_STATUSES.filter((s) => !(TERMINAL_STATUSES as readonly string[]).includes(s))) {
      expect(workflowFinalStatus({ pool: 'etl', final: { status } })).toBeUndefined();
    }
    expect(workflowFinalStatus({ pool: 'etl' })).toBeUndefined();
    expect(workflowFinalStatus({ pool: 'etl', final: { status: 'DONE' } })).toBeUndefined();
  });
});

/** The output of a job execution as job.asl.json leaves it: its input, with `final` from the last Mark state. */
function executionOutput(final: { status: string; from: string } | undefined, extra: object = {}): string {
  return JSON.stringify({
    jobId: 'job-1',
    pool: 'etl',
    backend: 'emr-serverless',
    try: { attempt: 0, delay: 0 },
    lastAttempt: 3,
    retryDelays: [1, 2, 4],
    retryOnTimeout: false,
    timeoutSeconds: 3600,
    reservation: { cpuCores: 3, memoryMiB: 4224 },
    expiresAt: 1_800_000_000,
    notify: {
      RUNNING: false,
      RETRYING: false,
      SUCCEEDED: true,
      FAILED: true,
      TIMEOUT: true,
      CANCELLED: true,
    },
    request: { emrServerless: { ApplicationId: 'app', ExecutionRoleArn: 'arn:aws:iam::1:role/r' } },
    ...(final && { final }),
    ...extra,
  });
}

function statusChange(status: string, output: string | null | undefined): unknown {
  return {
    version: '0',
    id: 'a1b2c3',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '123456789012',
    time: '2025-01-01T00:10:00Z',
    region: 'eu-west-1',
    resources: ['arn:aws:states:eu-west-1:123456789012:execution:LibraJobs:job-1'],
    detail: {
      executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:LibraJobs:job-1',
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:LibraJobs',
      name: 'job-1',
      status,
      startDate: 1735689600000,
      stopDate: 1735690200000,
      input: '{}',
      ...(output !== undefined && { output }),
    },
  };
}

describe('the workflow-ended handler', () => {
  it.each([
    ['SUCCEEDED', 'RUNNING'],
    ['FAILED', 'RUNNING'],
    ['TIMEOUT', 'RUNNING'],
    ['SUCCEEDED', 'CANCELLING'],
  ])('counts a %s the workflow wrote (from %s) once, with the pool', async (status, from) => {
    // Prepare
    const metrics = new InMemoryMetrics();
    const handler = createWorkflowEndedHandler({ metrics, logger: silent });

    // Act
    const result = await handler(statusChange('SUCCEEDED', executionOutput({ status, from })));

    // Assess
    expect(result).toEqual({ jobId: 'job-1', counted: status });
    expect(finishedCounts(metrics)).toEqual({ [`etl ${status}`]: 1 });
  });

  it('counts a Release conflict or a failed webhook too: the job still ended there', async () => {
    const metrics = new InMemoryMetrics();
    const handler = createWorkflowEndedHandler({ metrics, logger: silent });

    await handler(
      statusChange(
        'SUCCEEDED',
        executionOutput(
          { status: 'FAILED', from: 'RUNNING' },
          { conflict: { Error: 'DynamoDB.ConditionalCheckFailedException' }, notifyError: { Error: 'x' } },
        ),
      ),
    );

    expect(finishedCounts(metrics)).toEqual({ 'etl FAILED': 1 });
  });

  it('counts nothing for an execution whose Mark state lost to another move (NotRunnable)', async () => {
    const metrics = new InMemoryMetrics();
    const handler = createWorkflowEndedHandler({ metrics, logger: silent });

    for (const final of [
      undefined,
      { status: 'RUNNING', from: 'SCHEDULED' },
      { status: 'RETRYING', from: 'RUNNING' },
    ]) {
      const conflict = { conflict: { Error: 'DynamoDB.ConditionalCheckFailedException' } };
      expect(await handler(statusChange('SUCCEEDED', executionOutput(final, conflict)))).toEqual({
        jobId: 'job-1',
      });
    }

    expect(finishedCounts(metrics)).toEqual({});
  });

  it('counts nothing for executions that did not succeed: the finalizer ends those jobs', async () => {
    const metrics = new InMemoryMetrics();
    const handler = createWorkflowEndedHandler({ metrics, logger: silent });

    for (const status of ['RUNNING', 'ABORTED', 'FAILED', 'TIMED_OUT']) {
      await handler(statusChange(status, executionOutput({ status: 'SUCCEEDED', from: 'RUNNING' })));
    }

    expect(finishedCounts(metrics)).toEqual({});
  });

  it('counts nothing, and says so, when the event carries no usable output', async () => {
    const metrics = new InMemoryMetrics();
    const warn = vi.fn();
    const handler = createWorkflowEndedHandler({ metrics, logger: { ...silent, warn } });

    for (const output of [undefined, null, 'not json', '{"final":{"status":"SUCCEEDED"}}']) {
      expect(await handler(statusChange('SUCCEEDED', output))).toEqual({ jobId: 'job-1' });
    }

    expect(finishedCounts(metrics)).toEqual({});
    expect(warn).toHaveBeenCalledTimes(4);
  });

  it('refuses what is not an execution status event', async () => {
    const handler = createWorkflowEndedHandler({ metrics: new InMemoryMetrics(), logger: silent });

    await expect(handler({ source: 'aws.emr-serverless', detail: {} })).rejects.toMatchObject({
      name: 'WorkflowEventInvalid',
      message: expect.stringMatching(/^expected a Step Functions execution status event: /),
    });
  });
});

describe('metric sinks', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('InMemoryMetrics keeps each combination of dimensions apart, in any order', () => {
    const metrics = new InMemoryMetrics();

    metrics.count('jobsFinished', 'etl', 1, { status: 'FAILED', backend: 'eks' });
    metrics.count('jobsFinished', 'etl', 2, { backend: 'eks', status: 'FAILED' });
    metrics.count('jobsFinished', 'etl');

    expect(metrics.counter('jobsFinished', 'etl', { status: 'FAILED', backend: 'eks' })).toBe(3);
    expect(metrics.counter('jobsFinished', 'etl')).toBe(1);
  });

  it('PowertoolsMetricsSink writes one EMF line per count, with the pool and the further dimensions', () => {
    // Prepare
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const sink = new PowertoolsMetricsSink(new Metrics({ namespace: 'Libra', serviceName: 'libra' }));

    // Act
    sink.count(JOBS_FINISHED, 'etl', 1, { status: 'TIMEOUT' });
    sink.count('queued', 'etl');
    sink.flush();

    // Assess: the flush of an empty buffer writes nothing (no Powertools warning either).
    const emf = lines.map((line) => JSON.parse(line));
    expect(emf).toHaveLength(2);
    expect(emf[0]).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'Libra',
            Dimensions: [['service', 'pool', 'status']],
            Metrics: [{ Name: 'jobsFinished', Unit: 'Count' }],
          },
        ],
      },
      service: 'libra',
      pool: 'etl',
      status: 'TIMEOUT',
      jobsFinished: 1,
    });
    expect(emf[1]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['service', 'pool']] }] },
      pool: 'etl',
      queued: 1,
    });
  });
});
