import type { RemovalPolicy } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { LibraConfig } from '#core/config.ts';
import type { JobTable } from './job-table.ts';

export interface NotifierFunctionOptions {
  /**
   * Names of the per-pool webhook signing secrets are this prefix and the pool name. Secret
   * names are unique per account and region: a second Libra there needs another prefix.
   * @default 'libra/webhooks/'
   */
  readonly webhookSecretPrefix?: string;

  /**
   * What CloudFormation does with a pool's secret when the pool or the stack goes.
   * @default RemovalPolicy.DESTROY: the secret signs that pool's webhooks only
   */
  readonly secretRemovalPolicy?: RemovalPolicy;
}

export interface NotifierFunctionProps extends NotifierFunctionOptions {
  readonly config: LibraConfig;
  /** The notifier reads the job and records each delivery in its history. */
  readonly store: JobTable;
  readonly logRetention: RetentionDays;
  readonly memorySize: number;
}
