import type { JobStore, LogPort, RunStateChange } from './ports.ts';

export interface RunRecorderDeps {
  readonly jobs: Pick<JobStore, 'recordRun'>;
  readonly logger: LogPort;
}

/**
 * Keeps the backend's view of a job's run on the job record: its run id (which the finalizer
 * needs to cancel it), the backend's own state and the links to the run's UI and logs.
 */
export class RunRecorder {
  readonly #deps: RunRecorderDeps;

  constructor(deps: RunRecorderDeps) {
    this.#deps = deps;
  }

  async record(change: RunStateChange): Promise<void> {
    const recorded = await this.#deps.jobs.recordRun(change);
    if (!recorded)
      this.#deps.logger.warn('run state for an unknown job', { jobId: change.jobId, runId: change.runId });
  }
}
