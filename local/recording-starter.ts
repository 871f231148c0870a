import type { JobRecord } from '#core/job-record.ts';
import type { StartResult, WorkflowStarter } from '#core/ports.ts';

/**
 * A workflow starter with Step Functions' naming rule — one execution per job id, a second
 * start is a no-op — that records what it started. The local runtime uses it until the job
 * workflow runs on the local ASL interpreter; `onStart` lets a caller act on each start, and
 * fail it as Step Functions would (StartRefused for a start refused for good).
 */
export class RecordingStarter implements WorkflowStarter {
  readonly started = new Map<string, { job: JobRecord; at: number }>();
  readonly #onStart: ((job: JobRecord) => void | Promise<void>) | undefined;

  constructor(onStart?: (job: JobRecord) => void | Promise<void>) {
    this.#onStart = onStart;
  }

  async start(job: JobRecord): Promise<StartResult> {
    if (this.started.has(job.jobId)) return 'already-started';
    this.started.set(job.jobId, { job, at: Date.now() });
    try {
      await this.#onStart?.(job);
    } catch (error) {
      // A start that failed (StartRefused for one refused for good) started nothing: a later
      // start of the job is a start, not a no-op.
      this.started.delete(job.jobId);
      throw error;
    }
    return 'started';
  }
}
