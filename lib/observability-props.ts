import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { LibraConfig } from '#core/config.ts';
import type { AdmissionFunctions } from './admission-functions.ts';
import type { IntakeQueue } from './intake-queue.ts';
import type { JobApi } from './job-api.ts';
import type { JobWorkflow } from './job-workflow.ts';
import type { NotifierFunction } from './notifier-function.ts';
import type { RunRecorderFunction } from './run-recorder-function.ts';

/**
 * The alarm thresholds an embedding app may set. The constructs that own the alarms take them:
 * Libra hands apiServerErrorRate to JobApi and oldestWaitShare to AdmissionFunctions.
 */
export interface ObservabilityOptions {
  /**
   * Share of API requests answered 5xx, over five minutes, that raises the alarm.
   * @default 0.05
   */
  readonly apiServerErrorRate?: number;

  /**
   * How close to a pool's maxWaitMinutes the oldest waiting job may get before the alarm, as a share.
   * @default 0.8
   */
  readonly oldestWaitShare?: number;
}

export interface ObservabilityProps {
  /** The pools (one set of widgets each) and the alarm e-mail, if any. */
  readonly config: LibraConfig;
  readonly api: JobApi;
  readonly intake: IntakeQueue;
  readonly admission: AdmissionFunctions;
  readonly workflow: JobWorkflow;
  readonly notifier: NotifierFunction;
  readonly runRecorder: RunRecorderFunction;

  /**
   * How long the logs of the function that counts the workflow's job ends are kept.
   * @default RetentionDays.THREE_MONTHS, as Libra's other functions by default
   */
  readonly logRetention?: RetentionDays;
}
