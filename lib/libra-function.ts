import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { type Duration, Stack, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type LibraConfig, libraConfigSchema, parseConfig, poolSchema } from '#core/config.ts';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The Lambda entries of lambdas/entry, each exporting `handler`. */
export function lambdaEntry(file: string): string {
  return fileURLToPath(new URL(`../lambdas/entry/${file}`, import.meta.url));
}

/**
 * Left out of every bundle and imported from the AWS SDK v3 that the `nodejs24.x` runtime ships
 * (every Node.js runtime from nodejs18.x includes it, on NODE_PATH, where the bundle's
 * `require('@aws-sdk/…')` finds it; the runtime resolves an `import()` of it there too). Bundled, the SDK was
 * most of each bundle even tree-shaken, far past the bundle size target (docs/benchmarks.md,
 * "Measurements behind code choices").
 *
 * The trade-offs. The SDK version our code runs with is AWS's, updated with the runtime, not the
 * one in package-lock.json the tests run with: our code must only use APIs the runtime's SDK has
 * (long-standing commands of DynamoDB and lib-dynamodb's document client, SQS, Step Functions,
 * EMR Serverless, EMR on EKS, Lambda, S3 and Secrets Manager, no parameter newer than the runtime).
 * And the runtime's packages load whole, and esbuild keeps every import of an external package
 * (it cannot tell it has no side effects), so a function loads at init each client that any module
 * of its bundle imports statically, called or not. Hence the adapters import only the SDK's types,
 * and each entry loads at init the clients its function uses on (nearly) every invocation and the
 * others on first use, by a dynamic import() (lambdas/adapters/sdk.ts); `npm run bench:bundle`
 * shows the init time of each.
 * `@smithy/*` is listed as the CDK's own default lists it (`sdkV3ExcludeSmithyPackages`): the SDK's
 * building blocks must come from the same copy as the SDK. Setting externalModules replaces that
 * default, which `bundleAwsSDK: true` had turned off; it is spelt out to keep the intent visible.
 */
export const RUNTIME_PROVIDED_MODULES: readonly string[] = ['@aws-sdk/*', '@smithy/*'];

/** Lambda refuses a function whose environment, names and values together, exceeds 4 KiB. */
const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4 * 1024;
/**
 * The most a value known only at deployment may take: a table name is at most 255 bytes, a queue
 * URL about 160, an ARN of ours well under 256. Pseudo parameters and application ids are short.
 */
const DEPLOY_TIME_VALUE_BYTES = 256;
const PSEUDO_PARAMETER_BYTES: Readonly<Record<string, number>> = {
  'AWS::Partition': 'aws-iso-b'.length + 1,
  'AWS::Region': 'ap-southeast-5'.length + 6,
  'AWS::AccountId': 12,
  'AWS::URLSuffix': 'amazonaws.com.cn'.length,
};
/** EMR Serverless application ids are at most 64 characters (CreateApplication API). */
const APPLICATION_ID_BYTES = 64;

export interface LibraFunctionProps {
  /** Absolute path of the TypeScript file that exports `handler`. */
  readonly entry: string;
  /** Shown on the function and its role: what it is for. */
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly logRetention: RetentionDays;
  /** Variables of this function; the grant helpers of the other constructs add theirs. */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * Every Libra function: Node.js 24 on arm64, bundled locally with esbuild (no Docker), X-Ray
 * tracing, JSON logs to a log group of its own, and a role of its own that starts with no
 * permission but writing those logs. The construct `id` holds `Logs`, `Role` and `Function`.
 */
export function libraFunction(scope: Construct, id: string, props: LibraFunctionProps): NodejsFunction {
  const construct = new Construct(scope, id);
  const logGroup = new LogGroup(construct, 'Logs', { retention: props.logRetention });
  // Our own role instead of the default one with AWSLambdaBasicExecutionRole, which may write to any log group.
  const role = new Role(construct, 'Role', {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: props.description,
  });
  logGroup.grantWrite(role);
  Validations.of(role).acknowledge({
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    reason:
      'Active tracing grants xray:PutTraceSegments and xray:PutTelemetryRecords, which support no ' +
      'resource-level permissions, so AWS requires Resource "*" for them; no other statement of this ' +
      'role uses "*" (asserted in test/infra).',
  });

  const fn = new NodejsFunction(construct, 'Function', {
    entry: props.entry,
    handler: 'handler',
    description: props.description,
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    memorySize: props.memorySize,
    timeout: props.timeout,
    tracing: Tracing.ACTIVE,
    role,
    logGroup,
    loggingFormat: LoggingFormat.JSON,
    environment: {
      // The bundles are minified: without this, the source maps shipped beside them go unused in stack traces.
      NODE_OPTIONS: '--enable-source-maps',
      ...props.environment,
    },
    bundling: {
      // CommonJS, not ES modules: an ES module's `import … from 'node:http'` builds the module's
      // whole namespace, and Node 24's http then loads its bundled undici (the fetch client) for
      // the WebSocket getters, on every cold start of each function importing node:http — the
      // Tracer's X-Ray SDK and the webhook sender do. require() reads only what is used (the
      // figures: docs/benchmarks.md, "Measurements behind code choices"). The SDK itself is
      // CommonJS, which the ESM loader also pays to wrap.
      format: OutputFormat.CJS,
      // Dependencies' ES module builds first, so that esbuild can drop what they export unused.
      mainFields: ['module', 'main'],
      minify: true,
      sourceMap: true,
      sourcesContent: false,
      // The runtime's own AWS SDK v3, not a copy in every bundle: see RUNTIME_PROVIDED_MODULES.
      externalModules: [...RUNTIME_PROVIDED_MODULES],
      forceDockerBundling: false,
      logLevel: LogLevel.WARNING,
    },
  });
  // Checked when the app synthesizes, after every grant helper has added its variables.
  construct.node.addValidation({ validate: () => environmentTooLarge(fn) });
  return fn;
}

/** The variables every function that reads the configuration gets (lambdas/adapters/aws-environment.ts). */
export function configEnvironment(config: LibraConfig): Record<string, string> {
  return { POWERTOOLS_SERVICE_NAME: 'libra', LIBRA_CONFIG: JSON.stringify(compactConfig(config)) };
}

/**
 * The configuration without the values its schema defaults to: the functions parse it with the
 * same schema and get the same configuration back, and Lambda's 4 KiB environment holds several
 * times more pools.
 */
export function compactConfig(config: LibraConfig): Record<string, unknown> {
  const poolDefaults = poolSchema.parse({});
  const { pools, ...rest } = config;
  const compact = {
    ...withoutDefaults(rest, libraConfigSchema.parse({})),
    pools: Object.fromEntries(
      Object.entries(pools).map(([name, pool]) => [name, withoutDefaults(pool, poolDefaults)]),
    ),
  };
  if (!isDeepStrictEqual(parseConfig(compact), config)) {
    throw new Error('the compacted configuration does not parse back to the configuration');
  }
  return compact;
}

function withoutDefaults<T extends object>(value: T, defaults: object): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(
      ([key, inner]) => !isDeepStrictEqual(inner, (defaults as Record<string, unknown>)[key]),
    ),
  ) as Partial<T>;
}

/**
 * What a resolved variable may take once deployed: a literal is its length; a reference (Ref,
 * Fn::GetAtt) is counted at the most such a value takes; Fn::Join adds up its parts.
 */
function deployedBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value !== 'object' || value === null) return DEPLOY_TIME_VALUE_BYTES;
  if ('Fn::Join' in value) {
    const [separator, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return (
      parts.reduce((sum: number, part) => sum + deployedBytes(part), 0) +
      Buffer.byteLength(separator) * Math.max(0, parts.length - 1)
    );
  }
  if ('Ref' in value) return PSEUDO_PARAMETER_BYTES[String(value.Ref)] ?? DEPLOY_TIME_VALUE_BYTES;
  if ('Fn::GetAtt' in value && (value['Fn::GetAtt'] as unknown[])[1] === 'ApplicationId') {
    return APPLICATION_ID_BYTES;
  }
  return DEPLOY_TIME_VALUE_BYTES;
}

function environmentTooLarge(fn: NodejsFunction): string[] {
  const cfn = fn.node.defaultChild as CfnFunction;
  const resolved = Stack.of(fn).resolve(cfn.environment) as
    | { variables?: Record<string, unknown> }
    | undefined;
  const bytes = Object.entries(resolved?.variables ?? {}).reduce(
    (sum, [key, value]) => sum + Buffer.byteLength(key) + deployedBytes(value),
    0,
  );
  if (bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return [];
  return [
    `the libra configuration is too large for a Lambda environment: about ${bytes} bytes with the ` +
      `other variables of ${fn.node.path}, over Lambda's limit of ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}; ` +
      'use fewer pools or shorter principal lists',
  ];
}
