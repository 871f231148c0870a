import { readdirSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { AssetStaging } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PROGRESS_UPDATE_CONDITIONS } from '../../lib/job-table.ts';
import { RUNNERS_DIR } from '../../local/workflow/spark.ts';
import { getAtt, libraStack, logicalId } from './app.ts';
import { ACCOUNT, REGION, roleDecider } from './iam-decide.ts';

/**
 * A job's driver reports progress with the job execution role (runners/libra_progress.py): the
 * role may make one UpdateItem of the `progress` attribute of job records, returning nothing, and
 * nothing else on the table. Proven by a real IAM policy evaluator over the synthesized policies,
 * with the context keys DynamoDB puts on such a request; and the runner scripts, the helper among
 * them, are deployed to the artifacts bucket.
 */

const SHARED_ROLE = `arn:aws:iam::${ACCOUNT}:role/shared-jobs`;
const EKS_ROLE = `arn:aws:iam::${ACCOUNT}:role/eks-jobs`;
const TABLE_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/libra-jobs`;
const OTHER_TABLE = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/someone-elses`;

const stack = libraStack({
  config: {
    pools: {
      default: { cpuCores: 8, memoryGb: 32 },
      shared: {
        backends: { emrServerless: { applicationId: '00fexisting', executionRoleArn: SHARED_ROLE } },
      },
      k8s: { backends: { eks: { virtualClusterId: 'vc0123456789', executionRoleArn: EKS_ROLE } } },
    },
  },
});
const template = Template.fromStack(stack);
const table = stack.libra.jobStore.table;
const created = stack.libra.backends.executionRole;
if (!created) throw new Error('the default pool gets a created execution role');
const decide = roleDecider(template, { [`${logicalId(stack, table)}.Arn`]: TABLE_ARN });

/** An UpdateItem as DynamoDB describes it to IAM: the attributes it names, the partition key, what it returns. */
const update = (attributes: string[], partitionKey = 'JOB#job-1', returnValues = 'NONE') => ({
  'dynamodb:Attributes': attributes,
  'dynamodb:LeadingKeys': [partitionKey],
  'dynamodb:ReturnValues': returnValues,
});

describe("the job execution roles' progress grant", () => {
  it('is one UpdateItem statement on the job table with the attribute, key and return conditions, for every role', () => {
    const grants = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as { Action: unknown; Condition?: unknown }[])
        .filter((statement) => JSON.stringify(statement.Condition ?? {}).includes('dynamodb:Attributes'))
        .map((statement) => ({ roles: policy.Properties.Roles, ...statement })),
    );
    const statement = {
      Effect: 'Allow',
      Action: 'dynamodb:UpdateItem',
      Resource: getAtt(stack, table, 'Arn'),
      Condition: PROGRESS_UPDATE_CONDITIONS,
    };
    expect(grants).toEqual([
      { roles: [{ Ref: logicalId(stack, created) }], ...statement },
      { roles: ['shared-jobs'], ...statement },
      { roles: ['eks-jobs'], ...statement },
    ]);
    expect(PROGRESS_UPDATE_CONDITIONS).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['progress'] },
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['JOB#*'] },
      StringEquals: { 'dynamodb:ReturnValues': 'NONE' },
    });
  });

  for (const role of [logicalId(stack, created), 'shared-jobs', 'eks-jobs']) {
    it(`allows ${role} to update progress on a job record and nothing else, as IAM evaluates it`, async () => {
      // Allowed: the report runners/libra_progress.py sends.
      expect(await decide(role, 'dynamodb:UpdateItem', TABLE_ARN, update(['progress']))).toBe('Allowed');

      // Denied: another attribute, alone or beside progress.
      expect(await decide(role, 'dynamodb:UpdateItem', TABLE_ARN, update(['status']))).toBe(
        'ImplicitlyDenied',
      );
      expect(await decide(role, 'dynamodb:UpdateItem', TABLE_ARN, update(['progress', 'owner']))).toBe(
        'ImplicitlyDenied',
      );
      // Denied: an item that is not a job record, and a request for the item back.
      expect(await decide(role, 'dynamodb:UpdateItem', TABLE_ARN, update(['progress'], 'POOL#default'))).toBe(
        'ImplicitlyDenied',
      );
      expect(
        await decide(role, 'dynamodb:UpdateItem', TABLE_ARN, update(['progress'], 'JOB#job-1', 'ALL_OLD')),
      ).toBe('ImplicitlyDenied');
      // Denied: reading, writing whole items, another table.
      expect(
        await decide(role, 'dynamodb:GetItem', TABLE_ARN, { 'dynamodb:LeadingKeys': ['JOB#job-1'] }),
      ).toBe('ImplicitlyDenied');
      expect(await decide(role, 'dynamodb:PutItem', TABLE_ARN, update(['progress']))).toBe(
        'ImplicitlyDenied',
      );
      expect(await decide(role, 'dynamodb:UpdateItem', OTHER_TABLE, update(['progress']))).toBe(
        'ImplicitlyDenied',
      );
    });
  }

  it('deploys the progress helper and the bootstrap with the runners to runners/ of the artifacts bucket', () => {
    template.hasResourceProperties('Custom::CDKBucketDeployment', { DestinationBucketKeyPrefix: 'runners/' });
    const staged = stack.libra.artifacts.runnersDeployment.node
      .findAll()
      .flatMap((construct) =>
        construct instanceof AssetStaging && resolvePath(construct.sourcePath) === resolvePath(RUNNERS_DIR)
          ? [construct.absoluteStagedPath]
          : [],
      );
    expect(staged).toHaveLength(1);
    expect(readdirSync(staged[0] ?? '').sort()).toEqual(
      expect.arrayContaining(['libra_bootstrap.py', 'libra_progress.py', 'sql_runner.py']),
    );
  });
});
