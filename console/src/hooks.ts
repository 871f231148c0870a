import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText, LibraApiError } from './api.ts';

export type Load<T> =
  | { readonly state: 'loading' }
  | { readonly state: 'error'; readonly error: string; readonly last?: T }
  | { readonly state: 'ready'; readonly data: T };

/**
 * Loads `read` now and whenever `deps` change; again every `everyMs` while `again(data)` holds
 * (a job not final yet). A read that fails keeps the last data shown beside the error. Reads never
 * overlap, and one left behind by a change of `deps` is dropped.
 */
export function usePolled<T>(
  read: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  everyMs: number,
  again: (data: T) => boolean,
): [Load<T>, () => void] {
  const [load, setLoad] = useState<Load<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  const last = useRef<T | undefined>(undefined);
  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const data = await read(abort.signal);
        if (abort.signal.aborted) return;
        last.current = data;
        setLoad({ state: 'ready', data });
        if (again(data)) timer = setTimeout(run, everyMs);
      } catch (error) {
        if (abort.signal.aborted) return;
        setLoad({
          state: 'error',
          error: errorText(error),
          ...(last.current !== undefined && { last: last.current }),
        });
        // A refusal (no such job, not yours) stays one until the user acts; anything else may pass.
        const refused = error instanceof LibraApiError && error.status < 500 && error.status !== 429;
        if (!refused && everyMs > 0) timer = setTimeout(run, everyMs * 3);
      }
    };
    void run();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return [load, () => setTick((n) => n + 1)];
}

export function dataOf<T>(load: Load<T>): T | undefined {
  return load.state === 'ready' ? load.data : load.state === 'error' ? load.last : undefined;
}
