import { type Auth, authorize, fieldErrors, networkError } from '../../client/transport.ts';

export type { Auth };

/** A failure the smoke reports in one line: no stack trace is ever shown for it. */
export class SmokeError extends Error {
  override readonly name = 'SmokeError';
}

export interface Answer {
  readonly status: number;
  /** The JSON body, or undefined when the body is not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: checks read whichever fields the route returns
  readonly body: any;
  readonly text: string;
}

export interface LibraClientOptions {
  /** The API's base URL: the stack's `ApiUrl` output, or the local runtime's address. */
  readonly endpoint: URL;
  readonly auth: Auth;
  /** The longest one request may take. */
  readonly requestTimeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** The Libra API as a caller sees it: every request authorized the way the deployment expects. */
export class LibraClient {
  readonly #endpoint: URL;
  readonly #auth: Auth;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: LibraClientOptions) {
    this.#endpoint = options.endpoint;
    this.#auth = options.auth;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** `path` starts with a slash and is taken below the endpoint's own path (API stages have one). */
  url(path: string): URL {
    const base = this.#endpoint.href.endsWith('/') ? this.#endpoint.href : `${this.#endpoint.href}/`;
    return new URL(path.replace(/^\//, ''), base);
  }

  /** Whether a link the API returned is served by the API itself (so it can be read with the same auth). */
  serves(link: string): boolean {
    try {
      return new URL(link).origin === this.#endpoint.origin;
    } catch {
      return false;
    }
  }

  async request(method: string, pathOrUrl: string | URL, body?: unknown): Promise<Answer> {
    const url = typeof pathOrUrl === 'string' ? this.url(pathOrUrl) : pathOrUrl;
    const text = body === undefined ? undefined : JSON.stringify(body);
    let headers: Record<string, string> = {
      accept: 'application/json',
      ...(text !== undefined && { 'content-type': 'application/json' }),
    };
    headers = await authorize(
      { method, url, headers, ...(text !== undefined && { body: text }) },
      this.#auth,
    );
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        ...(text !== undefined && { body: text }),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new SmokeError(`${method} ${url.pathname}: ${networkError(error, url, this.#timeoutMs)}`);
    }
    const answer = await response.text();
    let parsed: unknown;
    try {
      parsed = answer === '' ? undefined : JSON.parse(answer);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed, text: answer };
  }
}

/** One line saying what an unexpected answer was: the problem's detail, API Gateway's message, or the status. */
export function describeAnswer(answer: Answer): string {
  const body = answer.body as
    | { title?: string; detail?: string; message?: string; errors?: unknown[] }
    | undefined;
  const said = body?.detail ?? body?.message ?? body?.title ?? answer.text.slice(0, 200).replace(/\s+/g, ' ');
  return `HTTP ${answer.status}${said ? ` ${said}` : ''}${fieldErrors(body)}`;
}
