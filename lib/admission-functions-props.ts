import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { LibraConfig } from '#core/config.ts';
import type { ArtifactsBucket } from './artifacts-bucket.ts';
import type { IntakeQueue } from './intake-queue.ts';
import type { JobTable } from './job-table.ts';
import type { JobWorkflow } from './job-workflow.ts';
import type { NotifierFunction } from './notifier-function.ts';
import type { SparkBackends } from './spark-backends.ts';

export interface AdmissionFunctionsOptions {
  /**
   * How many admission functions may work on the intake queue at once. Passes for one pool
   * contend on its pool item, so more rarely admits faster; 2 is the least SQS allows.
   * @default 2
   */
  readonly maxConcurrency?: number;
}

export interface AdmissionFunctionsProps extends AdmissionFunctionsOptions {
  readonly config: LibraConfig;
  readonly store: JobTable;
  readonly intake: IntakeQueue;
  readonly workflow: JobWorkflow;
  readonly notifier: NotifierFunction;
  readonly backends: SparkBackends;
  readonly artifacts: ArtifactsBucket;
  readonly logRetention: RetentionDays;
  readonly memorySize: number;
  /**
   * How close to a pool's maxWaitMinutes the oldest waiting job may get before the alarm, as a share.
   * @default 0.8
   */
  readonly oldestWaitShare?: number;
}
