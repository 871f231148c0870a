import type { z } from 'zod';
import type { libraConfigSchema } from '#core/config.ts';
import type { JobApiOptions } from './job-api-props.ts';
import type { JobStoreProps } from './job-store-props.ts';

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
   * @default - JobStore's defaults: deletion protection on, AWS managed key
   */
  readonly jobStore?: JobStoreProps;

  /**
   * Settings of the HTTP API and its functions.
   * @default - JobApi's defaults
   */
  readonly api?: JobApiOptions;
}
