import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { TransitionConflict } from '#core/errors.ts';
import {
  type Api,
  cancelEvent,
  composedApi,
  eventsEvent,
  getEvent,
  iamCaller,
  scanTable,
  sqlJob,
  submitEvent,
  testConfig,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

const OWNER = iamCaller('racer');
const ADMIN = iamCaller('race-admin');

let db: TestDatabase;
let api: Api;
let store: DynamoJobStore;

beforeAll(async () => {
  db = await startTestDatabase();
  api = composedApi(db, testConfig({ admins: [ADMIN] }));
  store = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 90 });
});
afterAll(async () => {
  await db?.stop();
});

async function newJob(): Promise<string> {
  const reply = await api.submit(submitEvent(OWNER, sqlJob()));
  expect(reply.status).toBe(202);
  return reply.body.jobId;
}

/** History items in the table that record a move to `status`. */
async function storedMovesTo(jobId: string, status: string) {
  return (await scanTable(db)).filter(
    (item) => item.pk === `JOB#${jobId}` && String(item.sk).startsWith('EVT#') && item.status === status,
  );
}

describe('concurrent cancels', () => {
  it('two cancels of one job: exactly one 200, the other 409, and one CANCELLED history item', async () => {
    for (let round = 0; round < 10; round++) {
      const jobId = await newJob();

      const replies = await Promise.all([
        api.cancel(cancelEvent(OWNER, jobId)),
        api.cancel(cancelEvent(OWNER, jobId)),
      ]);

      expect(replies.map((r) => r.status).sort()).toEqual([200, 409]);
      const loser = replies.find((r) => r.status === 409);
      expect(loser?.body.detail).toContain('CANCELLED');
      expect(await storedMovesTo(jobId, 'CANCELLED')).toHaveLength(1);
      const history = (await api.events(eventsEvent(OWNER, jobId))).body.events;
      expect(history.filter((e: { status: string }) => e.status === 'CANCELLED')).toHaveLength(1);
    }
  });

  it('any number of cancels from the owner and an admin: one wins, the rest get 409', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(OWNER, ADMIN), { minLength: 2, maxLength: 6 }),
        async (callers) => {
          const jobId = await newJob();

          const replies = await Promise.all(callers.map((caller) => api.cancel(cancelEvent(caller, jobId))));

          const statuses = replies.map((r) => r.status);
          expect(statuses.filter((s) => s === 200)).toHaveLength(1);
          expect(statuses.filter((s) => s === 409)).toHaveLength(callers.length - 1);
          const winner = replies.find((r) => r.status === 200);
          const view = (await api.get(getEvent(OWNER, jobId))).body;
          expect(view).toMatchObject({ status: 'CANCELLED', cancelledAt: winner?.body.cancelledAt });
          expect(await storedMovesTo(jobId, 'CANCELLED')).toHaveLength(1);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('a cancel racing admission: the job ends cancelled either way, each move made once', async () => {
    for (let round = 0; round < 10; round++) {
      const jobId = await newJob();

      const [cancel, admit] = await Promise.all([
        api.cancel(cancelEvent(OWNER, jobId)),
        store.transition(jobId, ['QUEUED'], 'SCHEDULED', { at: new Date().toISOString() }).then(
          () => 'admitted' as const,
          (error: unknown) => {
            if (error instanceof TransitionConflict) return 'lost' as const;
            throw error;
          },
        ),
      ]);

      // Either the cancel moved the queued job, or it followed the admitted job to SCHEDULED
      // and, with no workflow running, ended it there through CANCELLING.
      expect(cancel.status).toBe(200);
      expect((await api.get(getEvent(OWNER, jobId))).body.status).toBe('CANCELLED');
      const cancelled = await storedMovesTo(jobId, 'CANCELLED');
      const scheduled = await storedMovesTo(jobId, 'SCHEDULED');
      expect(cancelled).toHaveLength(1);
      expect(scheduled).toHaveLength(admit === 'admitted' ? 1 : 0);
    }
  });
});
