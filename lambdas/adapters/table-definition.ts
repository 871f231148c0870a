import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The job table's keys, indexes and TTL (DESIGN §3): the one source the CDK construct and the
 * local runtime both build the table from.
 */
export const JOB_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  timeToLiveAttribute: 'expiresAt',
  indexes: {
    /** A caller's jobs, newest first. */
    owner: {
      indexName: 'owner',
      partitionKey: 'owner',
      sortKey: 'ownerSort',
      nonKeyAttributes: [
        'jobId',
        'status',
        'pool',
        'backend',
        'priority',
        'name',
        'tags',
        'attempts',
        'reason',
        'submittedAt',
        'queuedAt',
        'scheduledAt',
        'startedAt',
        'completedAt',
        'cancelledAt',
        'updatedAt',
        // A running job's line shows how far it has got; each progress update also writes the index.
        'progress',
      ],
    },
    /** Sparse: only QUEUED jobs carry waitPool/waitKey, so key order is admission order. */
    waiting: {
      indexName: 'waiting',
      partitionKey: 'waitPool',
      sortKey: 'waitKey',
      nonKeyAttributes: ['jobId', 'owner', 'reservation', 'priority', 'submittedAt'],
    },
    /**
     * Sparse: only jobs with a duration warning carry warnPool (from submit), and only while a run
     * is going do they carry warnAt; the tick reads the due ones, `warnAt <= now`, one query per pool.
     */
    warnings: {
      indexName: 'warnings',
      partitionKey: 'warnPool',
      sortKey: 'warnAt',
      nonKeyAttributes: ['jobId'],
    },
  },
} as const;

export type JobTableIndex = (typeof JOB_TABLE.indexes)[keyof typeof JOB_TABLE.indexes];

/** The same table as a DynamoDB CreateTable request, for the local DynamoDB. */
export function createJobTableInput(tableName: string): CreateTableCommandInput {
  const indexes = Object.values(JOB_TABLE.indexes);
  const keyNames = [
    JOB_TABLE.partitionKey,
    JOB_TABLE.sortKey,
    ...indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...new Set(keyNames)].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: JOB_TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: JOB_TABLE.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: indexes.map((index) => ({
      IndexName: index.indexName,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.nonKeyAttributes] },
    })),
  };
}
