import type * as Sfn from '@aws-sdk/client-sfn';
import type { ExecutionStarter, ExecutionState, StartResult, WorkflowControl } from '#core/ports.ts';
import { asStartRefusal, type OperationErrors } from './aws-errors.ts';
import type { Sdk } from './sdk.ts';

export type SfnSdk = Sdk<typeof Sfn, Sfn.SFNClient>;

/** A job's execution ARN: the state machine's, with the job id as the execution name. */
export function executionArn(stateMachineArn: string, jobId: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
}

/**
 * StartExecution's errors in Step Functions' model (botocore data/stepfunctions, checked by
 * test/integration/start-refusals.test.ts), but ExecutionAlreadyExists, which is a start already
 * made; and AccessDeniedException, which every AWS API may answer. The
 * execution limit (a million open executions) and KMS throttling clear by themselves; the rest
 * answer the same every time.
 */
export const START_EXECUTION_ERRORS: OperationErrors = {
  call: 'Step Functions StartExecution',
  permanent: [
    'InvalidArn',
    'InvalidExecutionInput',
    'InvalidName',
    'StateMachineDoesNotExist',
    'StateMachineDeleting',
    'ValidationException',
    'KmsAccessDeniedException',
    'KmsInvalidStateException',
    'AccessDeniedException',
  ],
  transient: ['ExecutionLimitExceeded', 'KmsThrottlingException'],
};

/**
 * Starts the job's Standard workflow named after the job: Step Functions refuses a second
 * execution of the same name, so a retried admission can never run a job twice. A start it
 * refuses for good is thrown as StartRefused; any other error as it came.
 */
export class StepFunctionsExecutions implements ExecutionStarter {
  readonly #sfn: SfnSdk;
  readonly #stateMachineArn: string;

  constructor(sfn: SfnSdk, stateMachineArn: string) {
    this.#sfn = sfn;
    this.#stateMachineArn = stateMachineArn;
  }

  async startExecution(name: string, input: unknown): Promise<StartResult> {
    const { sdk, client } = await this.#sfn();
    try {
      await client.send(
        new sdk.StartExecutionCommand({
          stateMachineArn: this.#stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return 'started';
    } catch (error) {
      if (error instanceof sdk.ExecutionAlreadyExists) return 'already-started';
      throw asStartRefusal(error, START_EXECUTION_ERRORS);
    }
  }
}

export class StepFunctionsControl implements WorkflowControl {
  readonly #sfn: SfnSdk;
  readonly #stateMachineArn: string;

  constructor(sfn: SfnSdk, stateMachineArn: string) {
    this.#sfn = sfn;
    this.#stateMachineArn = stateMachineArn;
  }

  async stop(jobId: string, cause: string): Promise<boolean> {
    const arn = executionArn(this.#stateMachineArn, jobId);
    if ((await this.state(jobId)) !== 'RUNNING') return false;
    const { sdk, client } = await this.#sfn();
    await client.send(new sdk.StopExecutionCommand({ executionArn: arn, cause: cause.slice(0, 32_768) }));
    return true;
  }

  async state(jobId: string): Promise<ExecutionState | undefined> {
    const { sdk, client } = await this.#sfn();
    try {
      const { status } = await client.send(
        new sdk.DescribeExecutionCommand({ executionArn: executionArn(this.#stateMachineArn, jobId) }),
      );
      return status === 'PENDING_REDRIVE' ? 'FAILED' : (status as ExecutionState | undefined);
    } catch (error) {
      if (error instanceof sdk.ExecutionDoesNotExist) return undefined;
      throw error;
    }
  }
}
