import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '#adapters/table-stores.ts';
import { EXACT_QUEUE_POSITIONS } from '#core/queue-position.ts';
import {
  createHarness,
  freshTable,
  type Harness,
  OWNER,
  sizedJob,
  waitingJobs,
} from '../support/admission.ts';
import { type Api, cancelEvent, getEvent, serviceApi, submitEvent, testConfig } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { CALLS } from '../support/faults.ts';

/**
 * A queued job's position past the head of a deep queue: counted exactly for the first
 * positions, estimated past them from the pool item's per-priority counters, and read with the
 * same number of DynamoDB requests whatever the depth (docs/queue-position.md).
 */

const config = testConfig({
  pools: {
    deep: { cpuCores: 16, memoryGb: 64, maxConcurrentJobs: 1, maxQueueSize: 1000 },
  },
});
/** Small, so that a queue a few times deeper than the counted head stays quick to build. */
const EXACT = 10;
const PRIORITIES = [5, 5, 9, 1, 5, 3, 5, 9];

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase();
});

afterAll(async () => {
  await db.stop();
});

interface Position {
  readonly queuePosition?: number;
  readonly queuePositionEstimated?: boolean;
}

async function positionOf(api: Api, jobId: string): Promise<Position> {
  const reply = await api.get(getEvent(OWNER, jobId));
  expect(reply.status).toBe(200);
  const { queuePosition, queuePositionEstimated } = reply.body as Position;
  return {
    ...(queuePosition !== undefined && { queuePosition }),
    ...(queuePositionEstimated !== undefined && { queuePositionEstimated }),
  };
}

async function submitted(h: Harness, body: Record<string, unknown>): Promise<string> {
  const reply = await h.submit(body);
  expect(reply.status).toBe(202);
  return reply.jobId as string;
}

/** Each waiting job's true position: its place in the waiting index, which is admission order. */
async function truePositions(h: Harness): Promise<Map<string, number>> {
  return new Map((await waitingJobs(h, 'deep')).map((job, i) => [job.jobId, i + 1]));
}

async function deepQueue(count: number): Promise<{ h: Harness; running: string; queued: string[] }> {
  const h = createHarness(db, { config, tableName: await freshTable(db), exactQueuePositions: EXACT });
  const running = await submitted(h, sizedJob('deep', 1));
  expect((await h.deliver(h.intake.messages.splice(0))).failed).toEqual([]);
  const queued: string[] = [];
  for (let i = 0; i < count; i++) {
    queued.push(await submitted(h, sizedJob('deep', 1, PRIORITIES[i % PRIORITIES.length])));
  }
  h.intake.messages.splice(0);
  return { h, running, queued };
}

/** The workflow's part: the running job ends, and the admission pass its wake asks for admits the next. */
async function admitNext(h: Harness, running: string): Promise<string> {
  await h.jobs.transition(running, ['SCHEDULED'], 'RUNNING', { at: h.clock.now().toISOString() });
  await h.jobEnder.finish(running, 'SUCCEEDED');
  expect((await h.deliver(h.intake.messages.splice(0))).failed).toEqual([]);
  const next = [...h.starter.started.entries()].sort(([, a], [, b]) => a.at - b.at).at(-1)?.[0];
  expect(next).not.toBe(running);
  return next as string;
}

/**
 * The estimate the design promises for a job past the counted head: its true position, less
 * the jobs of its own priority submitted after it that left the queue before it (every job
 * checked here has at least that many of its priority ahead of it; the unit test covers the rest).
 */
function promised(
  truth: number,
  leftBehind: number,
): { queuePosition: number; queuePositionEstimated: boolean } {
  return truth <= EXACT
    ? { queuePosition: truth, queuePositionEstimated: false }
    : { queuePosition: Math.max(EXACT + 1, truth - leftBehind), queuePositionEstimated: true };
}

describe('the position of a job in a deep queue', () => {
  it('is counted exactly within the first positions and estimated past them, equal to the truth while jobs leave in order', async () => {
    const { h, running, queued } = await deepQueue(4 * EXACT);
    let truth = await truePositions(h);
    for (const jobId of queued) {
      expect(await positionOf(h.api, jobId), jobId).toEqual(promised(truth.get(jobId) as number, 0));
    }
    // The head leaves in order (admission), and each job behind moves up: the estimates follow.
    let current = running;
    for (let i = 0; i < 3; i++) current = await admitNext(h, current);
    truth = await truePositions(h);
    expect(truth.size).toBe(queued.length - 3);
    for (const [jobId, position] of truth) {
      expect(await positionOf(h.api, jobId), jobId).toEqual(promised(position, 0));
    }
  });

  it('after out-of-order cancels, is low by exactly the later jobs of its priority that left first, and never inside the counted head', async () => {
    const { h } = await deepQueue(4 * EXACT);
    const before = await truePositions(h);
    const byPosition = [...before.keys()];
    const job = (id: string) => h.jobs.getJob(id);
    // Cancel the two last jobs of priority 5, one near the head of priority 9 and one of priority 1.
    const cancels = [
      ...(await Promise.all(byPosition.map(job)))
        .filter((j) => j?.priority === 5)
        .slice(-2)
        .map((j) => j?.jobId as string),
      byPosition[0] as string,
      (await Promise.all(byPosition.map(job))).find((j) => j?.priority === 1)?.jobId as string,
    ];
    for (const jobId of cancels) expect((await h.api.cancel(cancelEvent(OWNER, jobId))).status).toBe(200);

    const truth = await truePositions(h);
    const records = new Map((await Promise.all(byPosition.map(job))).map((j) => [j?.jobId, j]));
    let lowered = 0;
    for (const [jobId, position] of truth) {
      const record = records.get(jobId);
      const leftBehind = cancels.filter((c) => {
        const cancelled = records.get(c);
        return (
          cancelled?.priority === record?.priority && (cancelled?.queueSeq ?? 0) > (record?.queueSeq ?? 0)
        );
      }).length;
      const seen = await positionOf(h.api, jobId);
      expect(seen, jobId).toEqual(promised(position, leftBehind));
      if (seen.queuePositionEstimated) {
        // Bounded: never above the truth, never below it by more than the cancels behind it.
        expect(seen.queuePosition).toBeLessThanOrEqual(position);
        expect(position - (seen.queuePosition as number)).toBeLessThanOrEqual(leftBehind);
        if ((seen.queuePosition as number) < position) lowered++;
      }
    }
    // The two late priority-5 cancels lower the estimate of every priority-5 job past the head.
    expect(lowered).toBeGreaterThan(0);
  });

  it('is right again after the tick when a crash lost a cancel’s counter update', async () => {
    const { h } = await deepQueue(3 * EXACT);
    const ordered = [...(await truePositions(h)).keys()];
    const cancelled = ordered[1] as string;
    h.faults.arm({ name: 'free fails', match: CALLS.freeQueueSlot, timing: 'before' });
    expect((await h.api.cancel(cancelEvent(OWNER, cancelled))).status).toBe(500);
    expect(h.faults.fired).toHaveLength(1);
    const last = ordered.at(-1) as string;
    const truth = (await truePositions(h)).get(last) as number;
    // The counters still count the cancelled job as waiting: the estimate is one too high.
    expect(await positionOf(h.api, last)).toEqual({ queuePosition: truth + 1, queuePositionEstimated: true });

    await h.tick();

    expect(await positionOf(h.api, last)).toEqual({ queuePosition: truth, queuePositionEstimated: true });
  });

  it('uses the default exact head, and a job past it is flagged as estimated', async () => {
    const h = createHarness(db, { config, tableName: await freshTable(db) });
    const ids: string[] = [];
    for (let i = 0; i < EXACT_QUEUE_POSITIONS + 2; i++) ids.push(await submitted(h, sizedJob('deep', 1)));
    expect(await positionOf(h.api, ids[EXACT_QUEUE_POSITIONS - 1] as string)).toEqual({
      queuePosition: EXACT_QUEUE_POSITIONS,
      queuePositionEstimated: false,
    });
    expect(await positionOf(h.api, ids.at(-1) as string)).toEqual({
      queuePosition: EXACT_QUEUE_POSITIONS + 2,
      queuePositionEstimated: true,
    });
  });
});

describe('a status read of a queued job', () => {
  it('makes the same DynamoDB requests, reading the same capacity, at any depth past the counted head', async () => {
    const tableName = await freshTable(db);
    const counted: { operation: string; capacity: number }[] = [];
    const client = new DynamoDBClient({
      endpoint: db.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as Record<string, unknown>;
        input.ReturnConsumedCapacity = 'TOTAL';
        const result = await next(args);
        const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } })
          .ConsumedCapacity;
        counted.push({
          operation: String(context.commandName).replace(/Command$/, ''),
          capacity: consumed?.CapacityUnits ?? 0,
        });
        return result;
      },
      { step: 'initialize', name: 'countRequests' },
    );
    const api = serviceApi({ ...db, tableName, documentClient: documentClient(client) }, { config });
    const ids: string[] = [];
    // Filled by concurrent submits; the job read is submitted alone after them, so it is last.
    const submitOne = async () => {
      const reply = await api.submit(submitEvent(OWNER, sizedJob('deep', 1, 5)));
      expect(reply.status).toBe(202);
      ids.push(reply.body.jobId as string);
    };
    const fillTo = async (depth: number) => {
      while (ids.length < depth - 1) {
        await Promise.all(Array.from({ length: Math.min(8, depth - 1 - ids.length) }, submitOne));
      }
      await submitOne();
    };
    const read = async (jobId: string) => {
      counted.length = 0;
      const seen = await positionOf(api, jobId);
      return {
        seen,
        requests: counted.map((c) => c.operation),
        capacity: sum(counted.map((c) => c.capacity)),
      };
    };

    await fillTo(50);
    const shallow = await read(ids.at(-1) as string);
    await fillTo(3 * EXACT_QUEUE_POSITIONS);
    const deep = await read(ids.at(-1) as string);
    await fillTo(5 * EXACT_QUEUE_POSITIONS);
    const deeper = await read(ids.at(-1) as string);
    client.destroy();

    expect(shallow.seen).toEqual({ queuePosition: 50, queuePositionEstimated: false });
    expect(shallow.requests).toEqual(['GetItem', 'Query']);
    expect(deep.seen).toEqual({ queuePosition: 3 * EXACT_QUEUE_POSITIONS, queuePositionEstimated: true });
    expect(deeper.seen).toEqual({ queuePosition: 5 * EXACT_QUEUE_POSITIONS, queuePositionEstimated: true });
    // The job, the bounded count, the pool item: at 300 and at 500 jobs deep alike.
    expect(deep.requests).toEqual(['GetItem', 'Query', 'GetItem']);
    expect(deeper.requests).toEqual(deep.requests);
    expect(deep.capacity).toBeGreaterThan(0);
    expect(deeper.capacity).toBe(deep.capacity);
  });
});

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
