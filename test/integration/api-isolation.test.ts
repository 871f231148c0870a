import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Api,
  type Caller,
  cancelEvent,
  composedApi,
  eventsEvent,
  getEvent,
  iamCaller,
  listEvent,
  sqlJob,
  submitEvent,
  testConfig,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

const IAM_ADMIN = iamCaller('platform-admin');
const JWT_ADMIN = 'admin|0c7e';
const ADMINS = [IAM_ADMIN, JWT_ADMIN];

let db: TestDatabase;
let api: Api;
/** Every job submitted in this file, by the principal that owns it. */
const owned = new Map<string, Set<string>>();

beforeAll(async () => {
  db = await startTestDatabase();
  api = composedApi(db, testConfig({ admins: ADMINS }));
});
afterAll(async () => {
  await db?.stop();
});

const principalOf = (caller: Caller) => (typeof caller === 'string' ? caller : caller.jwtSub);

/** Callers as either authorizer names them: ARNs, and JWT subjects of any text (with '#', '%', Unicode). */
const callerArb: fc.Arbitrary<Caller> = fc.oneof(
  fc.constantFrom<Caller>(IAM_ADMIN, { jwtSub: JWT_ADMIN }, iamCaller('ann'), iamCaller('bob'), {
    jwtSub: 'ann',
  }),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/).map(iamCaller),
  fc.string({ minLength: 1, maxLength: 24 }).map((sub) => ({ jwtSub: sub })),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map((sub) => ({ jwtSub: sub })),
);

async function submitAs(owner: Caller): Promise<string> {
  const reply = await api.submit(submitEvent(owner, sqlJob({ tags: { probe: 'isolation' } })));
  expect(reply.status).toBe(202);
  const principal = principalOf(owner);
  const jobs = owned.get(principal) ?? new Set<string>();
  jobs.add(reply.body.jobId);
  owned.set(principal, jobs);
  return reply.body.jobId;
}

/** What the owner sees of a job: its status and its history. */
async function ownerView(owner: Caller, jobId: string) {
  const status = (await api.get(getEvent(owner, jobId))).body.status;
  const events = (await api.events(eventsEvent(owner, jobId))).body.events;
  return { status, events };
}

describe('owner isolation', () => {
  it('lets only the owner and admins read, follow or cancel a job; to anyone else it does not exist', async () => {
    await fc.assert(
      fc.asyncProperty(callerArb, callerArb, fc.boolean(), async (owner, caller, endedFirst) => {
        const jobId = await submitAs(owner);
        if (endedFirst) expect((await api.cancel(cancelEvent(owner, jobId))).status).toBe(200);
        const before = await ownerView(owner, jobId);
        const entitled = principalOf(caller) === principalOf(owner) || ADMINS.includes(principalOf(caller));

        const get = await api.get(getEvent(caller, jobId));
        const events = await api.events(eventsEvent(caller, jobId));
        const cancel = await api.cancel(cancelEvent(caller, jobId));

        if (entitled) {
          expect(get.status).toBe(200);
          expect(get.body.jobId).toBe(jobId);
          expect(events.status).toBe(200);
          expect(events.body.events).toEqual(before.events);
          expect(cancel.status).toBe(endedFirst ? 409 : 200);
          expect((await ownerView(owner, jobId)).status).toBe('CANCELLED');
        } else {
          // Exactly what an id that was never issued gets: nothing tells the job exists.
          const unknownId = 'job-00000000-0000-4000-8000-000000000000';
          const unknown = await api.get(getEvent(caller, unknownId));
          for (const reply of [get, events, cancel]) {
            expect(reply.status).toBe(404);
            expect(reply.headers['content-type']).toBe('application/problem+json');
            expect({ ...reply.body, detail: undefined, instance: undefined }).toEqual({
              ...unknown.body,
              detail: undefined,
              instance: undefined,
            });
            expect(reply.body.detail).toBe(unknown.body.detail.replace(unknownId, jobId));
          }
          expect(await ownerView(owner, jobId)).toEqual(before);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("lists only the caller's own jobs; owner= is for admins only", async () => {
    await fc.assert(
      fc.asyncProperty(callerArb, callerArb, async (owner, caller) => {
        const jobId = await submitAs(owner);
        const callerPrincipal = principalOf(caller);
        const ownerPrincipal = principalOf(owner);
        const isAdmin = ADMINS.includes(callerPrincipal);

        const mine = await api.list(listEvent(caller, { limit: '100' }));
        expect(mine.status).toBe(200);
        const listed: string[] = mine.body.jobs.map((job: { jobId: string }) => job.jobId);
        const own = owned.get(callerPrincipal) ?? new Set<string>();
        for (const id of listed) expect(own.has(id)).toBe(true);
        expect(listed.includes(jobId)).toBe(callerPrincipal === ownerPrincipal);

        const theirs = await api.list(listEvent(caller, { owner: ownerPrincipal, limit: '100' }));
        if (isAdmin || callerPrincipal === ownerPrincipal) {
          expect(theirs.status).toBe(200);
          expect(theirs.body.jobs.map((job: { jobId: string }) => job.jobId)).toContain(jobId);
        } else {
          expect(theirs.status).toBe(403);
          expect(theirs.headers['content-type']).toBe('application/problem+json');
          expect(theirs.body.errors).toEqual([expect.objectContaining({ field: 'owner' })]);
        }
      }),
      { numRuns: 30 },
    );
  });
});
