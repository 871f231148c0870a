import { StartRefused } from '#core/errors.ts';

/**
 * Which AWS errors of a call mean "this will never succeed" and which "try again later", read
 * from what the SDK puts on every service error: its `name` (the error code), `$fault` ('client'
 * or 'server'), `$retryable` (the model's retryable trait) and `$metadata.httpStatusCode`.
 */

/** The error names one operation's model lists, sorted by what they mean for a retry. */
export interface OperationErrors {
  /** AWS's name of the call, for messages: `Step Functions StartExecution`. */
  readonly call: string;
  /** Refused for good: validation, a missing or deleted resource, access, a KMS key it cannot use. */
  readonly permanent: readonly string[];
  /** Client faults that clear by themselves: a limit that frees up, a throttled dependency. */
  readonly transient: readonly string[];
}

/**
 * Errors of any service that clear by themselves although some are answered as client faults
 * (4xx): throttling, request timeouts, expired credentials and clock skew (the SDK refreshes
 * both and corrects the clock on its next call).
 */
/** AWS's names for "too many requests": a rate, a throughput or a request limit was passed. */
const THROTTLING: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
]);

const TRANSIENT_EVERYWHERE: ReadonlySet<string> = new Set([
  ...THROTTLING,
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ExpiredToken',
  'ExpiredTokenException',
  'TokenRefreshRequired',
  'RequestExpired',
  'RequestTimeTooSkewed',
  'RequestInTheFuture',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'AuthFailure',
]);

interface ServiceErrorShape {
  readonly name?: string;
  readonly message?: string;
  readonly $fault?: 'client' | 'server';
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/**
 * True when `error` is AWS throttling the caller (after the SDK's own retries): by its name, the
 * SDK's throttling mark, or an HTTP 429.
 */
export function isThrottling(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as ServiceErrorShape;
  const retryable = e.$retryable as { throttling?: unknown } | undefined;
  return (
    THROTTLING.has(e.name ?? '') || retryable?.throttling === true || e.$metadata?.httpStatusCode === 429
  );
}

/** True when `error` says the call can never succeed as made; anything unknown is transient. */
export function isPermanent(error: unknown, errors: OperationErrors): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as ServiceErrorShape;
  const name = e.name ?? '';
  if (errors.permanent.includes(name)) return true;
  if (errors.transient.includes(name) || TRANSIENT_EVERYWHERE.has(name)) return false;
  if (e.$retryable !== undefined) return false;
  const status = e.$metadata?.httpStatusCode;
  // No answer at all (a reset connection, a timeout, DNS): the network, not the request.
  if (status === undefined) return false;
  if (status === 408 || status === 429 || status >= 500) return false;
  // Any other client fault the model does not list (AccessDenied, NoSuchBucket, KMS …) is the
  // request's or the account's, and answers the same the next time.
  return e.$fault === 'client' && status >= 400;
}

/** `error` as StartRefused when it is permanent (AWS's name and message kept), else unchanged. */
export function asStartRefusal(error: unknown, errors: OperationErrors): unknown {
  if (!isPermanent(error, errors)) return error;
  const { name, message } = error as Error;
  return new StartRefused(name, `${errors.call} refused it (${name}): ${message}`, { cause: error });
}
