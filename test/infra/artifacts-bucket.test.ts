import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  allowedPermissions,
  allStatements,
  getAtt,
  libraStack,
  logicalId,
  propertiesOf,
  ref,
} from './app.ts';

const stack = libraStack();
const template = Template.fromStack(stack);
const artifacts = stack.libra.artifacts;
const bucket = propertiesOf(template, stack, artifacts.bucket);
const accessLogs = propertiesOf(template, stack, artifacts.accessLogsBucket);
const BLOCK_ALL = {
  BlockPublicAcls: true,
  BlockPublicPolicy: true,
  IgnorePublicAcls: true,
  RestrictPublicBuckets: true,
};
const S3_MANAGED = {
  ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
};

describe('ArtifactsBucket', () => {
  it('is encrypted, never public, owner-enforced, unversioned and logs its access to a bucket of its own', () => {
    expect(bucket).toMatchObject({
      BucketEncryption: S3_MANAGED,
      PublicAccessBlockConfiguration: BLOCK_ALL,
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LoggingConfiguration: {
        DestinationBucketName: ref(stack, artifacts.accessLogsBucket),
        LogFilePrefix: 'artifacts/',
      },
    });
    expect(bucket.VersioningConfiguration).toBeUndefined();
    expect(accessLogs).toMatchObject({
      BucketEncryption: S3_MANAGED,
      PublicAccessBlockConfiguration: BLOCK_ALL,
    });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('keeps job code, Spark logs and access logs as long as job records, and never keeps half an upload', () => {
    expect(bucket.LifecycleConfiguration.Rules).toEqual([
      { Id: 'expire-job-code', Prefix: 'jobs/', ExpirationInDays: 90, Status: 'Enabled' },
      { Id: 'expire-spark-logs', Prefix: 'logs/', ExpirationInDays: 90, Status: 'Enabled' },
      {
        Id: 'abort-incomplete-uploads',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        Status: 'Enabled',
      },
    ]);
    expect(accessLogs.LifecycleConfiguration.Rules).toEqual([
      { Id: 'expire-access-logs', ExpirationInDays: 90, Status: 'Enabled' },
    ]);
    const longer = Template.fromStack(libraStack({ config: { retention: { days: 400 } } }));
    expect(JSON.stringify(longer.findResources('AWS::S3::Bucket'))).toContain('"ExpirationInDays":400');
  });

  it('refuses requests without TLS on both buckets, and takes access logs only from the artifacts bucket', () => {
    for (const target of [artifacts.bucket, artifacts.accessLogsBucket]) {
      const arn = getAtt(stack, target, 'Arn');
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: ref(stack, target),
        PolicyDocument: {
          Statement: [
            {
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Resource: [arn, { 'Fn::Join': ['', [arn, '/*']] }],
            },
            ...(target === artifacts.accessLogsBucket
              ? [
                  {
                    Action: 's3:PutObject',
                    Condition: {
                      ArnLike: { 'aws:SourceArn': getAtt(stack, artifacts.bucket, 'Arn') },
                      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
                    },
                    Effect: 'Allow',
                    Principal: { Service: 'logging.s3.amazonaws.com' },
                    Resource: { 'Fn::Join': ['', [arn, '/artifacts/*']] },
                  },
                ]
              : []),
          ],
          Version: '2012-10-17',
        },
      });
    }
  });

  it('deploys runners/ of the repository to runners/, pruning only there', () => {
    template.hasResourceProperties('Custom::CDKBucketDeployment', {
      DestinationBucketName: ref(stack, artifacts.bucket),
      DestinationBucketKeyPrefix: 'runners/',
      Prune: true,
    });
    template.resourceCountIs('Custom::CDKBucketDeployment', 1);
  });

  it('keeps the deployment function out of jobs/ and logs/, whatever BucketDeployment grants it', () => {
    const role = logicalId(stack, artifacts.runnersDeployment.handlerRole);
    const arn = getAtt(stack, artifacts.bucket, 'Arn');

    expect(allStatements(template).filter((s) => s.roles.includes(role) && s.Effect === 'Deny')).toEqual([
      {
        roles: [role],
        Effect: 'Deny',
        Action: ['s3:Abort*', 's3:DeleteObject*', 's3:GetObject*', 's3:PutObject*'],
        Resource: [{ 'Fn::Join': ['', [arn, '/jobs/*']] }, { 'Fn::Join': ['', [arn, '/logs/*']] }],
      },
    ]);
    expect(
      propertiesOf(template, stack, artifacts.runnersDeployment.handlerRole).ManagedPolicyArns,
    ).toBeUndefined();
    expect(allowedPermissions(template, role).filter((line) => line.startsWith('logs:'))).toEqual([
      expect.stringMatching(/^logs:CreateLogStream .*RunnersLogs/),
      expect.stringMatching(/^logs:PutLogEvents .*RunnersLogs/),
    ]);
  });
});
