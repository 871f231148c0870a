import type { Progress } from '#core/progress.ts';

/**
 * Writes each job's newest progress, one write at a time per job: a report that comes while one
 * is being written replaces any still waiting, so a slow store sees fewer writes, never a pile-up,
 * and never an older progress after a newer one.
 */
export class LatestProgressWriter {
  readonly #write: (jobId: string, progress: Progress) => Promise<unknown>;
  readonly #onError: (error: unknown, jobId: string) => void;
  readonly #pending = new Map<string, Progress>();
  readonly #writing = new Map<string, Promise<void>>();

  constructor(
    write: (jobId: string, progress: Progress) => Promise<unknown>,
    onError: (error: unknown, jobId: string) => void,
  ) {
    this.#write = write;
    this.#onError = onError;
  }

  /** Resolves once this report, or a newer one of the job, is written (or failed). */
  report(jobId: string, progress: Progress): Promise<void> {
    this.#pending.set(jobId, progress);
    let writing = this.#writing.get(jobId);
    if (writing === undefined) {
      writing = this.#drain(jobId);
      this.#writing.set(jobId, writing);
    }
    return writing;
  }

  /** Resolves once every report so far is written (or failed). */
  async idle(): Promise<void> {
    while (this.#writing.size > 0) await Promise.all(this.#writing.values());
  }

  async #drain(jobId: string): Promise<void> {
    try {
      for (let next = this.#pending.get(jobId); next !== undefined; next = this.#pending.get(jobId)) {
        this.#pending.delete(jobId);
        await this.#write(jobId, next).catch((error: unknown) => this.#onError(error, jobId));
      }
    } finally {
      this.#writing.delete(jobId);
    }
  }
}
