import type { JobSpec } from './job-record.ts';
import type { JobRequest } from './job-request.ts';
import { SIZING_KEYS } from './sizing.ts';

/**
 * A job's request as its record keeps it for a re-run: only what its spec does not already hold.
 * The spec holds the code or entry point, its arguments and class, the retry policy, the
 * timeout-retry flag and the webhook as the request gave them, and the caller's Spark conf with
 * every sizing key written in (sizing writes those keys only). So the record keeps the caller's
 * own sizing entries and the fields the spec does not carry (kind, mode, priority, timeout as
 * given, name, tags, pool): the request is rebuilt exactly, and the item does not hold the code,
 * the arguments or the conf twice (a record is at most 400 KB; a request, 256 KiB).
 */
export type KeptRequest = Omit<
  JobRequest,
  | 'code'
  | 'entryPoint'
  | 'entryPointArguments'
  | 'mainClass'
  | 'retryPolicy'
  | 'retryOnTimeout'
  | 'notifications'
  | 'sparkConf'
> & {
  /** The caller's own entries among the keys sizing writes; the others are in the spec as given. */
  readonly sparkConf: Readonly<Record<string, string>>;
};

const SIZED: ReadonlySet<string> = new Set(SIZING_KEYS);

/** What the record keeps of a valid request (see KeptRequest). */
export function keptRequest(request: JobRequest): KeptRequest {
  const {
    code: _code,
    entryPoint: _entryPoint,
    entryPointArguments: _arguments,
    mainClass: _mainClass,
    retryPolicy: _retryPolicy,
    retryOnTimeout: _retryOnTimeout,
    notifications: _notifications,
    sparkConf,
    ...kept
  } = request;
  return {
    ...kept,
    sparkConf: Object.fromEntries(Object.entries(sparkConf).filter(([key]) => SIZED.has(key))),
  };
}

/** The request a job was submitted with, rebuilt from what its record keeps and its spec. */
export function requestOf(kept: Readonly<Record<string, unknown>>, spec: JobSpec): Record<string, unknown> {
  const sizedByCaller = (kept.sparkConf ?? {}) as Readonly<Record<string, string>>;
  return {
    ...kept,
    ...(spec.code !== undefined && { code: spec.code }),
    ...(spec.entryPoint !== undefined && { entryPoint: spec.entryPoint }),
    ...(spec.entryPointArguments !== undefined && { entryPointArguments: spec.entryPointArguments }),
    ...(spec.mainClass !== undefined && { mainClass: spec.mainClass }),
    retryPolicy: spec.retryPolicy,
    retryOnTimeout: spec.retryOnTimeout,
    ...(spec.notifications !== undefined && { notifications: spec.notifications }),
    sparkConf: {
      ...Object.fromEntries(Object.entries(spec.sparkConf).filter(([key]) => !SIZED.has(key))),
      ...sizedByCaller,
    },
  };
}
