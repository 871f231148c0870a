import type { RemovalPolicy } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';

export interface JobTableProps {
  /**
   * Refuse DeleteTable, even from CloudFormation: job records and their history are the
   * system of record.
   * @default true
   */
  readonly deletionProtection?: boolean;

  /**
   * What CloudFormation does with the table when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * A customer managed KMS key to encrypt the table with.
   * @default - the AWS managed key for DynamoDB (`aws/dynamodb`)
   */
  readonly encryptionKey?: IKey;
}
