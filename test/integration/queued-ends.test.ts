import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeApi, type ApiWiring as Wiring } from '#compose/api.ts';
import { composeAdmission } from '#compose/tick.ts';
import type { NotificationEvent } from '#core/job-request.ts';
import { Reconciler } from '#core/reconciler.ts';
import { cancelJob } from '#core/use-cases/cancel-job.ts';
import { submitJob } from '#core/use-cases/submit-job.ts';
import { InMemoryMetrics } from '../../local/metrics.ts';
import { RecordingStarter } from '../../local/recording-starter.ts';
import { NO_RUNS, NO_WORKFLOWS, RecordingIntake, silentLogger, testConfig } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

/**
 * Jobs that end while queued — cancelled by their owner, or timed out waiting — never reach the
 * workflow or the finalizer: they are counted in jobsFinished and their owner is told all the same.
 */
describe('jobs that end while queued', () => {
  let db: TestDatabase;
  const notified: { jobId: string; status: NotificationEvent }[] = [];
  let metrics: InMemoryMetrics;
  let wiring: Wiring;

  beforeAll(async () => {
    db = await startTestDatabase();
  });
  afterAll(async () => {
    await db.stop();
  });

  function wire(raw: unknown): Wiring {
    notified.length = 0;
    metrics = new InMemoryMetrics();
    wiring = {
      documentClient: db.documentClient,
      tableName: db.tableName,
      config: testConfig(raw),
      logger: silentLogger(),
      metrics,
      intake: new RecordingIntake(),
      workflows: NO_WORKFLOWS,
      runs: NO_RUNS,
      notifier: {
        notify: async (jobId, status) => {
          notified.push({ jobId, status });
        },
      },
      allowInsecureWebhooks: true,
    };
    return wiring;
  }

  const body = {
    code: 'SELECT 1',
    kind: 'sql',
    notifications: { webhook: 'http://127.0.0.1:9/hook', events: ['CANCELLED', 'TIMEOUT'] },
  };

  it('a cancelled queued job is counted once as CANCELLED and its owner notified', async () => {
    const api = composeApi(wire({ pools: { q1: { maxConcurrentJobs: 1 } } }));
    const { job } = await submitJob(api, 'owner', { ...body, pool: 'q1' });

    const result = await cancelJob(api, 'owner', job.jobId);

    expect(result.status).toBe('CANCELLED');
    expect(notified).toEqual([{ jobId: job.jobId, status: 'CANCELLED' }]);
    expect(metrics.counter('jobsFinished', 'q1', { status: 'CANCELLED' })).toBe(1);
    await expect(cancelJob(api, 'owner', job.jobId)).rejects.toThrow(/already CANCELLED/);
    expect(metrics.counter('jobsFinished', 'q1', { status: 'CANCELLED' })).toBe(1);
  });

  it('a job past its pool maxWaitMinutes is counted once as TIMEOUT and its owner notified', async () => {
    const w = wire({ pools: { q2: { maxConcurrentJobs: 1, maxWaitMinutes: 1 } } });
    const api = composeApi(w);
    const { job } = await submitJob(api, 'owner', { ...body, pool: 'q2' });
    const parts = composeAdmission({ ...w, starter: new RecordingStarter() });
    // The reconciler two minutes later, when the job has waited longer than its pool allows.
    const later = new Date(Date.now() + 2 * 60_000);
    const reconciler = new Reconciler(
      {
        jobs: parts.jobs,
        pools: parts.pools,
        starter: new RecordingStarter(),
        jobEnder: parts.jobEnder,
        config: w.config,
        metrics,
        logger: w.logger,
        clock: () => later,
      },
      parts.admission,
      { workflows: NO_WORKFLOWS, finalizer: parts.finalizer },
    );

    const report = await reconciler.reconcilePool('q2');
    await reconciler.reconcilePool('q2');

    expect(report.expired).toEqual([job.jobId]);
    expect((await parts.jobs.getJob(job.jobId))?.reason?.code).toBe('QUEUE_WAIT_EXCEEDED');
    expect(notified).toEqual([{ jobId: job.jobId, status: 'TIMEOUT' }]);
    expect(metrics.counter('jobsFinished', 'q2', { status: 'TIMEOUT' })).toBe(1);
  });
});
