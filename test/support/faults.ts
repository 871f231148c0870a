import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { JOB_TABLE } from '#adapters/table-definition.ts';
import type { JobRecord } from '#core/job-record.ts';
import type { JobStatus } from '#core/job-states.ts';
import type { IntakeMessage, IntakeQueue, StartResult, WorkflowStarter } from '#core/ports.ts';

/**
 * Faults at the adapter boundary. A fault is armed for the first (or nth) call that matches
 * it, and fails that call one of two ways:
 *  - 'before': the call throws and nothing reaches the service (a request that never left);
 *  - 'after':  the call reaches the service, its write commits, and then the call throws
 *              (the answer was lost: a timeout, a reset connection, a Lambda that died).
 * An 'after' fault only fires on a call that succeeded; a call the service refused (a failed
 * condition) passes through and the fault stays armed, so that "fired" always means
 * "committed, then threw".
 */

export type FaultTiming = 'before' | 'after';

/** One call through a wrapped port: a DynamoDB command, an intake send or a workflow start. */
export interface BoundaryCall {
  readonly service: 'dynamodb' | 'sqs' | 'sfn' | 'lambda';
  /**
   * DynamoDB: the command's class name (GetCommand …); SQS: 'SendMessage'; Step Functions:
   * 'StartExecution'; Lambda: 'Invoke' (the notifier function).
   */
  readonly operation: string;
  // biome-ignore lint/suspicious/noExplicitAny: command inputs are read loosely by matchers
  readonly input: any;
}

export type CallMatcher = (call: BoundaryCall) => boolean;

export interface FaultPlan {
  /** What the fault stands for, for messages. */
  readonly name: string;
  readonly match: CallMatcher;
  readonly timing: FaultTiming;
  /** The nth matching call fails (1 = the first); later calls go through. */
  readonly nth?: number;
  /** Every matching call from the nth on fails: a fault that does not go away by itself. */
  readonly persistent?: boolean;
  /**
   * What the call throws instead of an InjectedFault ('before' only): an error the service
   * itself would answer, e.g. a start Step Functions refuses for good.
   */
  readonly error?: (call: BoundaryCall) => Error;
}

export interface FiredFault {
  readonly name: string;
  readonly timing: FaultTiming;
  readonly call: BoundaryCall;
}

/** What an injected fault throws: not a condition failure, so no adapter mistakes it for one. */
export class InjectedFault extends Error {
  readonly timing: FaultTiming;

  constructor(name: string, timing: FaultTiming) {
    super(
      timing === 'after'
        ? `injected fault '${name}': the call committed, then threw`
        : `injected fault '${name}': the call threw before it was sent`,
    );
    this.name = 'InjectedFault';
    this.timing = timing;
  }
}

/** An injected fault, or a pass over several pools (PoolPassesFailed) that failed only by them. */
export function isInjectedFault(error: unknown): boolean {
  if (error instanceof InjectedFault) return true;
  return error instanceof AggregateError && error.errors.length > 0 && error.errors.every(isInjectedFault);
}

interface Armed {
  readonly plan: FaultPlan;
  seen: number;
}

interface Interposed {
  readonly name: string;
  readonly match: CallMatcher;
  readonly action: () => Promise<void>;
}

export class FaultInjector {
  readonly fired: FiredFault[] = [];
  /** Every call that went through a wrapped port and succeeded, in order. */
  readonly committed: BoundaryCall[] = [];
  /** When false, committed calls are not kept (long property runs only need `fired`). */
  recordCommitted = true;
  /** Interposed actions that ran, by name. */
  readonly interposed: string[] = [];
  #armed: Armed[] = [];
  #interposed: Interposed[] = [];
  /** While an interposed action runs, its own calls pass every armed fault by. */
  #inAction = false;

  arm(plan: FaultPlan): this {
    this.#armed.push({ plan, seen: 0 });
    return this;
  }

  /**
   * Runs `action` once, just before the first call that matches is sent, to stage a race
   * deterministically: "a cancel lands between the lease and the move".
   */
  interpose(name: string, match: CallMatcher, action: () => Promise<void>): this {
    this.#interposed.push({ name, match, action });
    return this;
  }

  disarm(): void {
    this.#armed = [];
    this.#interposed = [];
  }

  /** Faults armed that have not fired yet. */
  get pending(): readonly FaultPlan[] {
    return this.#armed.map((a) => a.plan);
  }

  firedNamed(name: string): FiredFault[] {
    return this.fired.filter((f) => f.name === name);
  }

  /** Runs one call through the armed faults. */
  async run<T>(call: BoundaryCall, send: () => Promise<T>): Promise<T> {
    if (this.#inAction) {
      const result = await send();
      this.#commit(call);
      return result;
    }
    const interposed = this.#interposed.find((i) => i.match(call));
    if (interposed) {
      this.#interposed = this.#interposed.filter((i) => i !== interposed);
      this.#inAction = true;
      try {
        await interposed.action();
      } finally {
        this.#inAction = false;
      }
      this.interposed.push(interposed.name);
    }
    const armed = this.#armed.find((a) => a.plan.match(call));
    if (armed) {
      const nth = armed.plan.nth ?? 1;
      if (armed.plan.timing === 'before') {
        armed.seen++;
        if (this.#due(armed, nth)) return this.#fire(armed, call);
      } else {
        const result = await send();
        this.#commit(call);
        armed.seen++;
        if (this.#due(armed, nth)) return this.#fire(armed, call);
        return result;
      }
    }
    const result = await send();
    this.#commit(call);
    return result;
  }

  #commit(call: BoundaryCall): void {
    if (this.recordCommitted) this.committed.push(call);
  }

  #due(armed: Armed, nth: number): boolean {
    return armed.plan.persistent ? armed.seen >= nth : armed.seen === nth;
  }

  #fire(armed: Armed, call: BoundaryCall): never {
    if (!armed.plan.persistent) this.#armed = this.#armed.filter((a) => a !== armed);
    this.fired.push({ name: armed.plan.name, timing: armed.plan.timing, call });
    if (armed.plan.error && armed.plan.timing === 'before') throw armed.plan.error(call);
    throw new InjectedFault(armed.plan.name, armed.plan.timing);
  }

  /** The same document client with every `send` going through the armed faults. */
  wrapDynamo(client: DynamoDBDocumentClient): DynamoDBDocumentClient {
    const wrapped = Object.create(client) as DynamoDBDocumentClient;
    const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
    Object.defineProperty(wrapped, 'send', {
      value: (command: { constructor: { name: string }; input: unknown }) =>
        this.run({ service: 'dynamodb', operation: command.constructor.name, input: command.input }, () =>
          send(command),
        ),
    });
    return wrapped;
  }

  wrapIntake(queue: IntakeQueue): IntakeQueue {
    return {
      send: (message: IntakeMessage) =>
        this.run({ service: 'sqs', operation: 'SendMessage', input: message }, () => queue.send(message)),
    };
  }

  wrapStarter(starter: WorkflowStarter): WorkflowStarter {
    return {
      start: (job: JobRecord): Promise<StartResult> =>
        this.run({ service: 'sfn', operation: 'StartExecution', input: { name: job.jobId } }, () =>
          starter.start(job),
        ),
    };
  }
}

const isPoolKey = (key: unknown) =>
  String((key as { pk?: unknown } | undefined)?.pk ?? '').startsWith('POOL#');
const isJobKey = (key: unknown) => String((key as { pk?: unknown } | undefined)?.pk ?? '').startsWith('JOB#');
const expression = (call: BoundaryCall, field: string) => String(call.input?.[field] ?? '');

/**
 * Every kind of call admission, the reconciler, the job ender and submit/cancel make, as a
 * matcher. `classify` names a call, so a test can check that a pass makes no call outside
 * this catalogue (a new call must get its fault test).
 */
/** How many leases a pool-item update takes (0: it is not one that takes leases). */
function leasesTaken(c: BoundaryCall): number {
  if (c.operation !== 'UpdateCommand' || !isPoolKey(c.input.Key)) return 0;
  return expression(c, 'ConditionExpression').split('attribute_not_exists(leases.').length - 1;
}

export const CALLS = {
  // DynamoDB, pool item
  // The once-per-process update that gives the pool item every attribute the others address.
  ensurePool: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isPoolKey(c.input.Key) &&
    expression(c, 'UpdateExpression').startsWith('SET #pool = if_not_exists(#pool, :pool)'),
  getPool: (c: BoundaryCall) => c.operation === 'GetCommand' && isPoolKey(c.input.Key),
  // One pool-item update leases jobs (DynamoPoolStore.acquireAll): one job is an acquire.
  acquire: (c: BoundaryCall) => leasesTaken(c) === 1,
  acquireAll: (c: BoundaryCall) => leasesTaken(c) > 1,
  release: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isPoolKey(c.input.Key) &&
    expression(c, 'UpdateExpression').includes('REMOVE leases.#job'),
  reserveQueueSlot: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isPoolKey(c.input.Key) &&
    expression(c, 'UpdateExpression').includes('waiting = waiting + :one'),
  freeQueueSlot: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isPoolKey(c.input.Key) &&
    /^SET waiting = (waiting - :n|:zero)(, |$)/.test(expression(c, 'UpdateExpression')),
  setWaiting: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isPoolKey(c.input.Key) &&
    /(SET waiting = :waiting\b|recountMark = :mark)/.test(expression(c, 'UpdateExpression')),
  // Fair share (docs/fair-share.md): forgetting spent entries, and the marks of owners with parked jobs.
  pruneFairShare: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isPoolKey(c.input.Key) &&
    /^REMOVE (lastTag|ownerRunning)\./.test(expression(c, 'UpdateExpression')),
  markParked: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isPoolKey(c.input.Key) &&
    expression(c, 'UpdateExpression').startsWith('SET parked.#o'),
  clearParked: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isPoolKey(c.input.Key) &&
    expression(c, 'UpdateExpression') === 'REMOVE parked.#o',
  // DynamoDB, job items
  park: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isJobKey(c.input.Key) &&
    expression(c, 'UpdateExpression') === 'SET waitPool = :parked',
  createJob: (c: BoundaryCall) => c.operation === 'PutCommand' && c.input.Item?.sk === 'META',
  getJob: (c: BoundaryCall) => c.operation === 'GetCommand' && isJobKey(c.input.Key),
  transition: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isJobKey(c.input.Key) &&
    typeof c.input.ExpressionAttributeValues?.[':to'] === 'string',
  history: (c: BoundaryCall) =>
    c.operation === 'PutCommand' && String(c.input.Item?.sk ?? '').startsWith('EVT#'),
  listWaiting: (c: BoundaryCall) =>
    c.operation === 'QueryCommand' &&
    c.input.IndexName === JOB_TABLE.indexes.waiting.indexName &&
    c.input.Select !== 'COUNT' &&
    !String(c.input.ExpressionAttributeValues?.[':pool']).includes('#parked#'),
  listParked: (c: BoundaryCall) =>
    c.operation === 'QueryCommand' &&
    c.input.IndexName === JOB_TABLE.indexes.waiting.indexName &&
    String(c.input.ExpressionAttributeValues?.[':pool']).includes('#parked#'),
  // The duration warnings due in a pool (DynamoJobStore.dueWarnings), the tick's last pass.
  dueWarnings: (c: BoundaryCall) =>
    c.operation === 'QueryCommand' && c.input.IndexName === JOB_TABLE.indexes.warnings.indexName,
  // A failed workflow start counted on the job (DynamoJobStore.recordStartFailure).
  recordStartFailure: (c: BoundaryCall) =>
    c.operation === 'UpdateCommand' &&
    isJobKey(c.input.Key) &&
    expression(c, 'UpdateExpression').includes('startAttempts = :attempts'),
  // SQS, Step Functions and the notifier function
  intakeSend: (c: BoundaryCall) => c.service === 'sqs',
  start: (c: BoundaryCall) => c.service === 'sfn',
  notify: (c: BoundaryCall) => c.service === 'lambda',
} as const satisfies Record<string, CallMatcher>;

export type CallName = keyof typeof CALLS;

export function classify(call: BoundaryCall): CallName | undefined {
  for (const [name, match] of Object.entries(CALLS)) if (match(call)) return name as CallName;
  return undefined;
}

/** The call of `name` on the item (or, for listWaiting, the waiting index) of pool `pool`. */
export function onPool(name: CallName, pool: string): CallMatcher {
  return (c) =>
    CALLS[name](c) &&
    ((c.input.Key?.pk ?? c.input.Item?.pk) === `POOL#${pool}` ||
      c.input.ExpressionAttributeValues?.[':pool'] === pool ||
      c.input.pool === pool);
}

/** Any DynamoDB call on the item of pool `pool`. */
export function onPoolItem(pool: string): CallMatcher {
  return (c) => (c.input?.Key?.pk ?? c.input?.Item?.pk) === `POOL#${pool}`;
}

/** The first call matching `then` that comes after a call matching `first` (stateful: use once). */
export function after(first: CallMatcher, then: CallMatcher): CallMatcher {
  let seen = false;
  return (c) => {
    if (seen) return then(c);
    if (first(c)) seen = true;
    return false;
  };
}

export function and(...matchers: CallMatcher[]): CallMatcher {
  return (c) => matchers.every((m) => m(c));
}

/** A job-status move to `to` (optionally of one job). */
export function transitionTo(to: JobStatus, jobId?: string): CallMatcher {
  return (c) =>
    CALLS.transition(c) &&
    c.input.ExpressionAttributeValues?.[':to'] === to &&
    (jobId === undefined || c.input.Key?.pk === `JOB#${jobId}`);
}

/** A history item recording a move to `status`. */
export function historyOf(status: JobStatus): CallMatcher {
  return (c) => CALLS.history(c) && c.input.Item?.status === status;
}

/** The call of `name` whose key or message concerns `jobId`. */
export function forJob(name: CallName, jobId: string): CallMatcher {
  return (c) => {
    if (!CALLS[name](c)) return false;
    const i = c.input;
    return (
      i?.jobId === jobId ||
      i?.name === jobId ||
      i?.Key?.pk === `JOB#${jobId}` ||
      i?.Item?.pk === `JOB#${jobId}` ||
      Object.values(i?.ExpressionAttributeNames ?? {}).includes(jobId)
    );
  };
}
