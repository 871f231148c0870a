import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Bucket, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { PRIVATE_BUCKET } from './artifacts-bucket.ts';
import { acknowledgeBucketDeploymentRuntimes, acknowledgeWildcardsSoFar } from './nag.ts';

/** The built console (`npm run build:console`), committed under console/dist. */
export const CONSOLE_DIST = fileURLToPath(new URL('../console/dist/', import.meta.url));

export interface JobConsoleOptions {
  /**
   * CloudFront's price class: where the console is served from.
   * @default PriceClass.PRICE_CLASS_100
   */
  readonly priceClass?: PriceClass;
  /**
   * What CloudFormation does with the console's buckets (its files, deployed again by every
   * deploy, and CloudFront's logs).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

export interface JobConsoleProps extends JobConsoleOptions {
  /** The API's base URL the console calls (the stage URL). */
  readonly apiUrl: string;
  /** The issuer whose tokens the API's JWT authorizer takes: the console names it where it asks for a token. */
  readonly jwtIssuer: string;
  /** Where the buckets' own server access logs go. */
  readonly accessLogsBucket: Bucket;
  readonly logRetention: RetentionDays;
}

const DEPLOYMENT_REASON =
  "Statements aws-cdk-lib's BucketDeployment grants its function to publish the console: read the " +
  'deployment asset from the CDK bootstrap asset bucket and sync it into the console bucket (list, get, ' +
  'put, delete of stale files). The bucket holds nothing else; the function runs only during deployments.';

/**
 * The jobs console for a JWT deployment: its built files in a private bucket that only this
 * CloudFront distribution may read (origin access control), with `config.json` beside them
 * naming the API's URL and JWT issuer. Served over HTTPS only, with security headers that let
 * the page call the API's execute-api endpoints and nothing else.
 */
export class JobConsole extends Construct {
  readonly bucket: Bucket;
  readonly logsBucket: Bucket;
  readonly distribution: Distribution;
  readonly deployment: BucketDeployment;

  constructor(scope: Construct, id: string, props: JobConsoleProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const region = Stack.of(this).region;

    this.bucket = new Bucket(this, 'Bucket', {
      ...PRIVATE_BUCKET,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'console/',
      removalPolicy,
    });
    // CloudFront's standard logs are delivered through object ACLs: this bucket alone allows them.
    this.logsBucket = new Bucket(this, 'Logs', {
      ...PRIVATE_BUCKET,
      objectOwnership: ObjectOwnership.OBJECT_WRITER,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'console-cdn-logs/',
      lifecycleRules: [{ id: 'expire-cdn-logs', expiration: Duration.days(90) }],
      removalPolicy,
    });

    const headers = new ResponseHeadersPolicy(this, 'Headers', {
      comment: 'Libra console: no framing, no sniffing, calls to the API only',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: [
            "default-src 'self'",
            `connect-src 'self' https://*.execute-api.${region}.amazonaws.com`,
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
          ].join('; '),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
    });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Libra jobs console',
      defaultRootObject: 'index.html',
      priceClass: props.priceClass ?? PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logsBucket,
      logFilePrefix: 'cloudfront/',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        responseHeadersPolicy: headers,
      },
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-CFR1',
        reason:
          'The console is a static page for the API users wherever they are; the API itself authorizes every call.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-CFR2',
        reason:
          'The distribution serves only static files from a private bucket (GET and HEAD); every call that acts ' +
          'goes to the API, which authorizes it with its JWT authorizer and is throttled at its stage.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-CFR4',
        reason:
          "Served on CloudFront's own domain and certificate, whose security policy CloudFront fixes; a custom " +
          "domain with its own certificate and a TLS 1.2 policy is the operator's to add in front.",
      },
    );

    const logGroup = new LogGroup(this, 'DeploymentLogs', { retention: props.logRetention });
    const role = new Role(this, 'DeploymentRole', {
      description: 'Libra: publishes the console files to their bucket',
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    });
    logGroup.grantWrite(role);
    role.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        actions: ['s3:PutObjectAcl', 's3:PutBucketPolicy'],
        resources: [this.bucket.bucketArn, this.bucket.arnForObjects('*')],
      }),
    );
    this.deployment = new BucketDeployment(this, 'Files', {
      sources: [
        Source.asset(CONSOLE_DIST),
        Source.jsonData('config.json', { apiUrl: props.apiUrl, auth: 'jwt', jwtIssuer: props.jwtIssuer }),
      ],
      destinationBucket: this.bucket,
      prune: true,
      // The file names do not change between builds: every file is checked again with its ETag.
      cacheControl: [CacheControl.noCache()],
      role,
      logGroup,
      // aws-cdk-lib shares one deployment function per memory size, whatever its role: a size of
      // its own gives this deployment its own function, so each role reaches its own bucket only.
      memoryLimit: 256,
    });
    acknowledgeWildcardsSoFar(role, DEPLOYMENT_REASON);
    acknowledgeBucketDeploymentRuntimes(Stack.of(this));
  }

  get url(): string {
    return `https://${this.distribution.distributionDomainName}/`;
  }
}
