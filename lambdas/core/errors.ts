import type { JobStatus } from './job-states.ts';

/**
 * Errors the caller may see. Each carries its HTTP status and an RFC 9457 problem type;
 * the HTTP edge turns them into application/problem+json. Anything else is a 500 and masked.
 */
export interface FieldProblem {
  /** Dotted path of the offending field in the request, e.g. `retryPolicy.maxRetries`; '' for the whole body. */
  readonly field: string;
  readonly message: string;
}

export abstract class LibraError extends Error {
  abstract readonly status: number;
  abstract readonly type: string;
  abstract readonly title: string;
  readonly errors: readonly FieldProblem[];

  constructor(detail: string, errors: readonly FieldProblem[] = []) {
    super(detail);
    this.name = new.target.name;
    this.errors = errors;
  }
}

const problemType = (slug: string) => `urn:libra:problem:${slug}`;

export class ValidationError extends LibraError {
  readonly status = 400;
  readonly type = problemType('validation-failed');
  readonly title = 'The request is not valid';
}

export class UnauthorizedError extends LibraError {
  readonly status = 401;
  readonly type = problemType('unauthenticated');
  readonly title = 'No caller identity';
}

export class ForbiddenError extends LibraError {
  readonly status = 403;
  readonly type = problemType('forbidden');
  readonly title = 'Not allowed';
}

export class NotFoundError extends LibraError {
  readonly status = 404;
  readonly type = problemType('not-found');
  readonly title = 'Not found';
}

export class ConflictError extends LibraError {
  readonly status = 409;
  readonly type = problemType('conflict');
  readonly title = 'Conflict';
}

export class PayloadTooLargeError extends LibraError {
  readonly status = 413;
  readonly type = problemType('payload-too-large');
  readonly title = 'Payload too large';
}

export class UnsupportedMediaTypeError extends LibraError {
  readonly status = 415;
  readonly type = problemType('unsupported-media-type');
  readonly title = 'Unsupported media type';
}

/**
 * 429: come back in `retryAfterSeconds` (sent as Retry-After and as the problem's `retryAfter`).
 * `queue-full`: the pool's queue is at maxQueueSize; `throttled`: AWS throttled a call the request made.
 */
export class TooManyRequestsError extends LibraError {
  readonly status = 429;
  readonly type: string;
  readonly title = 'Too many requests';
  readonly retryAfterSeconds: number;

  constructor(
    detail: string,
    errors: readonly FieldProblem[],
    retryAfterSeconds: number,
    reason: 'queue-full' | 'throttled' | 'budget-exhausted' = 'queue-full',
  ) {
    super(detail, errors);
    this.type = problemType(reason);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** What a pool with a monthly budget has spent, as a 429 `budget-exhausted` names it. */
export interface BudgetState {
  readonly pool: string;
  /** `YYYY-MM` (UTC). */
  readonly month: string;
  readonly spendUsd: number;
  readonly budgetUsd: number;
}

/** 429 `budget-exhausted`: the pool spent its monthly budget; submits wait for the next month. */
export class BudgetExhaustedError extends TooManyRequestsError {
  readonly budget: BudgetState;

  constructor(budget: BudgetState, retryAfterSeconds: number) {
    super(
      `pool '${budget.pool}' has spent $${budget.spendUsd.toFixed(2)} of its $${budget.budgetUsd.toFixed(2)} budget for ${budget.month}; submits to it are refused until the month ends`,
      [
        {
          field: 'pool',
          message: `monthly budget spent ($${budget.spendUsd.toFixed(2)} of $${budget.budgetUsd.toFixed(2)})`,
        },
      ],
      retryAfterSeconds,
      'budget-exhausted',
    );
    this.budget = budget;
  }
}

/** A conditional write lost: someone else moved the job first. Not a caller error by itself. */
export class TransitionConflict extends Error {
  readonly jobId: string;
  /** The statuses the move was to start from. */
  readonly expected: readonly JobStatus[];
  /** Where the job stood when the move was refused; undefined when there is no such job. */
  readonly actualStatus: JobStatus | undefined;
  constructor(jobId: string, expected: readonly JobStatus[], actualStatus: JobStatus | undefined) {
    super(`job ${jobId} is ${actualStatus ?? 'missing'}, expected ${expected.join(' or ')}`);
    this.name = 'TransitionConflict';
    this.jobId = jobId;
    this.expected = expected;
    this.actualStatus = actualStatus;
  }
}

/**
 * A workflow start that AWS refused for good (validation, a missing or deleted state machine,
 * input too large, access denied, a KMS key it cannot use): trying again changes nothing, so
 * the job ends START_FAILED at once. The adapters decide which errors are this; any other start
 * error is taken as transient and tried again a bounded number of times.
 */
export class StartRefused extends Error {
  /** AWS's error name, e.g. InvalidExecutionInput. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartRefused';
    this.code = code;
  }
}
