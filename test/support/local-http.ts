/**
 * The API of a runtime over plain HTTP, as a caller with no client library sees it: for the tests
 * that drive the local runtime end to end.
 */

// biome-ignore lint/suspicious/noExplicitAny: the tests read whichever fields the API returns
export type Json = any;

const SUBMIT = '/api/v1/spark/jobs/submit';

/** Who calls: a local runtime takes the caller's name from `x-libra-user` (its default user without it). */
export interface Caller {
  readonly user?: string;
}

/** One request to the API at `baseUrl`: its status, headers and JSON body (undefined when empty). */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  caller: Caller = {},
): Promise<{ status: number; headers: Headers; body: Json }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(caller.user !== undefined && { 'x-libra-user': caller.user }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : JSON.parse(text),
  };
}

/** Submits the job and returns its id; any answer but 202 throws, with the answer. */
export async function submitJob(baseUrl: string, body: unknown, caller: Caller = {}): Promise<string> {
  const answer = await callApi(baseUrl, 'POST', SUBMIT, body, caller);
  if (answer.status !== 202)
    throw new Error(`submit answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body.jobId as string;
}
