import type { RemovalPolicy } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { z } from 'zod/mini';
import type { libraConfigSchema } from '#core/config.ts';
import type { AdmissionFunctionsOptions } from './admission-functions-props.ts';
import type { JobApiOptions } from './job-api-props.ts';
import type { JobConsoleOptions } from './job-console.ts';
import type { JobTableProps } from './job-table-props.ts';
import type { JobWorkflowOptions } from './job-workflow-props.ts';
import type { NotifierFunctionOptions } from './notifier-function-props.ts';
import type { ObservabilityOptions } from './observability-props.ts';
import type { SparkBackendsOptions } from './spark-backends-props.ts';

/** Configuration as written in the `libra` key of cdk.json context: defaults may be left out. */
export type LibraConfigInput = z.input<typeof libraConfigSchema>;

export interface LibraProps {
  /**
   * Libra's configuration, validated with parseConfig when the construct is built: a bad value
   * fails synthesis with its key named (`libra.pools.etl.cpuCores: ...`).
   * @default - every default: one `default` pool, IAM authorization, 90 days retention
   */
  readonly config?: LibraConfigInput;

  /**
   * Settings of the job table.
   * @default - JobTable's defaults: deletion protection on, AWS managed key
   */
  readonly jobStore?: JobTableProps;

  /**
   * Settings of the HTTP API and its functions.
   * @default - JobApi's defaults
   */
  readonly api?: JobApiOptions;

  /**
   * How long the logs of every function and of the job workflow are kept.
   * @default - the API's logRetention, else RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;

  /**
   * Memory of the functions behind the queue, the schedule and the workflow, in MiB.
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * What CloudFormation does with the artifacts bucket and its access-log bucket.
   * @default RemovalPolicy.RETAIN
   */
  readonly artifactsRemovalPolicy?: RemovalPolicy;

  /**
   * Settings of the EMR Serverless applications the stack creates.
   * @default - SparkBackends' defaults: x86_64, auto-stop after 15 idle minutes
   */
  readonly sparkBackends?: SparkBackendsOptions;

  /**
   * Settings of the webhook notifier and its secrets.
   * @default - secrets named `libra/webhooks/<pool>`
   */
  readonly notifier?: NotifierFunctionOptions;

  /**
   * Settings of the job workflow.
   * @default - a state machine name unique in the app
   */
  readonly workflow?: JobWorkflowOptions;

  /**
   * Settings of admission.
   * @default - at most 2 concurrent admission functions
   */
  readonly admission?: AdmissionFunctionsOptions;

  /**
   * Thresholds of the alarms.
   * @default - 5% API 5xx, oldest wait at 80% of maxWaitMinutes
   */
  readonly observability?: ObservabilityOptions;

  /**
   * Publishes the jobs console (console/dist) on CloudFront, configured with the API's URL and
   * JWT issuer: `true` or its options. JWT deployments only: a browser cannot sign IAM requests
   * (docs/deploy.md says how IAM deployments use the console).
   * @default - no console
   */
  readonly console?: boolean | JobConsoleOptions;
}
