import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { ExecutionStarter, ExecutionState, StartResult, WorkflowControl } from '#core/ports.ts';

/** A job's execution ARN: the state machine's, with the job id as the execution name. */
export function executionArn(stateMachineArn: string, jobId: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
}

/**
 * Starts the job's Standard workflow named after the job: Step Functions refuses a second
 * execution of the same name, so a retried admission can never run a job twice.
 */
export class StepFunctionsExecutions implements ExecutionStarter {
  readonly #client: SFNClient;
  readonly #stateMachineArn: string;

  constructor(client: SFNClient, stateMachineArn: string) {
    this.#client = client;
    this.#stateMachineArn = stateMachineArn;
  }

  async startExecution(name: string, input: unknown): Promise<StartResult> {
    try {
      await this.#client.send(
        new StartExecutionCommand({
          stateMachineArn: this.#stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return 'started';
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return 'already-started';
      throw error;
    }
  }
}

export class StepFunctionsControl implements WorkflowControl {
  readonly #client: SFNClient;
  readonly #stateMachineArn: string;

  constructor(client: SFNClient, stateMachineArn: string) {
    this.#client = client;
    this.#stateMachineArn = stateMachineArn;
  }

  async stop(jobId: string, cause: string): Promise<boolean> {
    const arn = executionArn(this.#stateMachineArn, jobId);
    if ((await this.state(jobId)) !== 'RUNNING') return false;
    await this.#client.send(new StopExecutionCommand({ executionArn: arn, cause: cause.slice(0, 32_768) }));
    return true;
  }

  async state(jobId: string): Promise<ExecutionState | undefined> {
    try {
      const { status } = await this.#client.send(
        new DescribeExecutionCommand({ executionArn: executionArn(this.#stateMachineArn, jobId) }),
      );
      return status === 'PENDING_REDRIVE' ? 'FAILED' : (status as ExecutionState | undefined);
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return undefined;
      throw error;
    }
  }
}
