import type { ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { LibraConfig } from '#core/config.ts';
import type { IntakeQueue } from './intake-queue.ts';
import type { JobTable } from './job-table.ts';

/** What an embedding app may tune on the job API. */
export interface JobApiOptions {
  /**
   * Steady-state requests per second and burst for the whole stage; API Gateway answers 429
   * above them before any Lambda runs.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttle?: ThrottleSettings;

  /**
   * How long access logs and function logs are kept.
   * @default RetentionDays.THREE_MONTHS, as long as a job record lives by default
   */
  readonly logRetention?: RetentionDays;

  /**
   * Memory of each route's function, in MiB; Lambda gives CPU in proportion, which is what
   * cold starts are short of.
   * @default 512
   */
  readonly memorySize?: number;
}

export interface JobApiProps extends JobApiOptions {
  /** The validated configuration: it picks the authorizer and is handed to every function. */
  readonly config: LibraConfig;

  /** Where the routes keep jobs; each function is granted only the access its route needs. */
  readonly store: JobTable;

  /** Where submit announces new jobs to admission. */
  readonly intake: IntakeQueue;

  /**
   * Share of API requests answered 5xx, over five minutes, that raises the alarm.
   * @default 0.05
   */
  readonly serverErrorRate?: number;
}
