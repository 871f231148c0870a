import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Stack } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { RUNTIME_PROVIDED_MODULES } from '../../lib/libra-function.ts';

/**
 * Running a synthesized function bundle outside Lambda, as the Lambda runtime would: with the
 * stack's environment (deploy-time values stood in for) and with the modules the runtime
 * provides. Used by test/infra/bundles.test.ts and bench/bundle.ts.
 */

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
};

/**
 * A deploy-time value stood in for: a reference becomes a name made from the logical id, and
 * Fn::Join joins its parts, so that a JSON variable (LIBRA_BACKENDS) stays JSON.
 */
export function standIn(value: unknown): string {
  if (typeof value === 'string') return value;
  const intrinsic = value as Record<string, unknown>;
  if ('Fn::Join' in intrinsic) {
    const [separator, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
    return parts.map(standIn).join(separator);
  }
  if ('Ref' in intrinsic) return PSEUDO_PARAMETERS[String(intrinsic.Ref)] ?? `deploy-time-${intrinsic.Ref}`;
  if ('Fn::GetAtt' in intrinsic) {
    const [id, attribute] = intrinsic['Fn::GetAtt'] as [string, string];
    return attribute === 'Arn' ? `arn:aws:iam::123456789012:role/deploy-time-${id}` : `deploytime${id}`;
  }
  throw new Error(`no stand-in for ${JSON.stringify(value)}`);
}

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROJECT_NODE_MODULES = join(PROJECT_ROOT, 'node_modules');

/** A function of a synthesized stack as deployed: its bundle, its source map and its environment. */
export interface DeployedFunction {
  /** The bundle, `index.js` in the function's asset directory. */
  readonly file: string;
  /** The stack's variables, deploy-time values stood in for (standIn). */
  readonly environment: Record<string, string>;
  /** The bundle's sources, relative to the project, and the source map's mappings. */
  readonly sources: string[];
  readonly mappings: string;
  /** The source it was built from: a file of lambdas/entry, or of lib (the custom resource). */
  readonly entry: string;
}

export function deployedFunction(
  assembly: CloudAssembly,
  stack: Stack,
  fn: NodejsFunction,
): DeployedFunction {
  const template = assembly.getStackByName(stack.stackName).template as {
    Resources: Record<string, { Properties?: Record<string, unknown> }>;
  };
  const properties = template.Resources[stack.getLogicalId(fn.node.defaultChild as CfnFunction)]?.Properties;
  const code = properties?.Code as { S3Key: string } | undefined;
  if (!code) throw new Error(`${fn.node.path}: no function resource`);
  const file = join(assembly.directory, `asset.${code.S3Key.replace(/\.zip$/, '')}`, 'index.js');
  const variables = (properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
    ?.Variables;
  const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[]; mappings: string };
  const sources = map.sources.map((source) => relative(PROJECT_ROOT, join(file, '..', source)));
  return {
    file,
    environment: Object.fromEntries(
      Object.entries(variables ?? {}).map(([key, value]) => [key, standIn(value)]),
    ),
    sources,
    mappings: map.mappings,
    entry:
      sources.find((source) => source.startsWith('lambdas/entry/')) ??
      sources.find((source) => source.startsWith('lib/')) ??
      '?',
  };
}

/**
 * The bundles leave out what the `nodejs24.x` runtime ships (RUNTIME_PROVIDED_MODULES: the AWS
 * SDK v3, `@aws-sdk/*` and `@smithy/*`), which the runtime resolves from a node_modules of its
 * own. This gives a cloud assembly the same: `<assembly>/node_modules` holds links to those
 * scopes of this project's node_modules and nothing else, so the bundle of each asset directory finds the
 * SDK there, and a bundle that left out any other package still fails to load, as in Lambda.
 * The SDK version is this project's, not the runtime's.
 */
export function provideRuntimeModules(assemblyDirectory: string): void {
  const nodeModules = join(assemblyDirectory, 'node_modules');
  mkdirSync(nodeModules, { recursive: true });
  for (const pattern of RUNTIME_PROVIDED_MODULES) {
    const scope = pattern.replace(/\/\*$/, '');
    if (!scope.startsWith('@') || scope.includes('/')) {
      throw new Error(`${pattern}: only whole scopes (@scope/*) are linked`);
    }
    const link = join(nodeModules, scope);
    if (!existsSync(link)) symlinkSync(join(PROJECT_NODE_MODULES, scope), link, 'dir');
  }
}

/**
 * Variables the Lambda runtime sets in every function's process that our code or its libraries
 * read at init: the region, and what tells the Powertools Tracer and the X-Ray SDK that they run
 * in Lambda (without AWS_EXECUTION_ENV the Tracer turns itself off, and init would not pay for it).
 */
export function lambdaRuntimeEnvironment(bundleDirectory: string): Record<string, string> {
  return {
    AWS_REGION: 'eu-west-1',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    LAMBDA_TASK_ROOT: bundleDirectory,
    _HANDLER: 'index.handler',
  };
}
