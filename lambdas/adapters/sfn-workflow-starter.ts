import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { JobRecord } from '#core/job-record.ts';
import type { StartResult, WorkflowStarter } from '#core/ports.ts';

/**
 * Starts the job's Standard workflow named after the job: Step Functions refuses a second
 * execution of the same name, so a retried admission can never run a job twice.
 */
export class StepFunctionsStarter implements WorkflowStarter {
  readonly #client: SFNClient;
  readonly #stateMachineArn: string;
  readonly #input: (job: JobRecord) => unknown;

  constructor(client: SFNClient, stateMachineArn: string, input: (job: JobRecord) => unknown) {
    this.#client = client;
    this.#stateMachineArn = stateMachineArn;
    this.#input = input;
  }

  async start(job: JobRecord): Promise<StartResult> {
    try {
      await this.#client.send(
        new StartExecutionCommand({
          stateMachineArn: this.#stateMachineArn,
          name: job.jobId,
          input: JSON.stringify(this.#input(job)),
        }),
      );
      return 'started';
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return 'already-started';
      throw error;
    }
  }
}
