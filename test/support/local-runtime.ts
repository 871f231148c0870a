import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../local/runtime.ts';
import { testConfig } from './api.ts';

/**
 * The in-process local runtime as the integration tests run it: quiet, on a free port, with a
 * default pool roomy enough for every test's jobs at once.
 */
export function startRoomyRuntime(options: Partial<LocalRuntimeOptions> = {}): Promise<LocalRuntime> {
  return startLocalRuntime({
    config: testConfig({ pools: { default: { cpuCores: 64, memoryGb: 256, maxConcurrentJobs: 20 } } }),
    port: 0,
    logLevel: 'SILENT',
    tickSeconds: 5,
    ...options,
  });
}

/** Submits a job through the HTTP API; its id, or an error with the answer when it is not 202. */
export async function submitJob(runtime: Pick<LocalRuntime, 'url'>, body: unknown): Promise<string> {
  const response = await fetch(`${runtime.url}/api/v1/spark/jobs/submit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 202)
    throw new Error(`submit answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { jobId: string }).jobId;
}
