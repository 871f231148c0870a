import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalQueue, LocalQueueError, md5OfMessageAttributes } from '../../local/queue.ts';

const T0 = Date.UTC(2026, 0, 1);

function counts(queue: LocalQueue): [visible: number, inFlight: number, delayed: number] {
  const attributes = queue.getAttributes();
  return [
    attributes.ApproximateNumberOfMessages,
    attributes.ApproximateNumberOfMessagesNotVisible,
    attributes.ApproximateNumberOfMessagesDelayed,
  ];
}

function errorCode(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof LocalQueueError) return error.code;
    throw error;
  }
  throw new Error('expected a LocalQueueError');
}

/** Listeners run in a microtask after the queue call; let them. */
const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LocalQueue send and receive', () => {
  it('delivers a sent message with the attributes SQS gives it', () => {
    const queue = new LocalQueue({ name: 'intake' });
    const { messageId } = queue.send('{"jobId":"j-1","pool":"default"}');
    vi.advanceTimersByTime(250);

    const [message, ...rest] = queue.receive(10);

    expect(rest).toEqual([]);
    expect(message?.messageId).toBe(messageId);
    expect(messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(message?.body).toBe('{"jobId":"j-1","pool":"default"}');
    expect(message?.md5OfBody).toBe(
      createHash('md5').update('{"jobId":"j-1","pool":"default"}').digest('hex'),
    );
    expect(message?.md5OfMessageAttributes).toBeUndefined();
    expect(message?.attributes).toEqual({
      ApproximateReceiveCount: '1',
      SentTimestamp: String(T0),
      ApproximateFirstReceiveTimestamp: String(T0 + 250),
      SenderId: '000000000000',
    });
    expect(queue.arn).toBe('arn:aws:sqs:us-east-1:000000000000:intake');
  });

  it('hands out the oldest messages first, at most maxMessages at a time', () => {
    const queue = new LocalQueue({ name: 'intake' });
    const bodies = Array.from({ length: 13 }, (_, i) => `m${i}`);
    for (const body of bodies) queue.send(body);

    const first = queue.receive(10).map((m) => m.body);
    const second = queue.receive(10).map((m) => m.body);

    expect(first).toEqual(bodies.slice(0, 10));
    expect(second).toEqual(bodies.slice(10));
    expect(queue.receive(10)).toEqual([]);
  });

  it('refuses a batch size outside 1..10 and a visibility timeout outside 0..43200', () => {
    const queue = new LocalQueue({ name: 'intake' });
    expect(errorCode(() => queue.receive(0))).toBe('InvalidParameterValue');
    expect(errorCode(() => queue.receive(11))).toBe('InvalidParameterValue');
    expect(errorCode(() => queue.receive(1, 43_201))).toBe('InvalidParameterValue');
  });

  it('accepts a body of exactly 256 KiB and refuses one byte more, counting UTF-8 bytes', () => {
    const queue = new LocalQueue({ name: 'intake' });
    expect(() => queue.send('x'.repeat(256 * 1024))).not.toThrow();
    expect(() => queue.send('x'.repeat(256 * 1024 + 1))).toThrow(/262145 bytes .* limit of 262144 bytes/);
    // 'é' is two bytes: half as many characters already fill the limit.
    expect(() => queue.send('é'.repeat(128 * 1024 + 1))).toThrow(LocalQueueError);
  });

  it('counts message attributes towards the size limit', () => {
    const queue = new LocalQueue({ name: 'intake' });
    const attributes = { trace: { dataType: 'String', stringValue: 'abcdefghij' } };
    // Name, data type and value: 5 + 6 + 10 bytes.
    expect(() => queue.send('x'.repeat(256 * 1024 - 21), { messageAttributes: attributes })).not.toThrow();
    expect(() => queue.send('x'.repeat(256 * 1024 - 20), { messageAttributes: attributes })).toThrow(
      LocalQueueError,
    );
  });

  it('refuses an empty body and characters SQS does not accept', () => {
    const queue = new LocalQueue({ name: 'intake' });
    expect(errorCode(() => queue.send(''))).toBe('InvalidParameterValue');
    expect(errorCode(() => queue.send('a\u0000b'))).toBe('InvalidMessageContents');
    expect(errorCode(() => queue.send('lone \uD800 surrogate'))).toBe('InvalidMessageContents');
    expect(() => queue.send('tabs\tand\nnewlines and 😀')).not.toThrow();
  });

  it('digests message attributes as SQS does', () => {
    const binary = { dataType: 'Binary', binaryValue: Buffer.from('Hello binary world!').toString('base64') };
    // Published vectors for SQS's MD5OfMessageAttributes.
    expect(
      md5OfMessageAttributes({ attribName1: { dataType: 'String', stringValue: 'attribValue 1' } }),
    ).toBe('19e27d4e946b072f3f58da80d94fd778');
    expect(md5OfMessageAttributes({ binaryAttribute: binary })).toBe('31a92b15d92f8db860eda32aceb656c3');
    expect(
      md5OfMessageAttributes({
        attribName1: { dataType: 'String', stringValue: 'attribValue 1' },
        customNumberTypeAttrib: {
          dataType: 'Number.float',
          stringValue: '4563442423554324324264524243.32543234',
        },
        binaryAttribute: binary,
      }),
    ).toBe('c932db14a896c663f83c260297d594ff');

    const queue = new LocalQueue({ name: 'intake' });
    queue.send('hi', {
      messageAttributes: { attribName1: { dataType: 'String', stringValue: 'attribValue 1' } },
    });
    const [message] = queue.receive();
    expect(message?.md5OfMessageAttributes).toBe('19e27d4e946b072f3f58da80d94fd778');
    expect(message?.messageAttributes).toEqual({
      attribName1: { dataType: 'String', stringValue: 'attribValue 1' },
    });
  });

  it('refuses malformed message attributes', () => {
    const queue = new LocalQueue({ name: 'intake' });
    expect(
      errorCode(() => queue.send('x', { messageAttributes: { a: { dataType: 'Text', stringValue: 'v' } } })),
    ).toBe('InvalidParameterValue');
    expect(errorCode(() => queue.send('x', { messageAttributes: { a: { dataType: 'String' } } }))).toBe(
      'InvalidParameterValue',
    );
    const eleven = Object.fromEntries(
      Array.from({ length: 11 }, (_, i) => [`a${i}`, { dataType: 'String', stringValue: 'v' }]),
    );
    expect(errorCode(() => queue.send('x', { messageAttributes: eleven }))).toBe('InvalidParameterValue');
  });

  it('refuses an invalid queue name and a half-configured redrive policy', () => {
    expect(() => new LocalQueue({ name: 'no spaces' })).toThrow(LocalQueueError);
    expect(() => new LocalQueue({ name: 'intake', maxReceiveCount: 3 })).toThrow(
      /maxReceiveCount and deadLetterQueue/,
    );
  });
});

describe('LocalQueue visibility timeout', () => {
  it('hides a received message until its visibility timeout passes, then counts the next receive', () => {
    const queue = new LocalQueue({ name: 'intake', visibilityTimeoutSeconds: 30 });
    queue.send('job');
    const first = queue.receive();
    expect(counts(queue)).toEqual([0, 1, 0]);

    vi.advanceTimersByTime(29_999);
    expect(queue.receive()).toEqual([]);

    vi.advanceTimersByTime(1);
    expect(counts(queue)).toEqual([1, 0, 0]);
    const second = queue.receive();

    expect(second[0]?.messageId).toBe(first[0]?.messageId);
    expect(second[0]?.attributes.ApproximateReceiveCount).toBe('2');
    expect(second[0]?.attributes.ApproximateFirstReceiveTimestamp).toBe(String(T0));
    expect(second[0]?.receiptHandle).not.toBe(first[0]?.receiptHandle);
  });

  it('uses the visibility timeout given to receive over the queue default', () => {
    const queue = new LocalQueue({ name: 'intake', visibilityTimeoutSeconds: 30 });
    queue.send('job');
    queue.receive(1, 5);
    vi.advanceTimersByTime(5_000);
    expect(queue.receive()).toHaveLength(1);
  });

  it('does not delete with a stale receipt handle once the message was received again', () => {
    const queue = new LocalQueue({ name: 'intake', visibilityTimeoutSeconds: 10 });
    queue.send('job');
    const [stale] = queue.receive();
    vi.advanceTimersByTime(10_000);
    const [current] = queue.receive();

    expect(queue.deleteMessage(stale?.receiptHandle ?? '')).toBe(false);
    expect(counts(queue)).toEqual([0, 1, 0]);
    expect(queue.deleteMessage(current?.receiptHandle ?? '')).toBe(true);
    expect(counts(queue)).toEqual([0, 0, 0]);
    // Deleting twice is not an error, as in SQS.
    expect(queue.deleteMessage(current?.receiptHandle ?? '')).toBe(false);
  });

  it('deletes with the latest handle even after the visibility timeout ran out', () => {
    const queue = new LocalQueue({ name: 'intake', visibilityTimeoutSeconds: 10 });
    queue.send('job');
    const [message] = queue.receive();
    vi.advanceTimersByTime(60_000);
    expect(queue.deleteMessage(message?.receiptHandle ?? '')).toBe(true);
    expect(counts(queue)).toEqual([0, 0, 0]);
  });

  it('refuses something that is not a receipt handle', () => {
    const queue = new LocalQueue({ name: 'intake' });
    expect(errorCode(() => queue.deleteMessage('garbage'))).toBe('ReceiptHandleIsInvalid');
  });

  it('changes the visibility of an in-flight message, and 0 makes it visible at once', () => {
    const queue = new LocalQueue({ name: 'intake', visibilityTimeoutSeconds: 10 });
    queue.send('job');
    const [message] = queue.receive();
    const handle = message?.receiptHandle ?? '';

    vi.advanceTimersByTime(9_000);
    queue.changeMessageVisibility(handle, 60);
    vi.advanceTimersByTime(59_999);
    expect(counts(queue)).toEqual([0, 1, 0]);

    queue.changeMessageVisibility(handle, 0);
    expect(counts(queue)).toEqual([1, 0, 0]);
    expect(errorCode(() => queue.changeMessageVisibility(handle, 10))).toBe('MessageNotInflight');

    queue.receive();
    expect(errorCode(() => queue.changeMessageVisibility(handle, 10))).toBe('ReceiptHandleIsInvalid');
  });
});

describe('LocalQueue redrive to a dead-letter queue', () => {
  it('moves a message received maxReceiveCount times to the DLQ instead of delivering it again', () => {
    const dlq = new LocalQueue({ name: 'intake-dlq' });
    const queue = new LocalQueue({
      name: 'intake',
      visibilityTimeoutSeconds: 10,
      maxReceiveCount: 2,
      deadLetterQueue: dlq,
    });
    const { messageId } = queue.send('poison');
    queue.send('healthy');

    expect(queue.receive(1)[0]?.body).toBe('poison');
    vi.advanceTimersByTime(10_000);
    expect(queue.receive(1)[0]?.attributes.ApproximateReceiveCount).toBe('2');
    vi.advanceTimersByTime(10_000);

    // The third receive skips the poison message and delivers the next one.
    expect(queue.receive(10).map((m) => m.body)).toEqual(['healthy']);
    expect(counts(queue)).toEqual([0, 1, 0]);

    const [dead] = dlq.receive(10);
    expect(dead?.messageId).toBe(messageId);
    expect(dead?.body).toBe('poison');
    expect(dead?.attributes.SentTimestamp).toBe(String(T0));
    expect(dead?.attributes.DeadLetterQueueSourceArn).toBe(queue.arn);
  });
});

describe('LocalQueue delay', () => {
  it('keeps a delayed message invisible until its delay passes', () => {
    const queue = new LocalQueue({ name: 'intake' });
    queue.send('later', { delaySeconds: 5 });
    expect(counts(queue)).toEqual([0, 0, 1]);
    expect(queue.receive()).toEqual([]);

    vi.advanceTimersByTime(5_000);
    expect(counts(queue)).toEqual([1, 0, 0]);
    expect(queue.receive()[0]?.attributes.ApproximateReceiveCount).toBe('1');
  });

  it('applies the queue delay unless the message sets its own', () => {
    const queue = new LocalQueue({ name: 'intake', delaySeconds: 60, visibilityTimeoutSeconds: 600 });
    queue.send('default delay');
    queue.send('no delay', { delaySeconds: 0 });
    expect(queue.receive(10).map((m) => m.body)).toEqual(['no delay']);
    vi.advanceTimersByTime(60_000);
    expect(queue.receive(10).map((m) => m.body)).toEqual(['default delay']);
  });

  it('refuses a delay outside 0..900 seconds', () => {
    const queue = new LocalQueue({ name: 'intake' });
    expect(errorCode(() => queue.send('x', { delaySeconds: 901 }))).toBe('InvalidParameterValue');
    expect(errorCode(() => queue.send('x', { delaySeconds: -1 }))).toBe('InvalidParameterValue');
    expect(() => new LocalQueue({ name: 'q', delaySeconds: 1000 })).toThrow(LocalQueueError);
  });
});

describe('LocalQueue retention', () => {
  it('drops messages older than the retention period, in flight or not', () => {
    const queue = new LocalQueue({
      name: 'intake',
      messageRetentionSeconds: 60,
      visibilityTimeoutSeconds: 600,
    });
    queue.send('in flight');
    queue.receive();
    vi.advanceTimersByTime(30_000);
    queue.send('younger');

    vi.advanceTimersByTime(30_000);
    expect(counts(queue)).toEqual([1, 0, 0]);
    expect(queue.receive(10).map((m) => m.body)).toEqual(['younger']);
  });
});

describe('LocalQueue availability events', () => {
  it('tells listeners once per burst of sends, after the send returns', async () => {
    const queue = new LocalQueue({ name: 'intake' });
    const listener = vi.fn();
    queue.onAvailable(listener);

    queue.send('a');
    queue.send('b');
    expect(listener).not.toHaveBeenCalled();
    await settle();
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('holds one timer for the next message to become visible and fires when it does', async () => {
    const queue = new LocalQueue({ name: 'intake', visibilityTimeoutSeconds: 30 });
    const listener = vi.fn();
    queue.onAvailable(listener);
    queue.send('delayed', { delaySeconds: 20 });
    for (let i = 0; i < 5; i++) queue.send(`m${i}`, { delaySeconds: 0 });
    queue.receive(10);
    await settle();
    listener.mockClear();

    // Five in flight until 30 s, one delayed until 20 s: one timer, for 20 s.
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(19_999);
    expect(listener).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(listener).toHaveBeenCalledTimes(1);
    // Something is visible: a consumer has work, so the queue does not wait for the rest.
    expect(vi.getTimerCount()).toBe(0);

    queue.receive(10);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(listener).toHaveBeenCalledTimes(2);
  });

  it('holds no timer when nothing waits for a delay or a visibility timeout', () => {
    const queue = new LocalQueue({ name: 'intake' });
    queue.onAvailable(() => undefined);
    queue.send('a');
    const [message] = queue.receive();
    expect(vi.getTimerCount()).toBe(1);
    queue.deleteMessage(message?.receiptHandle ?? '');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops telling a listener once it unsubscribes, and a throwing listener harms no one', async () => {
    const queue = new LocalQueue({ name: 'intake' });
    const removed = vi.fn();
    const kept = vi.fn();
    queue.onAvailable(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = queue.onAvailable(removed);
    queue.onAvailable(kept);
    unsubscribe();
    queue.send('a');
    await settle();
    expect(removed).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
  });

  it('runs on an injected clock and timers', () => {
    let now = 1_000;
    const scheduled: { at: number; callback: () => void }[] = [];
    const queue = new LocalQueue({
      name: 'intake',
      now: () => now,
      timers: {
        setTimeout: (callback, ms) => scheduled.push({ at: now + ms, callback }),
        clearTimeout: () => undefined,
      },
    });
    queue.send('later', { delaySeconds: 3 });
    expect(scheduled.map((timer) => timer.at)).toEqual([4_000]);
    now = 4_000;
    expect(queue.receive()[0]?.attributes).toMatchObject({
      SentTimestamp: '1000',
      ApproximateFirstReceiveTimestamp: '4000',
    });
  });

  it('clears its timer and refuses calls once closed', () => {
    const queue = new LocalQueue({ name: 'intake' });
    queue.send('later', { delaySeconds: 3 });
    expect(vi.getTimerCount()).toBe(1);
    queue.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(errorCode(() => queue.send('x'))).toBe('QueueDoesNotExist');
  });
});
