import { randomUUID } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { LocalQueue, ReceivedMessage } from './queue.ts';

/**
 * The local stand-in for Lambda's SQS event source mapping: it receives batches from a
 * LocalQueue, hands them to a handler as real `SQSEvent`s, and deletes what the handler
 * processed. Failed messages are left in flight, so the queue's visibility timeout, receive
 * count and redrive decide what happens next, exactly as in AWS.
 */

/** The response is checked at run time, as Lambda checks it; handlers returning nothing are fine. */
export type SqsBatchHandler = (
  event: SQSEvent,
  context: Context,
  // biome-ignore lint/suspicious/noConfusingVoidType: an async handler that returns nothing is Promise<void>.
) => Promise<SQSBatchResponse | undefined | null | void> | SQSBatchResponse | undefined | null | void;

export type BatchFailureReason =
  /** The handler threw or its promise rejected: the whole batch stays for redelivery. */
  | 'handler-threw'
  /** The response named no valid message (an empty, missing or foreign itemIdentifier, or no list). */
  | 'invalid-batch-response'
  /** The handler succeeded but deleting a processed message failed. */
  | 'delete-failed'
  /** Receiving from the queue failed (it was closed, say); `event` holds no records. */
  | 'receive-failed';

export interface BatchFailure {
  readonly reason: BatchFailureReason;
  readonly event: SQSEvent;
}

export interface EventSourceMappingOptions {
  /** 1..10000; above 10 needs a batching window of at least 1 s, as in Lambda. Default 10. */
  readonly batchSize?: number;
  /** 0..300000. 0 delivers as soon as anything is visible; otherwise waits for a full batch or the window. */
  readonly maximumBatchingWindowMs?: number;
  /** Batches in flight at once, 1..1000. Default 1. */
  readonly maximumConcurrency?: number;
  /** Honour `batchItemFailures` in the handler's response. Default true. */
  readonly reportBatchItemFailures?: boolean;
  readonly functionName?: string;
  /** What the context's `getRemainingTimeInMillis` counts down from; not enforced. Default 30 s. */
  readonly functionTimeoutMs?: number;
  /** Told of every batch that was not wholly processed. Default: a line on stderr. */
  readonly onError?: (error: unknown, failure: BatchFailure) => void;
}

export interface EventSourceMapping {
  /** Stops receiving and resolves once the batches in flight have finished. */
  stop(): Promise<void>;
  /**
   * Resolves once the queue holds nothing visible, delayed or in flight and no batch is running;
   * rejects if the mapping is stopped first.
   */
  drained(): Promise<void>;
  readonly batchesInFlight: number;
}

const RECEIVE_LIMIT = 10;

export function startEventSourceMapping(
  queue: LocalQueue,
  handler: SqsBatchHandler,
  options: EventSourceMappingOptions = {},
): EventSourceMapping {
  const batchSize = checkedInteger('batchSize', options.batchSize ?? 10, 1, 10_000);
  const windowMs = checkedInteger(
    'maximumBatchingWindowMs',
    options.maximumBatchingWindowMs ?? 0,
    0,
    300_000,
  );
  if (batchSize > RECEIVE_LIMIT && windowMs < 1000) {
    throw new RangeError('batchSize above 10 needs maximumBatchingWindowMs of at least 1000, as in Lambda');
  }
  const maximumConcurrency = checkedInteger('maximumConcurrency', options.maximumConcurrency ?? 1, 1, 1000);
  const reportBatchItemFailures = options.reportBatchItemFailures ?? true;
  const functionName = options.functionName ?? `${queue.name}-consumer`;
  const functionTimeoutMs = options.functionTimeoutMs ?? 30_000;
  const onError = options.onError ?? defaultOnError(functionName);

  const inFlight = new Set<Promise<void>>();
  const drainWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  let stopped = false;
  let window: { handle: unknown; deadline: number } | undefined;

  const report = (error: unknown, failure: BatchFailure): void => {
    try {
      onError(error, failure);
    } catch {
      // A failing reporter must not turn into an unhandled rejection.
    }
  };

  const receiveBatch = (): ReceivedMessage[] => {
    const batch: ReceivedMessage[] = [];
    while (batch.length < batchSize) {
      const received = queue.receive(Math.min(RECEIVE_LIMIT, batchSize - batch.length));
      if (received.length === 0) break;
      batch.push(...received);
    }
    return batch;
  };

  const clearWindow = (): void => {
    if (window === undefined) return;
    queue.timers.clearTimeout(window.handle);
    window = undefined;
  };

  // Decides, from the queue's counts alone, whether to start batches now, wait out a
  // batching window, or do nothing until the queue says something became visible.
  const pump = (): void => {
    if (stopped) return;
    try {
      startBatches();
    } catch (error) {
      report(error, { reason: 'receive-failed', event: { Records: [] } });
    }
    settleDrainWaiters();
  };

  const startBatches = (): void => {
    while (inFlight.size < maximumConcurrency) {
      const visible = queue.getAttributes().ApproximateNumberOfMessages;
      if (visible === 0) {
        clearWindow();
        break;
      }
      if (windowMs > 0 && visible < batchSize) {
        const now = queue.now();
        if (window === undefined) {
          const deadline = now + windowMs;
          window = { handle: queue.timers.setTimeout(onWindowEnd, windowMs), deadline };
          break;
        }
        if (now < window.deadline) break;
      }
      clearWindow();
      const batch = receiveBatch();
      // Everything visible may have been redriven to the dead-letter queue instead.
      if (batch.length === 0) continue;
      const run = runBatch(batch).finally(() => {
        inFlight.delete(run);
        pump();
      });
      inFlight.add(run);
    }
  };

  function onWindowEnd(): void {
    if (window !== undefined) window = { ...window, deadline: Math.min(window.deadline, queue.now()) };
    pump();
  }

  const runBatch = async (messages: ReceivedMessage[]): Promise<void> => {
    const event: SQSEvent = { Records: messages.map((message) => toRecord(queue, message)) };
    let response: unknown;
    try {
      response = await handler(event, lambdaContext(functionName, queue, functionTimeoutMs));
    } catch (error) {
      report(error, { reason: 'handler-threw', event });
      return;
    }
    const failed = reportBatchItemFailures ? failedMessageIds(response, messages) : new Set<string>();
    if (failed === 'all') {
      report(new Error(`${functionName} returned an invalid batch response: ${safeJson(response)}`), {
        reason: 'invalid-batch-response',
        event,
      });
      return;
    }
    for (const message of messages) {
      if (failed.has(message.messageId)) continue;
      try {
        queue.deleteMessage(message.receiptHandle);
      } catch (error) {
        report(error, { reason: 'delete-failed', event });
      }
    }
  };

  const isDrained = (): boolean => {
    if (inFlight.size > 0) return false;
    const counts = queue.getAttributes();
    return (
      counts.ApproximateNumberOfMessages === 0 &&
      counts.ApproximateNumberOfMessagesNotVisible === 0 &&
      counts.ApproximateNumberOfMessagesDelayed === 0
    );
  };

  const settleDrainWaiters = (): void => {
    if (drainWaiters.length === 0 || !isDrained()) return;
    for (const waiter of drainWaiters.splice(0)) waiter.resolve();
  };

  const unsubscribe = queue.onAvailable(pump);
  // Messages may be waiting already; start on the next turn like any other wake-up.
  queueMicrotask(pump);

  return {
    get batchesInFlight() {
      return inFlight.size;
    },
    drained() {
      if (stopped) return Promise.reject(new Error('the event source mapping is stopped'));
      if (isDrained()) return Promise.resolve();
      return new Promise((resolve, reject) => drainWaiters.push({ resolve, reject }));
    },
    async stop() {
      if (!stopped) {
        stopped = true;
        unsubscribe();
        clearWindow();
      }
      await Promise.all([...inFlight]);
      const error = new Error('the event source mapping stopped before the queue drained');
      for (const waiter of drainWaiters.splice(0)) {
        if (isDrained()) waiter.resolve();
        else waiter.reject(error);
      }
    },
  };
}

/**
 * The ids a partial batch response marks as failed, or 'all' when Lambda would fail the
 * whole batch: a response that is not an object, a list that is not a list, or an item
 * without a non-empty itemIdentifier of a message in this batch.
 */
function failedMessageIds(response: unknown, messages: readonly ReceivedMessage[]): Set<string> | 'all' {
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object' || Array.isArray(response)) return 'all';
  const items = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (items === undefined || items === null) return new Set();
  if (!Array.isArray(items)) return 'all';
  const inBatch = new Set(messages.map((message) => message.messageId));
  const failed = new Set<string>();
  for (const item of items) {
    const id =
      typeof item === 'object' && item !== null
        ? (item as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof id !== 'string' || !inBatch.has(id)) return 'all';
    failed.add(id);
  }
  return failed;
}

function toRecord(queue: LocalQueue, message: ReceivedMessage): SQSRecord {
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.messageAttributes)) {
    messageAttributes[name] = {
      ...(value.stringValue !== undefined && { stringValue: value.stringValue }),
      ...(value.binaryValue !== undefined && { binaryValue: value.binaryValue }),
      stringListValues: [],
      binaryListValues: [],
      dataType: value.dataType,
    };
  }
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: { ...message.attributes },
    messageAttributes,
    md5OfBody: message.md5OfBody,
    ...(message.md5OfMessageAttributes !== undefined && {
      md5OfMessageAttributes: message.md5OfMessageAttributes,
    }),
    eventSource: 'aws:sqs',
    eventSourceARN: queue.arn,
    awsRegion: queue.region,
  };
}

function lambdaContext(functionName: string, queue: LocalQueue, timeoutMs: number): Context {
  const deadline = queue.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${queue.region}:${queue.accountId}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - queue.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function defaultOnError(functionName: string): (error: unknown, failure: BatchFailure) => void {
  return (error, failure) => {
    const ids = failure.event.Records.map((record) => record.messageId).join(', ');
    console.error(`${functionName}: batch not processed (${failure.reason}) for messages ${ids}:`, error);
  };
}

function checkedInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
