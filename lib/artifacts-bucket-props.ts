import type { RemovalPolicy } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';

export interface ArtifactsBucketProps {
  /**
   * Days a job's stored inline code (`jobs/`), its Spark logs (`logs/`) and the bucket's access
   * logs are kept: as long as the job record that links to them.
   */
  readonly retentionDays: number;

  /** How long the function that deploys the runner scripts keeps its logs. */
  readonly logRetention: RetentionDays;

  /**
   * What CloudFormation does with both buckets when they leave the stack.
   * @default RemovalPolicy.RETAIN: Spark logs and access logs outlive a torn-down stack
   */
  readonly removalPolicy?: RemovalPolicy;
}
