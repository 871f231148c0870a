import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { JOB_TABLE } from '#adapters/table-definition.ts';
import type { JobTableProps } from './job-table-props.ts';

/** The item calls on the table the stores (lambdas/adapters/dynamo-*-store.ts) make; TTL deletes. */
export type TableItemCall = 'GetItem' | 'PutItem' | 'UpdateItem';
const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem'];

/**
 * What one function does on the table, named call by call, so that its role holds only those:
 * its item calls, and its queries — `history`, a job's history items in the table itself, or an
 * index by name (`owner`: a caller's jobs; `waiting`: a pool's queue, in admission order).
 */
export interface TableUse {
  readonly items: readonly TableItemCall[];
  /** `history`: a job's history items; `usage`: the usage totals' items; both are Queries on the table itself. */
  readonly queries?: readonly ('history' | 'usage' | keyof typeof JOB_TABLE.indexes)[];
}

/**
 * DynamoDB uses a customer managed key on the caller's behalf: Decrypt to unwrap the table key on
 * every access, and, for writers, the encrypting calls too. Named one by one, unlike CDK's
 * grantEncryptDecrypt, whose `kms:ReEncrypt*` and `kms:GenerateDataKey*` no table call needs.
 */
const KEY_READ_ACTIONS = ['kms:Decrypt'];
const KEY_WRITE_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'];

/** The one attribute a job's driver may write, of the one kind of item it may write it on. */
export const PROGRESS_UPDATE_CONDITIONS = {
  'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['progress'] },
  'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['JOB#*'] },
  StringEquals: { 'dynamodb:ReturnValues': 'NONE' },
} as const;

/**
 * The single job table of DESIGN §3 (the core's JobStore port reads and writes it through
 * lambdas/adapters/dynamo-job-store.ts), built from JOB_TABLE, the definition the local runtime
 * builds its table from too. Records expire through TTL, so no caller is ever granted DeleteItem.
 */
export class JobTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: JobTableProps = {}) {
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

  /**
   * Lets `fn` make exactly the calls `use` names, and tells it the table's name. A key, when the
   * table has one, is granted for reading only unless the function writes.
   */
  grant(fn: LambdaFunction, use: TableUse): void {
    const queries = use.queries ?? [];
    const tableActions = [
      ...use.items.map((call) => `dynamodb:${call}`),
      ...(queries.includes('history') || queries.includes('usage') ? ['dynamodb:Query'] : []),
    ];
    if (tableActions.length > 0) {
      Grant.addToPrincipal({ grantee: fn, actions: tableActions, resourceArns: [this.table.tableArn] });
    }
    // Index ARNs are named one by one rather than as `index/*`, so a grant never reaches an index added later.
    const indexArns = queries.flatMap((query) =>
      query === 'history' || query === 'usage'
        ? []
        : [`${this.table.tableArn}/index/${JOB_TABLE.indexes[query].indexName}`],
    );
    if (indexArns.length > 0) {
      Grant.addToPrincipal({ grantee: fn, actions: ['dynamodb:Query'], resourceArns: indexArns });
    }
    const writes = use.items.some((call) => call !== 'GetItem');
    this.table.encryptionKey?.grant(fn, ...(writes ? KEY_WRITE_ACTIONS : KEY_READ_ACTIONS));
    fn.addEnvironment('TABLE_NAME', this.table.tableName);
  }

  /**
   * Lets a Spark job's execution role report the job's progress (runners/libra_progress.py) and do
   * nothing else on the table: UpdateItem of the `progress` attribute only, of job records only
   * (partition keys `JOB#…`), returning nothing, so that the caller's code running with the role
   * can read no record and change no other attribute.
   */
  grantProgressUpdate(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: PROGRESS_UPDATE_CONDITIONS,
      }),
    );
    this.table.encryptionKey?.grant(grantee, ...KEY_WRITE_ACTIONS);
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
}
