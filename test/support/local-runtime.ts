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
