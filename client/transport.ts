import { type SigningCredentials, signRequest } from './sigv4.ts';
import type { Problem } from './types.ts';

/** How a caller proves who it is to the API. */
export type Auth =
  /** The local runtime only: the caller is whoever `x-libra-user` names. */
  | { readonly mode: 'local'; readonly user: string }
  /** A deployment with JWT auth: `Authorization: Bearer <token>`. */
  | { readonly mode: 'jwt'; readonly token: string }
  /** A deployment with IAM auth: every request signed with SigV4 for `execute-api`. */
  | {
      readonly mode: 'iam';
      readonly region: string;
      readonly credentials: () => Promise<SigningCredentials>;
    };

/** An HTTP request as it goes on the wire, before its auth headers are added. */
export interface OutgoingRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** The request's headers with the auth headers added; a SigV4 signature covers exactly what is sent. */
export async function authorize(request: OutgoingRequest, auth: Auth): Promise<Record<string, string>> {
  switch (auth.mode) {
    case 'local':
      return { ...request.headers, 'x-libra-user': auth.user };
    case 'jwt':
      return { ...request.headers, authorization: `Bearer ${auth.token}` };
    case 'iam':
      return signRequest(request, { region: auth.region, credentials: auth.credentials });
  }
}

/** A fetch failure as one line: the cause's code (ECONNREFUSED, ENOTFOUND, …) rather than "fetch failed". */
export function networkError(error: unknown, url: URL, timeoutMs: number): string {
  const failure = error as Error & { cause?: { code?: string; message?: string } };
  if (failure.name === 'TimeoutError') return `no answer from ${url.origin} within ${timeoutMs / 1000} s`;
  const cause = failure.cause;
  const why = cause?.code ?? cause?.message ?? failure.message;
  return `cannot reach ${url.origin} (${why})`;
}

/**
 * One line saying what a refused request was: the problem's title and detail and each field
 * error, API Gateway's own `message`, or the status and the start of the body.
 */
export function describeRefusal(status: number, body: unknown, text: string): string {
  const said = body as (Partial<Problem> & { message?: string }) | undefined;
  const title = typeof said?.title === 'string' ? said.title : undefined;
  const detail = said?.detail ?? said?.message;
  const words = [title, detail].filter((part) => typeof part === 'string' && part !== '').join(': ');
  const summary = words || text.slice(0, 200).replace(/\s+/g, ' ').trim();
  return `HTTP ${status}${summary ? ` ${summary}` : ''}${fieldErrors(body)}`;
}

/** A problem's `errors[]` as `: field: message; …`, or '' when it has none. */
export function fieldErrors(body: unknown): string {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return '';
  return `: ${errors
    .map((error) => {
      const { field, message } = error as { field?: string; message?: string };
      return field ? `${field}: ${message}` : String(message);
    })
    .join('; ')}`;
}
