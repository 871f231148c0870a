import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { JOB_TABLE } from '#adapters/table-definition.ts';
import type { JobStoreProps } from './job-store-props.ts';

/**
 * The calls lambdas/adapters/dynamo-job-store.ts makes: Get and Query to read; Put for jobs,
 * history and idempotency keys, Update for state moves. Nothing scans or batches, and TTL deletes.
 */
const READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'];
const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem'];
/** The run recorder's calls: recordRun's UpdateItem, then GetItem when its condition fails. */
const RUN_RECORD_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'];
/**
 * DynamoDB uses a customer managed key on the caller's behalf: Decrypt to unwrap the table key on
 * every access, and, for writers, the encrypting calls too. Named one by one, unlike CDK's
 * grantEncryptDecrypt, whose `kms:ReEncrypt*` and `kms:GenerateDataKey*` no table call needs.
 */
const KEY_READ_ACTIONS = ['kms:Decrypt'];
const KEY_WRITE_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'];

/**
 * The single job table of DESIGN §3, built from JOB_TABLE, the definition the local runtime
 * builds its table from too. Records expire through TTL, so no caller is ever granted DeleteItem.
 */
export class JobStore extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: JobStoreProps = {}) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: JOB_TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: JOB_TABLE.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      timeToLiveAttribute: JOB_TABLE.timeToLiveAttribute,
      ...(props.encryptionKey
        ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: TableEncryption.AWS_MANAGED }),
    });
    for (const index of Object.values(JOB_TABLE.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: [...index.nonKeyAttributes],
      });
    }
  }

  /** Lets `fn` read jobs, their history and both indexes, and tells it the table's name. */
  grantRead(fn: LambdaFunction): void {
    this.#grantReads(fn);
    this.table.encryptionKey?.grant(fn, ...KEY_READ_ACTIONS);
    fn.addEnvironment('TABLE_NAME', this.table.tableName);
  }

  /** What grantRead allows, plus creating jobs and moving them between states. */
  grantReadWrite(fn: LambdaFunction): void {
    this.#grantReads(fn);
    Grant.addToPrincipal({ grantee: fn, actions: WRITE_ACTIONS, resourceArns: [this.table.tableArn] });
    this.table.encryptionKey?.grant(fn, ...KEY_WRITE_ACTIONS);
    fn.addEnvironment('TABLE_NAME', this.table.tableName);
  }

  /**
   * Lets `fn` record a run's state on its job: the conditional update of the job, and the read
   * that tells a report older than the recorded one (a failed condition) from an unknown job.
   * Nothing else: it creates no item and queries no index.
   */
  grantRunRecords(fn: LambdaFunction): void {
    Grant.addToPrincipal({ grantee: fn, actions: RUN_RECORD_ACTIONS, resourceArns: [this.table.tableArn] });
    this.table.encryptionKey?.grant(fn, ...KEY_WRITE_ACTIONS);
    fn.addEnvironment('TABLE_NAME', this.table.tableName);
  }

  /**
   * Lets a principal that is not a function (the job workflow's role) make the given item
   * writes on the table, and no reads.
   */
  grantItemWrites(grantee: IGrantable, actions: readonly string[]): void {
    const unknown = actions.filter((action) => !WRITE_ACTIONS.includes(action));
    if (unknown.length > 0) throw new Error(`the job table grants no ${unknown.join(', ')}`);
    Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [this.table.tableArn] });
    this.table.encryptionKey?.grant(grantee, ...KEY_WRITE_ACTIONS);
  }

  // Index ARNs are named one by one rather than as `index/*`, so a grant never reaches an index added later.
  #grantReads(fn: LambdaFunction): void {
    const indexArns = Object.values(JOB_TABLE.indexes).map(
      (index) => `${this.table.tableArn}/index/${index.indexName}`,
    );
    Grant.addToPrincipal({ grantee: fn, actions: READ_ACTIONS, resourceArns: [this.table.tableArn] });
    Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:Query'], resourceArns: indexArns });
  }
}
