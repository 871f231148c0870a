import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { TransitionConflict } from '#core/errors.ts';
import { canMove, JOB_STATUSES, type JobStatus, LIFECYCLE, type Reason } from '#core/job-states.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { queuedJob } from '../support/job-record.ts';

/**
 * The job store's moves against the lifecycle spec, on dynalite: every pair of stored statuses
 * is tried, and the store makes exactly the moves LIFECYCLE lists, stamping and clearing as it
 * says.
 */

const STORED: readonly JobStatus[] = JOB_STATUSES.filter(
  (status) => status !== 'SUBMITTED' && status !== 'VALIDATING',
);
const CANCEL: Reason = { code: 'CANCELLED_BY_USER', message: 'cancelled by alice' };

let db: TestDatabase;
let store: DynamoJobStore;

beforeAll(async () => {
  db = await startTestDatabase('lifecycle');
  store = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 1 });
});

afterAll(async () => {
  await db?.stop();
});

/** A job stored at `status` (createJob writes the record as given), with `reason` when given. */
async function jobAt(status: JobStatus, reason?: Reason): Promise<string> {
  const record = queuedJob('alice', new Date().toISOString(), { status, ...(reason && { reason }) });
  const { jobId } = record;
  expect(await store.createJob(record)).toBe('created');
  return jobId;
}

const reasonFor = (to: JobStatus): Reason | undefined =>
  LIFECYCLE[to].reason === 'sets' ? { code: 'SPARK_JOB_FAILED', message: `to ${to}` } : undefined;

describe('DynamoJobStore.transition follows LIFECYCLE', () => {
  it('makes exactly the moves the spec lists, and refuses every other as a conflict', async () => {
    const outcomes: string[] = [];
    const expected: string[] = [];
    await Promise.all(
      STORED.flatMap((from) =>
        STORED.map(async (to) => {
          const jobId = await jobAt(from);
          const reason = reasonFor(to);
          let outcome: string;
          try {
            const moved = await store.transition(jobId, [from], to, {
              at: new Date().toISOString(),
              ...(reason && { reason }),
            });
            outcome = `moved to ${moved.status}`;
          } catch (error) {
            if (!(error instanceof TransitionConflict)) throw error;
            outcome = `refused at ${error.actualStatus}`;
          }
          outcomes.push(`${from} → ${to}: ${outcome}`);
          expected.push(`${from} → ${to}: ${canMove(from, to) ? `moved to ${to}` : `refused at ${from}`}`);
          if (!canMove(from, to)) expect((await store.getJob(jobId))?.status).toBe(from);
        }),
      ),
    );
    expect(outcomes.sort()).toEqual(expected.sort());
  });

  it("sets each status's timestamp once, as the spec names it", async () => {
    for (const to of STORED) {
      const timestamp = LIFECYCLE[to].timestamp;
      const [from] = LIFECYCLE[to].from.filter((status) => STORED.includes(status));
      if (!timestamp || !from) continue;
      const jobId = await jobAt(from);
      const reason = reasonFor(to);
      const at = '2026-01-02T03:04:05.000Z';
      const moved = await store.transition(jobId, [from], to, { at, ...(reason && { reason }) });
      expect([to, (moved as unknown as Record<string, unknown>)[timestamp]]).toEqual([to, at]);
    }
  });

  it("a run that succeeded while CANCELLING ends SUCCEEDED with the cancel's reason cleared", async () => {
    const jobId = await jobAt('CANCELLING', CANCEL);
    const moved = await store.transition(jobId, ['RUNNING', 'CANCELLING'], 'SUCCEEDED', {
      at: new Date().toISOString(),
    });
    expect(moved.status).toBe('SUCCEEDED');
    expect(moved.reason).toBeUndefined();
    expect((await store.getJob(jobId))?.reason).toBeUndefined();
    const [event] = (await store.listEvents(jobId)).filter((e) => e.type === 'STATUS');
    expect(event).toMatchObject({ status: 'SUCCEEDED' });
    expect(event).not.toHaveProperty('reason');
  });

  it('a reason given with SUCCEEDED replaces the cancel’s; FAILED past a cancel says why it failed', async () => {
    const succeeded = await jobAt('CANCELLING', CANCEL);
    const why: Reason = {
      code: 'CANCELLED_BY_USER',
      message: 'the run finished before the cancel reached it',
    };
    expect(
      (await store.transition(succeeded, ['CANCELLING'], 'SUCCEEDED', { at: '1', reason: why })).reason,
    ).toEqual(why);
    const failed = await jobAt('CANCELLING', CANCEL);
    const exit: Reason = { code: 'SPARK_JOB_FAILED', message: 'exit 1' };
    expect(
      (await store.transition(failed, ['CANCELLING'], 'FAILED', { at: '1', reason: exit })).reason,
    ).toEqual(exit);
  });

  it('leaves sources the spec forbids out of the condition: a job standing at one is refused', async () => {
    const retrying = await jobAt('RETRYING');
    // RETRYING → SUCCEEDED is no move: the write's condition holds RUNNING only.
    await expect(
      store.transition(retrying, ['RUNNING', 'RETRYING'], 'SUCCEEDED', { at: new Date().toISOString() }),
    ).rejects.toMatchObject({ name: 'TransitionConflict', actualStatus: 'RETRYING' });
    expect((await store.getJob(retrying))?.status).toBe('RETRYING');

    const running = await jobAt('RUNNING');
    const moved = await store.transition(running, ['RUNNING', 'RETRYING'], 'SUCCEEDED', {
      at: new Date().toISOString(),
    });
    expect(moved.status).toBe('SUCCEEDED');
    const [event] = (await store.listEvents(running)).filter((e) => e.type === 'STATUS');
    expect(event).toMatchObject({ from: 'RUNNING' });
  });

  it('refuses a reason on a move that gives none, before writing anything', async () => {
    const jobId = await jobAt('SCHEDULED');
    await expect(
      store.transition(jobId, ['SCHEDULED'], 'RUNNING', { at: '1', reason: CANCEL }),
    ).rejects.toThrow('a move to RUNNING carries no reason');
    expect((await store.getJob(jobId))?.status).toBe('SCHEDULED');
  });
});
