/** Submits a job through the HTTP API of a local runtime at `url`; its id, or an error with the answer when it is not 202. */
export async function submitJob(runtime: { readonly url: string }, body: unknown): Promise<string> {
  const response = await fetch(`${runtime.url}/api/v1/spark/jobs/submit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 202)
    throw new Error(`submit answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { jobId: string }).jobId;
}
