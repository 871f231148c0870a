/**
 * When a function loads an AWS SDK client package.
 *
 * The bundles leave the SDK out and import it from the runtime by name (lib/libra-function.ts,
 * RUNTIME_PROVIDED_MODULES). A static `import … from '@aws-sdk/client-x'` loads that whole package
 * at module init, called or not, paid on every cold start (docs/benchmarks.md, "Measurements
 * behind code choices"), and esbuild cannot drop it.
 * So the AWS adapters import only the SDK's types and take an `Sdk`, the package and its client
 * on demand, and each function's entry (lambdas/entry) chooses, per client, by what the function
 * does:
 * - `atInit`: a client it uses on every invocation, or nearly, is loaded with the function by a
 *   static import in the entry. Loading it later would only move the same cost into the first
 *   request.
 * - `onFirstUse`: a client it calls on some invocations only (stopping a Spark run, the notifier
 *   for a job a cancel ends at once, S3 for inline code) is imported the first time it is needed,
 *   and kept for the life of the container.
 * A client a function never calls is not given to it at all.
 * Every client made here is traced (powertools.ts): each of its calls is a subsegment of the invocation.
 */

import { traced } from './powertools.ts';

export interface SdkClient<M, C> {
  /** The package: its commands and its error classes. */
  readonly sdk: M;
  readonly client: C;
}

/** An SDK client package and one client of it, made once per container. */
export type Sdk<M, C> = () => Promise<SdkClient<M, C>>;

/** A package the entry imported statically: the client is made now, at init. */
export function atInit<M, C>(sdk: M, makeClient: (sdk: M) => C): Sdk<M, C> {
  const loaded = Promise.resolve({ sdk, client: traced(makeClient(sdk)) });
  return () => loaded;
}

/**
 * A package imported (`load`, a dynamic `import()`) and its client made the first time they are
 * needed; concurrent first uses share one import. A failed import is tried again on the next use.
 */
export function onFirstUse<M, C>(load: () => Promise<M>, makeClient: (sdk: M) => C): Sdk<M, C> {
  let loading: Promise<SdkClient<M, C>> | undefined;
  return () => {
    if (!loading) {
      const attempt = load().then((sdk) => ({ sdk, client: traced(makeClient(sdk)) }));
      loading = attempt;
      attempt.catch(() => {
        if (loading === attempt) loading = undefined;
      });
    }
    return loading;
  };
}
