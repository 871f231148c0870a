import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { LibraConfig } from '#core/config.ts';
import type { IntakeQueue } from './intake-queue.ts';
import type { JobTable } from './job-table.ts';
import type { NotifierFunction } from './notifier-function.ts';
import type { SparkBackends } from './spark-backends.ts';

export interface JobWorkflowOptions {
  /**
   * Name of the job state machine. Functions find executions by it (`execution:<name>:<jobId>`),
   * so it is fixed at synth rather than left to CloudFormation.
   * @default - derived from the construct path, unique in the app
   */
  readonly stateMachineName?: string;
}

export interface JobWorkflowProps extends JobWorkflowOptions {
  readonly config: LibraConfig;
  /** Status moves and history items are written by the workflow's own DynamoDB tasks. */
  readonly store: JobTable;
  /** The workflow's Wake step sends to it; so does the finalizer. */
  readonly intake: IntakeQueue;
  /** The notify tasks invoke it; so does the finalizer. */
  readonly notifier: NotifierFunction;
  /** Where the Run tasks start Spark and the finalizer cancels it. */
  readonly backends: SparkBackends;
  readonly logRetention: RetentionDays;
  readonly memorySize: number;
}
