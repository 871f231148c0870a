import { runSimulation } from '@cloud-copilot/iam-simulate';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  type IamStatement,
  type Template as TemplateJson,
  TemplateValues,
} from '../support/template-arns.ts';
import { allowedPermissions, libraStack, logicalId, testApp } from './app.ts';

/** The console published for a JWT deployment: S3 behind CloudFront with origin access control. */

const JWT = { auth: { mode: 'jwt' as const, issuer: 'https://issuer.example.com/', audience: ['libra'] } };
const stack = libraStack({ config: JWT, console: true });
const template = Template.fromStack(stack);
const jobConsole = stack.libra.console;
if (!jobConsole) throw new Error('the console was not created');
const bucketId = logicalId(stack, jobConsole.bucket);
const distributionId = logicalId(stack, jobConsole.distribution);

describe('the console construct', () => {
  it('is created only when asked for', () => {
    expect(libraStack({ config: JWT }, testApp()).libra.console).toBeUndefined();
  });

  it('refuses an IAM deployment in one line that says why and where to read on', () => {
    expect(() => libraStack({ console: true }, testApp())).toThrow(
      /published for JWT deployments only .*a browser cannot sign IAM requests; see docs\/deploy\.md/,
    );
  });

  it('serves a private bucket through CloudFront with origin access control, HTTPS only, GET and HEAD only, logged', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    const distribution = template.toJSON().Resources[distributionId].Properties.DistributionConfig;
    expect(distribution.DefaultRootObject).toBe('index.html');
    expect(distribution.Logging.Bucket).toBeDefined();
    expect(distribution.DefaultCacheBehavior).toMatchObject({
      ViewerProtocolPolicy: 'redirect-to-https',
      AllowedMethods: ['GET', 'HEAD'],
    });
    expect(distribution.Origins).toHaveLength(1);
    expect(distribution.Origins[0].OriginAccessControlId).toBeDefined();
    expect(distribution.Origins[0].S3OriginConfig.OriginAccessIdentity).toBe('');
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
  });

  it("publishes console/dist with config.json naming the API's URL and the JWT issuer", () => {
    const deployments = Object.values(template.findResources('Custom::CDKBucketDeployment')).filter(
      (resource) =>
        JSON.stringify(resource.Properties.DestinationBucketName) === JSON.stringify({ Ref: bucketId }),
    );
    expect(deployments).toHaveLength(1);
    const properties = deployments[0]?.Properties;
    expect(properties.SourceObjectKeys).toHaveLength(2);
    // The API's URL is known at deploy time: config.json gets it through the deployment's markers.
    const markers = JSON.stringify(properties.SourceMarkers);
    expect(markers).toContain(logicalId(stack, stack.libra.jobApi.httpApi));
    expect(properties.Prune).toBe(true);
  });

  it("lets the console's origin alone call the API from a browser", () => {
    const api = template.toJSON().Resources[logicalId(stack, stack.libra.jobApi.httpApi)].Properties;
    expect(api.CorsConfiguration).toEqual({
      AllowOrigins: [{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] }],
      AllowMethods: ['GET', 'POST', 'DELETE'],
      AllowHeaders: ['authorization', 'content-type', 'idempotency-key'],
      MaxAge: 600,
    });
  });

  it('sends security headers whose CSP lets the page call execute-api and nothing else', () => {
    const policy = Object.values(template.findResources('AWS::CloudFront::ResponseHeadersPolicy'))[0];
    const headers = policy?.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp = JSON.stringify(headers.ContentSecurityPolicy.ContentSecurityPolicy);
    expect(csp).toContain("default-src 'self'; connect-src 'self' https://*.execute-api.");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(headers.FrameOptions.FrameOption).toBe('DENY');
    expect(headers.ContentTypeOptions.Override).toBe(true);
  });

  it("the deployment's role reaches the console bucket and the CDK asset bucket only", () => {
    const role = logicalId(
      stack,
      stack.node.findChild('Libra').node.findChild('Console').node.findChild('DeploymentRole'),
    );
    const resources = allowedPermissions(template, role).map((line) => line.slice(line.indexOf(' ') + 1));
    for (const resource of resources) {
      expect(resource).toMatch(new RegExp(`${bucketId}|cdk-hnb659fds-assets|DeploymentLogs`));
    }
    expect(
      resources.some((resource) => resource.includes(logicalId(stack, stack.libra.artifacts.bucket))),
    ).toBe(false);
  });
});

describe("the console bucket's policy, judged by an IAM evaluator", () => {
  const values = new TemplateValues(template.toJSON() as TemplateJson, {
    account: '123456789012',
    region: 'eu-west-1',
    suffix: 'test',
    overrides: { [distributionId]: 'E2CONSOLE' },
  });
  const policy = Object.values(template.findResources('AWS::S3::BucketPolicy')).find(
    (resource) => JSON.stringify(resource.Properties.Bucket) === JSON.stringify({ Ref: bucketId }),
  );
  const statements = values.resolve(policy?.Properties.PolicyDocument.Statement) as IamStatement[];
  const distributionArn = 'arn:aws:cloudfront::123456789012:distribution/E2CONSOLE';
  const bucketName = values.name(bucketId);

  async function decide(principal: string, action: string, key: string, context: Record<string, string>) {
    const result = await runSimulation(
      {
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: { Version: '2012-10-17', Statement: statements },
        request: {
          principal,
          action,
          resource: { resource: `arn:aws:s3:::${bucketName}/${key}`, accountId: '123456789012' },
          contextVariables: { 'aws:SecureTransport': 'true', ...context },
        },
      },
      {},
    );
    if (result.resultType === 'error') throw new Error(JSON.stringify(result.errors));
    return result.overallResult;
  }

  it('lets this distribution read the files', async () => {
    expect(
      await decide('cloudfront.amazonaws.com', 's3:GetObject', 'index.html', {
        'aws:SourceArn': distributionArn,
      }),
    ).toBe('Allowed');
  });

  it('refuses another distribution, any write, and anyone else', async () => {
    const other = 'arn:aws:cloudfront::999999999999:distribution/EOTHER';
    expect(
      await decide('cloudfront.amazonaws.com', 's3:GetObject', 'index.html', { 'aws:SourceArn': other }),
    ).not.toBe('Allowed');
    expect(
      await decide('cloudfront.amazonaws.com', 's3:PutObject', 'index.html', {
        'aws:SourceArn': distributionArn,
      }),
    ).not.toBe('Allowed');
    expect(await decide('arn:aws:iam::999999999999:root', 's3:GetObject', 'config.json', {})).not.toBe(
      'Allowed',
    );
  });
});
