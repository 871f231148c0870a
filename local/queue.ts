import { createHash, randomUUID } from 'node:crypto';

/**
 * An in-memory queue with the semantics of an SQS standard queue, for the local runtime:
 * visibility timeout, receive counts, redrive to a dead-letter queue, delay, retention,
 * and receipt handles that go stale once a message is received again.
 *
 * The state of every message is a function of the clock (`visibleAt` against `now()`), so
 * reads never depend on a timer having fired. The one timer a queue holds only tells
 * listeners when something becomes visible, so a consumer never needs to poll.
 */

/** A message attribute as the Lambda SQS event carries it; binary values are base64. */
export interface MessageAttributeValue {
  readonly dataType: string;
  readonly stringValue?: string;
  readonly binaryValue?: string;
}

export type MessageAttributes = Readonly<Record<string, MessageAttributeValue>>;

export interface SendOptions {
  /** 0..900; overrides the queue's delay. */
  readonly delaySeconds?: number;
  readonly messageAttributes?: MessageAttributes;
}

export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly md5OfBody: string;
  /** Absent when the message has no attributes, as in SQS. */
  readonly md5OfMessageAttributes?: string;
  readonly messageAttributes: MessageAttributes;
  readonly attributes: {
    readonly ApproximateReceiveCount: string;
    readonly SentTimestamp: string;
    readonly ApproximateFirstReceiveTimestamp: string;
    readonly SenderId: string;
    /** Set on messages that a redrive moved into this queue. */
    readonly DeadLetterQueueSourceArn?: string;
  };
}

export interface QueueCounts {
  /** Visible: a receive would return them now. */
  readonly ApproximateNumberOfMessages: number;
  /** Received and still inside their visibility timeout. */
  readonly ApproximateNumberOfMessagesNotVisible: number;
  /** Never received, still inside their delay. */
  readonly ApproximateNumberOfMessagesDelayed: number;
}

export interface QueueTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface LocalQueueOptions {
  /** 1..80 characters: letters, digits, hyphens, underscores. */
  readonly name: string;
  /** 0..43200; SQS default 30. */
  readonly visibilityTimeoutSeconds?: number;
  /** 0..900; SQS default 0. */
  readonly delaySeconds?: number;
  /** 60..1209600; SQS default 4 days. Counted from the first send, also in a dead-letter queue. */
  readonly messageRetentionSeconds?: number;
  /** With `deadLetterQueue`: a message received this many times moves there instead of a further delivery. */
  readonly maxReceiveCount?: number;
  readonly deadLetterQueue?: LocalQueue;
  /** Bytes of body plus attributes; SQS's long-standing limit of 256 KiB by default. */
  readonly maximumMessageSizeBytes?: number;
  readonly region?: string;
  readonly accountId?: string;
  /** Milliseconds since the epoch; `Date.now()` by default, read at each call so fake timers apply. */
  readonly now?: () => number;
  /** The global timer functions by default, looked up at each call so fake timers apply. */
  readonly timers?: QueueTimers;
}

export class LocalQueueError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'LocalQueueError';
    this.code = code;
  }
}

export const MAX_MESSAGE_SIZE_BYTES = 256 * 1024;
const MAX_DELAY_SECONDS = 900;
const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
const MAX_RECEIVE_BATCH = 10;
const MAX_MESSAGE_ATTRIBUTES = 10;
const DEFAULT_RETENTION_SECONDS = 4 * 24 * 3600;
// The characters SQS accepts in a body or attribute string; a lone surrogate is refused too.
const INVALID_MESSAGE_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly md5OfMessageAttributes: string | undefined;
  readonly messageAttributes: MessageAttributes;
  readonly sentTimestamp: number;
  readonly senderId: string;
  readonly deadLetterQueueSourceArn: string | undefined;
  receiveCount: number;
  firstReceiveTimestamp: number | undefined;
  /** Before this instant the message is delayed (never received) or in flight (received). */
  visibleAt: number;
  /** Only the handle of the latest receive acts on the message. */
  receiptHandle: string | undefined;
}

const defaultTimers: QueueTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class LocalQueue {
  readonly name: string;
  readonly arn: string;
  readonly region: string;
  readonly accountId: string;
  readonly visibilityTimeoutSeconds: number;
  readonly delaySeconds: number;
  readonly messageRetentionSeconds: number;
  readonly maxReceiveCount: number | undefined;
  readonly deadLetterQueue: LocalQueue | undefined;
  readonly maximumMessageSizeBytes: number;
  readonly now: () => number;
  readonly timers: QueueTimers;

  // Insertion order is send order, so iterating gives oldest first.
  readonly #messages = new Map<string, StoredMessage>();
  readonly #listeners = new Set<() => void>();
  #timer: { handle: unknown; at: number } | undefined;
  #notifyPending = false;
  #closed = false;

  constructor(options: LocalQueueOptions) {
    if (!QUEUE_NAME.test(options.name)) {
      throw new LocalQueueError(
        'InvalidParameterValue',
        `queue name ${JSON.stringify(options.name)}: 1 to 80 letters, digits, hyphens or underscores`,
      );
    }
    this.name = options.name;
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.arn = `arn:aws:sqs:${this.region}:${this.accountId}:${this.name}`;
    this.visibilityTimeoutSeconds = checkedInteger(
      'visibilityTimeoutSeconds',
      options.visibilityTimeoutSeconds ?? 30,
      0,
      MAX_VISIBILITY_TIMEOUT_SECONDS,
    );
    this.delaySeconds = checkedInteger('delaySeconds', options.delaySeconds ?? 0, 0, MAX_DELAY_SECONDS);
    this.messageRetentionSeconds = checkedInteger(
      'messageRetentionSeconds',
      options.messageRetentionSeconds ?? DEFAULT_RETENTION_SECONDS,
      60,
      1_209_600,
    );
    this.maximumMessageSizeBytes = checkedInteger(
      'maximumMessageSizeBytes',
      options.maximumMessageSizeBytes ?? MAX_MESSAGE_SIZE_BYTES,
      1024,
      1024 * 1024,
    );
    if ((options.maxReceiveCount === undefined) !== (options.deadLetterQueue === undefined)) {
      throw new LocalQueueError(
        'InvalidParameterValue',
        'a redrive policy needs both maxReceiveCount and deadLetterQueue',
      );
    }
    if (options.deadLetterQueue === this) {
      throw new LocalQueueError('InvalidParameterValue', 'a queue cannot be its own dead-letter queue');
    }
    this.maxReceiveCount =
      options.maxReceiveCount === undefined
        ? undefined
        : checkedInteger('maxReceiveCount', options.maxReceiveCount, 1, 1000);
    this.deadLetterQueue = options.deadLetterQueue;
    this.now = options.now ?? (() => Date.now());
    this.timers = options.timers ?? defaultTimers;
  }

  send(body: string, options: SendOptions = {}): { messageId: string } {
    this.#assertOpen();
    if (body.length === 0)
      throw new LocalQueueError('InvalidParameterValue', 'message body must not be empty');
    if (INVALID_MESSAGE_CHARACTER.test(body)) {
      throw new LocalQueueError(
        'InvalidMessageContents',
        'message body contains characters SQS does not accept',
      );
    }
    const messageAttributes = checkedAttributes(options.messageAttributes ?? {});
    const size = Buffer.byteLength(body, 'utf8') + attributesSize(messageAttributes);
    if (size > this.maximumMessageSizeBytes) {
      throw new LocalQueueError(
        'InvalidParameterValue',
        `message of ${size} bytes (body and attributes) is over the queue's limit of ${this.maximumMessageSizeBytes} bytes`,
      );
    }
    const delaySeconds = checkedInteger(
      'delaySeconds',
      options.delaySeconds ?? this.delaySeconds,
      0,
      MAX_DELAY_SECONDS,
    );
    const now = this.now();
    this.#purgeExpired(now);
    const messageId = randomUUID();
    this.#messages.set(messageId, {
      messageId,
      body,
      md5OfBody: md5Hex(body),
      md5OfMessageAttributes: md5OfMessageAttributes(messageAttributes),
      messageAttributes,
      sentTimestamp: now,
      senderId: this.accountId,
      deadLetterQueueSourceArn: undefined,
      receiveCount: 0,
      firstReceiveTimestamp: undefined,
      visibleAt: now + delaySeconds * 1000,
      receiptHandle: undefined,
    });
    this.#afterChange(now, delaySeconds === 0);
    return { messageId };
  }

  /**
   * Up to `maxMessages` visible messages, oldest first, each hidden for the visibility timeout.
   * A message already received `maxReceiveCount` times moves to the dead-letter queue instead.
   */
  receive(maxMessages = 1, visibilityTimeoutSeconds?: number): ReceivedMessage[] {
    this.#assertOpen();
    checkedInteger('maxMessages', maxMessages, 1, MAX_RECEIVE_BATCH);
    const timeout = checkedInteger(
      'visibilityTimeoutSeconds',
      visibilityTimeoutSeconds ?? this.visibilityTimeoutSeconds,
      0,
      MAX_VISIBILITY_TIMEOUT_SECONDS,
    );
    const now = this.now();
    this.#purgeExpired(now);
    const received: ReceivedMessage[] = [];
    for (const message of this.#messages.values()) {
      if (received.length === maxMessages) break;
      if (message.visibleAt > now) continue;
      if (this.maxReceiveCount !== undefined && message.receiveCount >= this.maxReceiveCount) {
        this.#redrive(message);
        continue;
      }
      message.receiveCount += 1;
      message.firstReceiveTimestamp ??= now;
      message.visibleAt = now + timeout * 1000;
      message.receiptHandle = `${message.messageId}#${randomUUID()}`;
      received.push(snapshot(message, message.receiptHandle));
    }
    this.#afterChange(now, false);
    return received;
  }

  /**
   * Deletes the message if the handle is from its latest receive; a stale handle (the message
   * was received again since) or a handle of a message already gone does nothing, as in SQS.
   * Returns whether a message was deleted.
   */
  deleteMessage(receiptHandle: string): boolean {
    this.#assertOpen();
    const message = this.#messageFor(receiptHandle);
    if (message === undefined || message.receiptHandle !== receiptHandle) return false;
    this.#messages.delete(message.messageId);
    this.#afterChange(this.now(), false);
    return true;
  }

  /** Restarts the message's visibility timeout at `seconds` from now; 0 makes it visible at once. */
  changeMessageVisibility(receiptHandle: string, seconds: number): void {
    this.#assertOpen();
    checkedInteger('visibilityTimeoutSeconds', seconds, 0, MAX_VISIBILITY_TIMEOUT_SECONDS);
    const now = this.now();
    this.#purgeExpired(now);
    const message = this.#messageFor(receiptHandle);
    if (message === undefined || message.receiptHandle !== receiptHandle) {
      throw new LocalQueueError(
        'ReceiptHandleIsInvalid',
        'receipt handle is not the latest of a message in the queue',
      );
    }
    if (message.visibleAt <= now) {
      throw new LocalQueueError('MessageNotInflight', `message ${message.messageId} is not in flight`);
    }
    message.visibleAt = now + seconds * 1000;
    this.#afterChange(now, seconds === 0);
  }

  getAttributes(): QueueCounts {
    const now = this.now();
    this.#purgeExpired(now);
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const message of this.#messages.values()) {
      if (message.visibleAt <= now) visible += 1;
      else if (message.receiveCount === 0) delayed += 1;
      else inFlight += 1;
    }
    return {
      ApproximateNumberOfMessages: visible,
      ApproximateNumberOfMessagesNotVisible: inFlight,
      ApproximateNumberOfMessagesDelayed: delayed,
    };
  }

  /**
   * Calls `listener` (asynchronously, never inside a queue call) when a message may have become
   * visible: a send without delay, a delay or visibility timeout running out, a visibility set
   * to 0. Returns the function that removes the listener.
   */
  onAvailable(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Drops the timer and refuses further calls; the messages stay readable through counts. */
  close(): void {
    this.#closed = true;
    this.#clearTimer();
    this.#listeners.clear();
  }

  /** Takes a message moved here by another queue's redrive, keeping its id, counts and send time. */
  #acceptRedrive(message: StoredMessage, sourceArn: string): void {
    const now = this.now();
    this.#messages.set(message.messageId, {
      ...message,
      deadLetterQueueSourceArn: sourceArn,
      visibleAt: now,
      receiptHandle: undefined,
    });
    this.#afterChange(now, true);
  }

  #redrive(message: StoredMessage): void {
    this.#messages.delete(message.messageId);
    // Only another LocalQueue can be a dead-letter queue, so this private access is safe.
    if (this.deadLetterQueue !== undefined) this.deadLetterQueue.#acceptRedrive(message, this.arn);
  }

  #messageFor(receiptHandle: string): StoredMessage | undefined {
    const separator = receiptHandle.indexOf('#');
    if (separator <= 0) {
      throw new LocalQueueError(
        'ReceiptHandleIsInvalid',
        `not a receipt handle: ${JSON.stringify(receiptHandle)}`,
      );
    }
    return this.#messages.get(receiptHandle.slice(0, separator));
  }

  #purgeExpired(now: number): void {
    const oldestKept = now - this.messageRetentionSeconds * 1000;
    for (const message of this.#messages.values()) {
      if (message.sentTimestamp <= oldestKept) this.#messages.delete(message.messageId);
    }
  }

  #afterChange(now: number, becameVisible: boolean): void {
    if (this.#closed) return;
    if (becameVisible) this.#notify();
    this.#armTimer(now);
  }

  /**
   * While anything is visible a consumer has work and needs no wake-up; otherwise one timer
   * waits for the earliest delay or visibility timeout to run out.
   */
  #armTimer(now: number): void {
    let next = Number.POSITIVE_INFINITY;
    for (const message of this.#messages.values()) {
      if (message.visibleAt <= now) {
        this.#clearTimer();
        return;
      }
      if (message.visibleAt < next) next = message.visibleAt;
    }
    if (next === Number.POSITIVE_INFINITY) {
      this.#clearTimer();
      return;
    }
    if (this.#timer?.at === next) return;
    this.#clearTimer();
    const handle = this.timers.setTimeout(() => this.#onTimer(), Math.max(0, next - now));
    this.#timer = { handle, at: next };
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    const now = this.now();
    this.#purgeExpired(now);
    let anyVisible = false;
    for (const message of this.#messages.values()) {
      if (message.visibleAt <= now) {
        anyVisible = true;
        break;
      }
    }
    if (anyVisible) this.#notify();
    this.#armTimer(now);
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.timers.clearTimeout(this.#timer.handle);
    this.#timer = undefined;
  }

  // One microtask per burst of changes: listeners run after the queue call that caused them.
  #notify(): void {
    if (this.#notifyPending || this.#listeners.size === 0) return;
    this.#notifyPending = true;
    queueMicrotask(() => {
      this.#notifyPending = false;
      for (const listener of [...this.#listeners]) {
        try {
          listener();
        } catch {
          // A listener's failure is its own; the queue and the other listeners carry on.
        }
      }
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new LocalQueueError('QueueDoesNotExist', `queue ${this.name} is closed`);
  }
}

function snapshot(message: StoredMessage, receiptHandle: string): ReceivedMessage {
  return {
    messageId: message.messageId,
    receiptHandle,
    body: message.body,
    md5OfBody: message.md5OfBody,
    ...(message.md5OfMessageAttributes !== undefined && {
      md5OfMessageAttributes: message.md5OfMessageAttributes,
    }),
    messageAttributes: message.messageAttributes,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentTimestamp),
      ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp ?? message.sentTimestamp),
      SenderId: message.senderId,
      ...(message.deadLetterQueueSourceArn !== undefined && {
        DeadLetterQueueSourceArn: message.deadLetterQueueSourceArn,
      }),
    },
  };
}

function checkedInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new LocalQueueError(
      'InvalidParameterValue',
      `${name} must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

function checkedAttributes(attributes: MessageAttributes): MessageAttributes {
  const entries = Object.entries(attributes);
  if (entries.length > MAX_MESSAGE_ATTRIBUTES) {
    throw new LocalQueueError(
      'InvalidParameterValue',
      `at most ${MAX_MESSAGE_ATTRIBUTES} message attributes`,
    );
  }
  const copy: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of entries) {
    const type = /^(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?$/.exec(value.dataType)?.[1];
    if (type === undefined) {
      throw new LocalQueueError(
        'InvalidParameterValue',
        `attribute ${name}: unknown data type ${value.dataType}`,
      );
    }
    const wanted = type === 'Binary' ? value.binaryValue : value.stringValue;
    if (wanted === undefined || wanted.length === 0) {
      throw new LocalQueueError(
        'InvalidParameterValue',
        `attribute ${name}: a ${type} attribute needs a value`,
      );
    }
    if (type !== 'Binary' && INVALID_MESSAGE_CHARACTER.test(wanted)) {
      throw new LocalQueueError(
        'InvalidMessageContents',
        `attribute ${name} contains characters SQS does not accept`,
      );
    }
    copy[name] =
      type === 'Binary'
        ? { dataType: value.dataType, binaryValue: wanted }
        : { dataType: value.dataType, stringValue: wanted };
  }
  return copy;
}

function attributesSize(attributes: MessageAttributes): number {
  let size = 0;
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.dataType);
    if (value.stringValue !== undefined) size += Buffer.byteLength(value.stringValue);
    if (value.binaryValue !== undefined) size += Buffer.from(value.binaryValue, 'base64').length;
  }
  return size;
}

function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** SQS's digest: attributes by name, each as length-prefixed name, type, a transport byte and value. */
export function md5OfMessageAttributes(attributes: MessageAttributes): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const hash = createHash('md5');
  const lengthPrefixed = (bytes: Buffer): void => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length).update(bytes);
  };
  for (const name of names) {
    const value = attributes[name] as MessageAttributeValue;
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(value.dataType, 'utf8'));
    if (value.dataType.startsWith('Binary')) {
      hash.update(Buffer.of(2));
      lengthPrefixed(Buffer.from(value.binaryValue ?? '', 'base64'));
    } else {
      hash.update(Buffer.of(1));
      lengthPrefixed(Buffer.from(value.stringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}
