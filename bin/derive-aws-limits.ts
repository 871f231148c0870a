import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { AwsLimit } from '../lambdas/core/aws-limits.ts';

/**
 * Derives the limits AWS puts on the calls a job request reaches — EMR Serverless and EMR on EKS
 * StartJobRun (sent by the workflow's Run states), Step Functions StartExecution (sent at
 * admission) — from AWS's own API models as botocore ships them, and writes:
 *  - lambdas/core/aws-limits.generated.ts: the limits submit checks a request against;
 *  - test/contract/aws-shapes.json: the operations' input shapes, transitively, for the contract
 *    test to validate whole requests against without reading the models at test time.
 * `node bin/derive-aws-limits.ts` writes both; `--check` only says whether they drifted.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const LIMITS_FILE = join(ROOT, 'lambdas/core/aws-limits.generated.ts');
export const SHAPES_FILE = join(ROOT, 'test/contract/aws-shapes.json');

/** The operations Libra's requests reach, by the name Libra gives each backend. */
export const OPERATIONS = {
  emrServerless: { service: 'emr-serverless', operation: 'StartJobRun' },
  eks: { service: 'emr-containers', operation: 'StartJobRun' },
  stepFunctions: { service: 'stepfunctions', operation: 'StartExecution' },
} as const;
type Api = keyof typeof OPERATIONS;

/**
 * Where each limit sits in its operation's input: member names joined by dots, `[]` for a list's
 * member, `{key}` and `{value}` for a map's. The same name on both backends, so that one check
 * serves both.
 */
const SPARK_SUBMIT = {
  emrServerless: 'jobDriver.sparkSubmit',
  eks: 'jobDriver.sparkSubmitJobDriver',
} as const;
const CONFIGURATION = 'configurationOverrides.applicationConfiguration';
function startJobRunPaths(backend: 'emrServerless' | 'eks'): Record<string, string> {
  const driver = SPARK_SUBMIT[backend];
  return {
    name: 'name',
    clientToken: 'clientToken',
    executionRoleArn: 'executionRoleArn',
    entryPoint: `${driver}.entryPoint`,
    entryPointArguments: `${driver}.entryPointArguments`,
    entryPointArgument: `${driver}.entryPointArguments[]`,
    sparkSubmitParameters: `${driver}.sparkSubmitParameters`,
    configurations: CONFIGURATION,
    classification: `${CONFIGURATION}[].classification`,
    properties: `${CONFIGURATION}[].properties`,
    propertyKey: `${CONFIGURATION}[].properties{key}`,
    propertyValue: `${CONFIGURATION}[].properties{value}`,
    logUri: 'configurationOverrides.monitoringConfiguration.s3MonitoringConfiguration.logUri',
    tags: 'tags',
    tagKey: 'tags{key}',
    tagValue: 'tags{value}',
    ...(backend === 'emrServerless'
      ? { applicationId: 'applicationId', executionTimeoutMinutes: 'executionTimeoutMinutes' }
      : { virtualClusterId: 'virtualClusterId', releaseLabel: 'releaseLabel' }),
  };
}
const LIMIT_PATHS: Record<Api, Record<string, string>> = {
  emrServerless: startJobRunPaths('emrServerless'),
  eks: startJobRunPaths('eks'),
  stepFunctions: { name: 'name', input: 'input' },
};

/** A shape of a botocore service model, as the contract test reads it too. */
export interface ModelShape {
  type: string;
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  required?: string[];
  members?: Record<string, { shape: string; [k: string]: unknown }>;
  member?: { shape: string };
  key?: { shape: string };
  value?: { shape: string };
  [k: string]: unknown;
}
export interface Model {
  metadata: { apiVersion: string; protocol: string };
  operations: Record<string, { input: { shape: string }; output?: { shape: string } }>;
  shapes: Record<string, ModelShape>;
}

export interface Derived {
  readonly limits: Record<Api, Record<string, AwsLimit>>;
  readonly shapes: {
    readonly apiVersions: Record<string, string>;
    readonly operations: Record<Api, { service: string; operation: string; input: string }>;
    readonly shapes: Record<string, Record<string, ModelShape>>;
  };
}

/** botocore's directory, found with the same python3 the rest of the tooling uses. */
export function botocoreDir(): string {
  try {
    return execFileSync('python3', ['-c', 'import botocore,os;print(os.path.dirname(botocore.__file__))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch {
    throw new Error(
      "botocore is not installed: `python3 -c 'import botocore'` failed; install it (pip install botocore) to derive AWS's limits",
    );
  }
}

export function loadModel(dataDir: string, service: string): Model {
  const serviceDir = join(dataDir, service);
  if (!existsSync(serviceDir)) throw new Error(`botocore has no model for ${service} under ${dataDir}`);
  // API versions are dates: the newest sorts last.
  const version = readdirSync(serviceDir).sort().at(-1);
  const file = join(serviceDir, version ?? '', 'service-2.json.gz');
  if (!existsSync(file)) throw new Error(`botocore has no ${file}`);
  return JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as Model;
}

/** The shape, without its documentation (which is not a constraint). */
function bare(shape: ModelShape): ModelShape {
  const { documentation: _doc, ...rest } = shape;
  if (rest.members) {
    rest.members = Object.fromEntries(
      Object.entries(rest.members).map(([name, { documentation: _d, ...member }]) => [name, member]),
    ) as ModelShape['members'];
  }
  return rest;
}

/** Every shape an operation's input reaches. */
function reachable(model: Model, root: string): Record<string, ModelShape> {
  const out: Record<string, ModelShape> = {};
  const visit = (name: string) => {
    if (out[name]) return;
    const shape = model.shapes[name];
    if (!shape) throw new Error(`shape ${name} is not in the model`);
    out[name] = bare(shape);
    for (const member of Object.values(shape.members ?? {})) visit(member.shape);
    for (const ref of [shape.member, shape.key, shape.value]) if (ref) visit(ref.shape);
  };
  visit(root);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function shapeAt(model: Model, root: string, path: string): string {
  let current = root;
  for (const step of path.split('.')) {
    const match = /^(\w+)((?:\[\]|\{key\}|\{value\})*)$/.exec(step);
    if (!match) throw new Error(`bad limit path ${path}`);
    const [, member = '', suffixes = ''] = match;
    const shape = model.shapes[current];
    const ref = shape?.members?.[member];
    if (!ref) throw new Error(`${current} has no member ${member} (path ${path})`);
    current = ref.shape;
    for (const suffix of suffixes.match(/\[\]|\{key\}|\{value\}/g) ?? []) {
      const container = model.shapes[current];
      const next =
        suffix === '[]' ? container?.member : suffix === '{key}' ? container?.key : container?.value;
      if (!next) throw new Error(`${current} is not a ${suffix === '[]' ? 'list' : 'map'} (path ${path})`);
      current = next.shape;
    }
  }
  return current;
}

export function derive(dir: string = botocoreDir()): Derived {
  const dataDir = join(dir, 'data');
  const limits = {} as Record<Api, Record<string, AwsLimit>>;
  const apiVersions: Record<string, string> = {};
  const operations = {} as Derived['shapes']['operations'];
  const shapes: Record<string, Record<string, ModelShape>> = {};
  for (const [api, { service, operation }] of Object.entries(OPERATIONS) as [
    Api,
    (typeof OPERATIONS)[Api],
  ][]) {
    const model = loadModel(dataDir, service);
    apiVersions[service] = model.metadata.apiVersion;
    const input = model.operations[operation]?.input.shape;
    if (!input) throw new Error(`${service} has no operation ${operation}`);
    operations[api] = { service, operation, input };
    shapes[service] = reachable(model, input);
    limits[api] = {};
    for (const [name, path] of Object.entries(LIMIT_PATHS[api])) {
      const shapeName = shapeAt(model, input, path);
      const shape = model.shapes[shapeName] as ModelShape;
      limits[api][name] = {
        where: `${service} ${operation} ${path}`,
        shape: shapeName,
        type: shape.type,
        ...(shape.min !== undefined && { min: shape.min }),
        ...(shape.max !== undefined && { max: shape.max }),
        ...(shape.pattern !== undefined && { pattern: shape.pattern }),
      };
    }
  }
  return { limits, shapes: { apiVersions, operations, shapes } };
}

export function limitsSource(derived: Derived): string {
  return [
    '// Generated by bin/derive-aws-limits.ts from the AWS API models botocore ships',
    `// (${Object.entries(derived.shapes.apiVersions)
      .map(([service, version]) => `${service} ${version}`)
      .join(', ')}). Do not edit: run \`npm run derive:aws-limits\`.`,
    '',
    `export const AWS_LIMITS = ${JSON.stringify(derived.limits, null, 2)} as const;`,
    '',
  ].join('\n');
}

/** The checked-in files' values that differ from a fresh derivation ('' when none). */
export async function drift(derived: Derived): Promise<string[]> {
  const { AWS_LIMITS } = (await import(LIMITS_FILE)) as { AWS_LIMITS: unknown };
  const stale: string[] = [];
  // Compared as values: the checked-in files are formatted by biome.
  if (JSON.stringify(AWS_LIMITS) !== JSON.stringify(derived.limits)) stale.push(LIMITS_FILE);
  if (JSON.stringify(JSON.parse(readFileSync(SHAPES_FILE, 'utf8'))) !== JSON.stringify(derived.shapes)) {
    stale.push(SHAPES_FILE);
  }
  return stale;
}

export function countLimits(derived: Derived): number {
  return Object.values(derived.limits).reduce((n, limits) => n + Object.keys(limits).length, 0);
}

async function main(): Promise<void> {
  const derived = derive();
  if (process.argv.includes('--check')) {
    const stale = await drift(derived);
    console.log(stale.length > 0 ? `drifted from the models: ${stale.join(', ')}` : 'AWS limits: up to date');
    process.exitCode = stale.length > 0 ? 1 : 0;
    return;
  }
  writeFileSync(LIMITS_FILE, limitsSource(derived));
  writeFileSync(SHAPES_FILE, `${JSON.stringify(derived.shapes, null, 2)}\n`);
  execFileSync('npx', ['biome', 'format', '--write', LIMITS_FILE, SHAPES_FILE], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const shapes = Object.values(derived.shapes.shapes).reduce((n, s) => n + Object.keys(s).length, 0);
  console.log(
    `${countLimits(derived)} limits and ${shapes} shapes derived from ${Object.keys(OPERATIONS).length} operations`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
