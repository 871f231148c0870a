import type { LibraConfig } from '#core/config.ts';
import type { ArtifactsBucket } from './artifacts-bucket.ts';
import type { JobTable } from './job-table.ts';

/** What an embedding app may tune on the EMR Serverless applications the stack creates. */
export interface SparkBackendsOptions {
  /**
   * CPU architecture of the created applications' workers. ARM64 costs about 20% less, but a
   * JAR job with x86-only native code fails on it.
   * @default 'X86_64', EMR Serverless's own default
   */
  readonly architecture?: 'X86_64' | 'ARM64';

  /**
   * Minutes an application with no job runs waits before it stops and releases its workers.
   * @default 15, EMR Serverless's own default
   */
  readonly idleTimeoutMinutes?: number;
}

export interface SparkBackendsProps extends SparkBackendsOptions {
  /** The validated configuration: each pool's backends. */
  readonly config: LibraConfig;

  /** Where the job execution roles the stack creates read code and write logs. */
  readonly artifacts: ArtifactsBucket;

  /**
   * Where a job's driver reports its progress: every job execution role of the configuration (in
   * this account) may update the `progress` attribute of job records, and nothing else there.
   */
  readonly jobTable?: JobTable;
}
