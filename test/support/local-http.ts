/**
 * The API of a runtime over plain HTTP, as a caller with no client library sees it: for the tests
 * that drive the local runtime end to end.
 */

// biome-ignore lint/suspicious/noExplicitAny: the tests read whichever fields the API returns
export type Json = any;

const SUBMIT = '/api/v1/spark/jobs/submit';

/** One request to the API at `baseUrl`: its status and its JSON body (undefined when empty). */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    ...(body !== undefined && {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** Submits the job and returns its id; any answer but 202 throws, with the answer. */
export async function submitJob(baseUrl: string, body: unknown): Promise<string> {
  const answer = await callApi(baseUrl, 'POST', SUBMIT, body);
  if (answer.status !== 202)
    throw new Error(`submit answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body.jobId as string;
}
