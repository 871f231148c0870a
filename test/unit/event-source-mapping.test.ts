import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type BatchFailure,
  type EventSourceMappingOptions,
  type SqsBatchHandler,
  startEventSourceMapping,
} from '../../local/event-source-mapping.ts';
import { LocalQueue, type LocalQueueOptions } from '../../local/queue.ts';

const T0 = Date.UTC(2026, 0, 1);

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs every timer, and the work each one unblocks, until nothing is scheduled. */
const runToIdle = () => vi.runAllTimersAsync();

function queues(options: Partial<LocalQueueOptions> = {}) {
  const dlq = new LocalQueue({ name: 'intake-dlq' });
  const queue = new LocalQueue({
    name: 'intake',
    visibilityTimeoutSeconds: 30,
    maxReceiveCount: 3,
    deadLetterQueue: dlq,
    ...options,
  });
  return { queue, dlq };
}

function drainAll(queue: LocalQueue): string[] {
  const bodies: string[] = [];
  for (let batch = queue.receive(10); batch.length > 0; batch = queue.receive(10)) {
    bodies.push(...batch.map((message) => message.body));
  }
  return bodies;
}

/** A mapping whose failures are collected rather than printed. */
function start(queue: LocalQueue, handler: SqsBatchHandler, options: EventSourceMappingOptions = {}) {
  const failures: { error: unknown; failure: BatchFailure }[] = [];
  const mapping = startEventSourceMapping(queue, handler, {
    onError: (error, failure) => failures.push({ error, failure }),
    ...options,
  });
  return { mapping, failures };
}

const ok = (): SQSBatchResponse => ({ batchItemFailures: [] });

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('event source mapping delivery', () => {
  it('hands the handler a real SQSEvent and Lambda context, then deletes what it processed', async () => {
    const { queue } = queues();
    const events: SQSEvent[] = [];
    const contexts: Context[] = [];
    const { mapping, failures } = start(
      queue,
      (event, context) => {
        events.push(event);
        contexts.push(context);
        return ok();
      },
      { functionName: 'libra-admission' },
    );
    const { messageId } = queue.send('{"jobId":"j-1","pool":"default"}', {
      messageAttributes: { origin: { dataType: 'String', stringValue: 'submit' } },
    });

    await mapping.drained();

    expect(events).toHaveLength(1);
    const [record] = events[0]?.Records ?? [];
    expect(record).toEqual({
      messageId,
      receiptHandle: expect.any(String),
      body: '{"jobId":"j-1","pool":"default"}',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(T0),
        ApproximateFirstReceiveTimestamp: String(T0),
        SenderId: '000000000000',
      },
      messageAttributes: {
        origin: { stringValue: 'submit', stringListValues: [], binaryListValues: [], dataType: 'String' },
      },
      md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/),
      md5OfMessageAttributes: expect.stringMatching(/^[0-9a-f]{32}$/),
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:intake',
      awsRegion: 'us-east-1',
    });
    expect(contexts[0]).toMatchObject({
      functionName: 'libra-admission',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:libra-admission',
      awsRequestId: expect.any(String),
    });
    expect(contexts[0]?.getRemainingTimeInMillis()).toBe(30_000);
    expect(queue.getAttributes().ApproximateNumberOfMessagesNotVisible).toBe(0);
    expect(failures).toEqual([]);
    await mapping.stop();
  });

  it('delivers messages already waiting when it starts', async () => {
    const { queue } = queues();
    queue.send('early');
    const bodies: string[] = [];
    const { mapping } = start(queue, (event) => {
      bodies.push(...event.Records.map((record) => record.body));
    });
    await mapping.drained();
    expect(bodies).toEqual(['early']);
    await mapping.stop();
  });

  it('costs nothing while idle: no timer is left once the queue is drained', async () => {
    const { queue } = queues();
    const { mapping } = start(queue, ok, { maximumBatchingWindowMs: 2_000 });
    queue.send('a', { delaySeconds: 10 });
    await runToIdle();
    await mapping.drained();
    expect(vi.getTimerCount()).toBe(0);
    await mapping.stop();
  });

  it('waits for a delayed message and delivers it when its delay passes', async () => {
    const { queue } = queues();
    const deliveredAt: number[] = [];
    const { mapping } = start(queue, () => {
      deliveredAt.push(Date.now());
    });
    queue.send('later', { delaySeconds: 7 });
    await runToIdle();
    await mapping.drained();
    expect(deliveredAt).toEqual([T0 + 7_000]);
    await mapping.stop();
  });
});

describe('event source mapping failures', () => {
  it('deletes all but the reported batch item failures, which come back after the visibility timeout', async () => {
    const { queue } = queues();
    const seen: { body: string; receiveCount: string; at: number }[] = [];
    const { mapping, failures } = start(queue, (event) => {
      for (const record of event.Records) {
        seen.push({
          body: record.body,
          receiveCount: record.attributes.ApproximateReceiveCount,
          at: Date.now(),
        });
      }
      const flaky = event.Records.filter(
        (record) => record.body === 'b' && record.attributes.ApproximateReceiveCount === '1',
      );
      return { batchItemFailures: flaky.map((record) => ({ itemIdentifier: record.messageId })) };
    });
    for (const body of ['a', 'b', 'c']) queue.send(body);

    await runToIdle();
    await mapping.drained();

    expect(seen).toEqual([
      { body: 'a', receiveCount: '1', at: T0 },
      { body: 'b', receiveCount: '1', at: T0 },
      { body: 'c', receiveCount: '1', at: T0 },
      { body: 'b', receiveCount: '2', at: T0 + 30_000 },
    ]);
    expect(failures).toEqual([]);
    await mapping.stop();
  });

  it('leaves the whole batch for redelivery when the handler throws, and reports the error', async () => {
    const { queue } = queues();
    let calls = 0;
    const { mapping, failures } = start(queue, async (event) => {
      calls += 1;
      if (calls === 1) throw new Error('admission crashed');
      expect(event.Records.map((record) => record.attributes.ApproximateReceiveCount)).toEqual(['2', '2']);
    });
    queue.send('a');
    queue.send('b');

    await runToIdle();
    await mapping.drained();

    expect(calls).toBe(2);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.failure.reason).toBe('handler-threw');
    expect(failures[0]?.error).toEqual(new Error('admission crashed'));
    expect(failures[0]?.failure.event.Records).toHaveLength(2);
    await mapping.stop();
  });

  it('reports through stderr by default and never leaves an unhandled rejection', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const { queue, dlq } = queues({ maxReceiveCount: 1 });
      const mapping = startEventSourceMapping(queue, () => {
        throw new Error('sync throw');
      });
      queue.send('a');
      await runToIdle();
      await mapping.drained();
      expect(errors).toHaveBeenCalledWith(expect.stringContaining('handler-threw'), expect.any(Error));
      expect(drainAll(dlq)).toEqual(['a']);
      await mapping.stop();
    } finally {
      errors.mockRestore();
    }
  });

  it.each([
    ['an id not in the batch', { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] }],
    ['an empty id', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a missing id', { batchItemFailures: [{}] }],
    ['a list that is not a list', { batchItemFailures: 'oops' }],
    ['a response that is not an object', 'done'],
  ])('fails the whole batch on %s, as Lambda does', async (_, response) => {
    const { queue } = queues();
    let calls = 0;
    const { mapping, failures } = start(queue, () => {
      calls += 1;
      return (calls === 1 ? response : undefined) as SQSBatchResponse;
    });
    queue.send('a');
    queue.send('b');

    await runToIdle();
    await mapping.drained();

    expect(calls).toBe(2);
    expect(failures.map((f) => f.failure.reason)).toEqual(['invalid-batch-response']);
    await mapping.stop();
  });

  it('treats an empty or missing failure list as success', async () => {
    for (const response of [undefined, null, {}, { batchItemFailures: [] }, { batchItemFailures: null }]) {
      const { queue } = queues();
      let calls = 0;
      const { mapping, failures } = start(queue, () => {
        calls += 1;
        return response as SQSBatchResponse;
      });
      queue.send('a');
      await runToIdle();
      await mapping.drained();
      expect(calls).toBe(1);
      expect(failures).toEqual([]);
      await mapping.stop();
    }
  });

  it('ignores batch item failures unless reportBatchItemFailures is on', async () => {
    const { queue } = queues();
    let calls = 0;
    const { mapping } = start(
      queue,
      (event) => {
        calls += 1;
        return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) };
      },
      { reportBatchItemFailures: false },
    );
    queue.send('a');
    await runToIdle();
    await mapping.drained();
    expect(calls).toBe(1);
    await mapping.stop();
  });

  it('moves a message that keeps failing to the DLQ after maxReceiveCount deliveries', async () => {
    const { queue, dlq } = queues({ maxReceiveCount: 3 });
    const counts: string[] = [];
    const { mapping } = start(queue, (event) => {
      const poison = event.Records.filter((record) => record.body === 'poison');
      counts.push(...poison.map((record) => record.attributes.ApproximateReceiveCount));
      return { batchItemFailures: poison.map((record) => ({ itemIdentifier: record.messageId })) };
    });
    queue.send('poison');
    queue.send('fine');

    await runToIdle();
    await mapping.drained();

    expect(counts).toEqual(['1', '2', '3']);
    expect(drainAll(dlq)).toEqual(['poison']);
    await mapping.stop();
  });
});

describe('event source mapping limits', () => {
  it('never runs more than maximumConcurrency batches nor more than batchSize records in one', async () => {
    const { queue } = queues();
    let running = 0;
    let mostRunning = 0;
    const sizes: number[] = [];
    const { mapping } = start(
      queue,
      async (event) => {
        running += 1;
        mostRunning = Math.max(mostRunning, running);
        sizes.push(event.Records.length);
        await sleep(1_000);
        running -= 1;
      },
      { batchSize: 7, maximumConcurrency: 3 },
    );
    for (let i = 0; i < 95; i++) queue.send(`m${i}`);

    await runToIdle();
    await mapping.drained();

    expect(mostRunning).toBe(3);
    expect(Math.max(...sizes)).toBe(7);
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(95);
    await mapping.stop();
  });

  it('gathers a batch bigger than one receive, up to batchSize', async () => {
    const { queue } = queues();
    const sizes: number[] = [];
    const { mapping } = start(queue, (event) => void sizes.push(event.Records.length), {
      batchSize: 25,
      maximumBatchingWindowMs: 1_000,
    });
    for (let i = 0; i < 60; i++) queue.send(`m${i}`);
    await runToIdle();
    await mapping.drained();
    expect(sizes).toEqual([25, 25, 10]);
    await mapping.stop();
  });

  it('waits out the batching window for a partial batch, but not for a full one', async () => {
    const { queue } = queues();
    const batches: { size: number; at: number }[] = [];
    const { mapping } = start(
      queue,
      (event) => void batches.push({ size: event.Records.length, at: Date.now() }),
      {
        batchSize: 5,
        maximumBatchingWindowMs: 2_000,
      },
    );
    queue.send('a');
    await vi.advanceTimersByTimeAsync(1_000);
    queue.send('b');
    await vi.advanceTimersByTimeAsync(999);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([{ size: 2, at: T0 + 2_000 }]);

    for (let i = 0; i < 5; i++) queue.send(`full${i}`);
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([
      { size: 2, at: T0 + 2_000 },
      { size: 5, at: T0 + 2_000 },
    ]);
    await mapping.stop();
  });

  it('refuses settings Lambda refuses', () => {
    const { queue } = queues();
    expect(() => startEventSourceMapping(queue, ok, { batchSize: 0 })).toThrow(RangeError);
    expect(() => startEventSourceMapping(queue, ok, { batchSize: 11 })).toThrow(/maximumBatchingWindowMs/);
    expect(() => startEventSourceMapping(queue, ok, { maximumConcurrency: 0 })).toThrow(RangeError);
    expect(() => startEventSourceMapping(queue, ok, { maximumBatchingWindowMs: 300_001 })).toThrow(
      RangeError,
    );
  });
});

describe('event source mapping stop', () => {
  it('waits for the batches in flight, then receives nothing more', async () => {
    const { queue } = queues();
    const gate = deferred();
    const bodies: string[] = [];
    const { mapping } = start(queue, async (event) => {
      bodies.push(...event.Records.map((record) => record.body));
      await gate.promise;
    });
    queue.send('in flight');
    await vi.advanceTimersByTimeAsync(0);
    expect(mapping.batchesInFlight).toBe(1);

    let stopped = false;
    const stopping = mapping.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);

    gate.resolve();
    await stopping;
    expect(mapping.batchesInFlight).toBe(0);
    expect(queue.getAttributes().ApproximateNumberOfMessagesNotVisible).toBe(0);

    queue.send('after stop');
    await runToIdle();
    expect(bodies).toEqual(['in flight']);
    expect(queue.getAttributes().ApproximateNumberOfMessages).toBe(1);
  });

  it('rejects a pending drained() when stopped before the queue drains', async () => {
    const { queue } = queues();
    const { mapping } = start(queue, ok);
    queue.send('later', { delaySeconds: 60 });
    const drained = mapping.drained();
    await mapping.stop();
    await expect(drained).rejects.toThrow(/stopped before the queue drained/);
    await expect(mapping.drained()).rejects.toThrow(/stopped/);
  });
});

type Outcome =
  | { readonly kind: 'ok' | 'throw' | 'invalid' }
  | { readonly kind: 'partial'; readonly failEvery: number; readonly offset: number };

describe('event source mapping never loses nor duplicates a message', () => {
  it('ends every message either deleted once after a successful handling or in the DLQ, never both', async () => {
    const outcome = fc.oneof(
      fc.constantFrom<Outcome>({ kind: 'ok' }, { kind: 'throw' }, { kind: 'invalid' }),
      fc.record({
        kind: fc.constant('partial' as const),
        failEvery: fc.integer({ min: 1, max: 3 }),
        offset: fc.nat(2),
      }),
    );
    const scenario = fc.record({
      messages: fc.array(
        fc.record({ sendAtMs: fc.nat(5_000), delaySeconds: fc.nat(3), body: fc.string({ minLength: 1 }) }),
        { minLength: 1, maxLength: 30 },
      ),
      outcomes: fc.array(fc.record({ outcome, durationMs: fc.nat(20_000) }), { maxLength: 40 }),
      maxReceiveCount: fc.integer({ min: 1, max: 4 }),
      batchSize: fc.integer({ min: 1, max: 10 }),
      maximumConcurrency: fc.integer({ min: 1, max: 4 }),
      maximumBatchingWindowMs: fc.constantFrom(0, 0, 500, 2_000),
    });

    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        vi.setSystemTime(T0);
        const { queue, dlq } = queues({ maxReceiveCount: s.maxReceiveCount, visibilityTimeoutSeconds: 30 });
        const sent = new Map<string, string>();
        const acknowledged = new Set<string>();
        const deleted: string[] = [];
        const deleteMessage = queue.deleteMessage.bind(queue);
        queue.deleteMessage = (handle) => {
          const id = handle.slice(0, handle.indexOf('#'));
          const done = deleteMessage(handle);
          if (done) deleted.push(id);
          return done;
        };

        let invocation = 0;
        let running = 0;
        let violations = 0;
        const { mapping } = start(
          queue,
          async (event) => {
            running += 1;
            if (running > s.maximumConcurrency || event.Records.length > s.batchSize) violations += 1;
            const { outcome: result, durationMs } = s.outcomes[invocation++] ?? {
              outcome: { kind: 'ok' },
              durationMs: 0,
            };
            // Shorter than the visibility timeout: a slower handler would see its messages
            // redelivered meanwhile, which is SQS's at-least-once delivery, not a loss.
            await sleep(durationMs);
            running -= 1;
            const ids = event.Records.map((record) => record.messageId);
            if (result.kind === 'throw') throw new Error('boom');
            if (result.kind === 'invalid') return { batchItemFailures: [{ itemIdentifier: 'nope' }] };
            const failed =
              result.kind === 'partial'
                ? ids.filter((_, i) => (i + result.offset) % result.failEvery === 0)
                : [];
            for (const id of ids) if (!failed.includes(id)) acknowledged.add(id);
            return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
          },
          {
            batchSize: s.batchSize,
            maximumConcurrency: s.maximumConcurrency,
            maximumBatchingWindowMs: s.maximumBatchingWindowMs,
          },
        );
        for (const message of s.messages) {
          setTimeout(() => {
            const { messageId } = queue.send(message.body, { delaySeconds: message.delaySeconds });
            sent.set(messageId, message.body);
          }, message.sendAtMs);
        }

        await runToIdle();
        await mapping.drained();
        await mapping.stop();

        const deadIds: string[] = [];
        for (let batch = dlq.receive(10); batch.length > 0; batch = dlq.receive(10)) {
          deadIds.push(...batch.map((message) => message.messageId));
        }
        expect(violations).toBe(0);
        expect(new Set(deleted).size).toBe(deleted.length);
        expect(new Set(deadIds).size).toBe(deadIds.length);
        expect(deleted.filter((id) => deadIds.includes(id))).toEqual([]);
        expect([...deleted, ...deadIds].sort()).toEqual([...sent.keys()].sort());
        for (const id of deleted) expect(acknowledged.has(id)).toBe(true);
        expect(queue.getAttributes()).toEqual({
          ApproximateNumberOfMessages: 0,
          ApproximateNumberOfMessagesNotVisible: 0,
          ApproximateNumberOfMessagesDelayed: 0,
        });
      }),
      { numRuns: 60 },
    );
    // Sixty scenarios of up to forty timed invocations each: well under a second alone, but a busy
    // machine (one core taken) once stretched a run past the default 30 s.
  }, 120_000);
});
