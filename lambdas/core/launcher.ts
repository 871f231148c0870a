import type { JobRecord } from './job-record.ts';
import type { ArtifactStore, ExecutionStarter, StartResult, WorkflowStarter } from './ports.ts';
import { type ArtifactLocations, type BackendTargets, workflowInput } from './workflow-input.ts';

export interface LauncherDeps {
  readonly artifacts: ArtifactStore;
  readonly locations: ArtifactLocations;
  /** Where a pool's jobs run, as deployed. */
  readonly targets: (pool: string) => BackendTargets;
  readonly executions: ExecutionStarter;
  readonly retentionDays: number;
}

/**
 * Starts an admitted job's workflow: its inline code is stored where the backend reads it,
 * then the execution named after the job starts with the input the workflow needs. Both steps
 * are idempotent (same object key, same execution name), so a retried start is harmless.
 */
export class JobLauncher implements WorkflowStarter {
  readonly #deps: LauncherDeps;

  constructor(deps: LauncherDeps) {
    this.#deps = deps;
  }

  /**
   * `attempt` is the first attempt the execution runs (0-based): 0 for an admitted job; the next
   * one for a job whose execution was lost mid-way (the local runtime's restart).
   */
  async start(job: JobRecord, attempt = 0): Promise<StartResult> {
    const { spec } = job;
    if (spec.code !== undefined && (spec.jobType === 'sql' || spec.jobType === 'python')) {
      await this.#deps.artifacts.putCode(job.jobId, spec.jobType, spec.code);
    }
    const input = workflowInput(
      job,
      this.#deps.targets(job.pool),
      this.#deps.locations,
      this.#deps.retentionDays,
    );
    return this.#deps.executions.startExecution(job.jobId, { ...input, try: { attempt, delay: 0 } });
  }
}
