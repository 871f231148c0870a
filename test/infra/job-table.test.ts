import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { createJobTableInput, JOB_TABLE } from '#adapters/table-definition.ts';
import { JobTable } from '../../lib/job-table.ts';
import type { JobTableProps } from '../../lib/job-table-props.ts';
import { allowedPermissions, logicalId, permission, testApp } from './app.ts';

function storeStack(props: (stack: Stack) => JobTableProps = () => ({})) {
  const stack = new Stack(testApp(), 'Store');
  const store = new JobTable(stack, 'JobTable', props(stack));
  const fn = (id: string) =>
    new LambdaFunction(stack, id, {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('export const handler = async () => {};'),
    });
  return { stack, store, fn };
}

function onlyTable(template: Template): Record<string, unknown> {
  const tables = Object.values(template.findResources('AWS::DynamoDB::Table'));
  expect(tables).toHaveLength(1);
  return (tables[0] as { Properties: Record<string, unknown> }).Properties;
}

describe('JobTable', () => {
  it('builds the same keys and indexes as the local runtime, from JOB_TABLE', () => {
    // Prepare
    const { stack } = storeStack();
    const local = createJobTableInput('ignored');

    // Act
    const table = onlyTable(Template.fromStack(stack));

    // Assess
    expect(table.KeySchema).toEqual(local.KeySchema);
    expect(table.AttributeDefinitions).toEqual(expect.arrayContaining(local.AttributeDefinitions ?? []));
    expect(table.AttributeDefinitions).toHaveLength(local.AttributeDefinitions?.length ?? 0);
    expect(table.GlobalSecondaryIndexes).toEqual(local.GlobalSecondaryIndexes);
    expect(table.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: 'owner',
        KeySchema: [
          { AttributeName: JOB_TABLE.indexes.owner.partitionKey, KeyType: 'HASH' },
          { AttributeName: JOB_TABLE.indexes.owner.sortKey, KeyType: 'RANGE' },
        ],
        Projection: {
          ProjectionType: 'INCLUDE',
          NonKeyAttributes: [...JOB_TABLE.indexes.owner.nonKeyAttributes],
        },
      }),
      expect.objectContaining({ IndexName: 'waiting' }),
      expect.objectContaining({
        IndexName: 'warnings',
        KeySchema: [
          { AttributeName: 'warnPool', KeyType: 'HASH' },
          { AttributeName: 'warnAt', KeyType: 'RANGE' },
        ],
      }),
    ]);
  });

  it('bills per request, keeps point-in-time recovery, expires records by TTL and refuses deletion', () => {
    const template = Template.fromStack(storeStack().stack);

    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: JOB_TABLE.timeToLiveAttribute, Enabled: true },
        DeletionProtectionEnabled: true,
        SSESpecification: { SSEEnabled: true },
      }),
    });
  });

  it('lets deletion protection be turned off', () => {
    const table = onlyTable(Template.fromStack(storeStack(() => ({ deletionProtection: false })).stack));

    expect(table.DeletionProtectionEnabled).toBe(false);
  });

  it('encrypts with a customer managed key when given one, and grants each function only the key calls it needs', () => {
    // Prepare
    const { stack, store, fn } = storeStack((scope) => ({
      encryptionKey: new Key(scope, 'Key', { enableKeyRotation: true }),
    }));
    const reader = fn('Reader');
    const writer = fn('Writer');

    // Act
    store.grant(reader, { items: ['GetItem'], queries: ['history', 'owner'] });
    store.grant(writer, { items: ['GetItem', 'UpdateItem'] });
    const template = Template.fromStack(stack);

    // Assess
    const [key] = Object.keys(template.findResources('AWS::KMS::Key'));
    const keyArn = { 'Fn::GetAtt': [key, 'Arn'] };
    expect(onlyTable(template).SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: keyArn,
    });
    const keyPermissions = (grantee: LambdaFunction) =>
      allowedPermissions(template, logicalId(stack, grantee.role ?? grantee)).filter((line) =>
        line.startsWith('kms:'),
      );
    expect(keyPermissions(reader)).toEqual([permission('kms:Decrypt', keyArn)]);
    expect(keyPermissions(writer)).toEqual([
      permission('kms:Decrypt', keyArn),
      permission('kms:Encrypt', keyArn),
      permission('kms:GenerateDataKey', keyArn),
    ]);
  });

  it('grants exactly the item calls and queries named, each index by its ARN, and sets TABLE_NAME', () => {
    // Prepare
    const { stack, store, fn } = storeStack();
    const reader = fn('Reader');
    const writer = fn('Writer');

    // Act
    store.grant(reader, { items: ['GetItem'], queries: ['waiting'] });
    store.grant(writer, { items: ['GetItem', 'PutItem', 'UpdateItem'], queries: ['history', 'owner'] });
    const template = Template.fromStack(stack);

    // Assess
    const tableArn = { 'Fn::GetAtt': [logicalId(stack, store.table), 'Arn'] };
    const indexArn = (name: string) => ({ 'Fn::Join': ['', [tableArn, `/index/${name}`]] });
    expect(allowedPermissions(template, logicalId(stack, reader.role ?? reader))).toEqual(
      [permission('dynamodb:GetItem', tableArn), permission('dynamodb:Query', indexArn('waiting'))].sort(),
    );
    expect(allowedPermissions(template, logicalId(stack, writer.role ?? writer))).toEqual(
      [
        permission('dynamodb:GetItem', tableArn),
        permission('dynamodb:PutItem', tableArn),
        permission('dynamodb:UpdateItem', tableArn),
        permission('dynamodb:Query', tableArn),
        permission('dynamodb:Query', indexArn('owner')),
      ].sort(),
    );
    for (const fn of [reader, writer]) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: Match.absent(),
        Environment: { Variables: { TABLE_NAME: { Ref: logicalId(stack, store.table) } } },
        Role: { 'Fn::GetAtt': [logicalId(stack, fn.role ?? fn), 'Arn'] },
      });
    }
  });
});
