import type { JobStatus } from 'libra-serverless/client';
import { LibraApiError, LibraClient, LibraConnectionError, TERMINAL } from 'libra-serverless/client';
import { JOB_STATUSES, TERMINAL_STATUSES } from '../../lambdas/core/job-states.ts';

/**
 * Where the console finds the API and how it signs in: `config.json` beside index.html (written
 * by the construct for a deployment), else the page's own origin with local auth (the runtime).
 */
export interface ConsoleConfig {
  readonly apiUrl: string;
  readonly auth: 'local' | 'jwt';
  /** JWT deployments: the issuer whose tokens the API takes, shown where the token is asked for. */
  readonly jwtIssuer?: string;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const fallback: ConsoleConfig = { apiUrl: location.origin, auth: 'local' };
  try {
    const answer = await fetch(new URL('config.json', location.href), { cache: 'no-store' });
    if (!answer.ok) return fallback;
    const said = (await answer.json()) as Partial<ConsoleConfig>;
    if (typeof said.apiUrl !== 'string') return fallback;
    return {
      apiUrl: said.apiUrl,
      auth: said.auth === 'jwt' ? 'jwt' : 'local',
      ...(typeof said.jwtIssuer === 'string' && { jwtIssuer: said.jwtIssuer }),
    };
  } catch {
    return fallback;
  }
}

const USER_KEY = 'libra.console.user';
const TOKEN_KEY = 'libra.console.token';

/** Local auth's user name, kept across visits. */
export function savedUser(): string {
  return localStorage.getItem(USER_KEY) || 'local-user';
}
export function saveUser(user: string): void {
  localStorage.setItem(USER_KEY, user);
}
/** A JWT is kept for this tab only. */
export function savedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}
export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function makeClient(config: ConsoleConfig, user: string, token: string): LibraClient {
  return new LibraClient({
    endpoint: config.apiUrl,
    auth: config.auth === 'jwt' ? { mode: 'jwt', token: token || 'none' } : { mode: 'local', user },
    // A page shows the failure and the user retries: a long hidden backoff would only look hung.
    retry: { retries: 1, maxRetryAfterMs: 5_000 },
    requestTimeoutMs: 15_000,
    // The client calls its fetch as a method of its own; the browser's must be called on window.
    fetch: (input, init) => globalThis.fetch(input, init),
  });
}

/**
 * The states a stored job can be in (SUBMITTED and VALIDATING pass inside the submit call), from
 * the lifecycle spec itself: the filters and the notification choices follow it.
 */
export const STORED_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter(
  (status) => status !== 'SUBMITTED' && status !== 'VALIDATING',
);
export const FINAL_STATUSES: readonly JobStatus[] = TERMINAL_STATUSES;

export function isFinal(status: JobStatus): boolean {
  return TERMINAL.includes(status);
}

/** What went wrong, in one line for the page. */
export function errorText(error: unknown): string {
  if (error instanceof LibraApiError || error instanceof LibraConnectionError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

export { LibraApiError };
