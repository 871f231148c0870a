import { readFile, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DRIVER_ENV_PREFIX, PROGRESS_ENV } from '#core/workflow-input.ts';
import type { LocalRunRequest } from './types.ts';

/** What a request turns into here: SQL for DuckDB, a program to spawn, or a reason it cannot run. */
export type RunPlan =
  | { readonly kind: 'sql'; readonly sql: string }
  | {
      readonly kind: 'process';
      /** For messages: "python3" or "spark-submit". */
      readonly program: string;
      readonly command: string;
      readonly args: readonly string[];
      readonly env: NodeJS.ProcessEnv;
    }
  | { readonly kind: 'fail'; readonly details: string; readonly unavailable: boolean };

export interface PlanContext {
  readonly outputDir: string;
  readonly sparkHome: string | undefined;
  readonly python: string;
  /** The local DynamoDB's URL, where a driver told where to report progress sends its reports. */
  readonly progressEndpoint?: string | undefined;
}

/** The file inline code is written to in the run's output directory, by job type. */
export const INLINE_SCRIPT = { sql: 'query.sql', python: 'main.py' } as const;

/** Spark conf keys are dotted identifiers; anything else is refused rather than handed on. */
const CONF_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const JAVA_CLASS = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

export const JAR_NEEDS_SPARK = 'JAR jobs need Spark: set SPARK_HOME to run them locally';

export async function planRun(request: LocalRunRequest, context: PlanContext): Promise<RunPlan> {
  const hasCode = request.code !== undefined;
  const hasEntryPoint = request.entryPoint !== undefined;
  if (hasCode && hasEntryPoint) return invalid('Give either code or entryPoint, not both');

  if (request.jobType === 'jar') {
    if (hasCode) return invalid('A JAR job runs an entryPoint JAR, not inline code');
    if (!hasEntryPoint) return invalid('A JAR job needs an entryPoint JAR');
    if (context.sparkHome === undefined) return unavailable(JAR_NEEDS_SPARK);
  } else if (!hasCode && !hasEntryPoint) {
    return invalid(`A ${request.jobType} job needs code or an entryPoint`);
  }
  if (request.mainClass !== undefined && request.jobType !== 'jar')
    return invalid('mainClass is for JAR jobs only');
  if (request.mainClass !== undefined && !JAVA_CLASS.test(request.mainClass)) {
    return invalid(`mainClass "${request.mainClass}" is not a Java class name`);
  }
  const badKey = Object.keys(request.sparkConf).find((key) => !CONF_KEY.test(key));
  if (badKey !== undefined) return invalid(`Spark conf key "${badKey}" is not a Spark property name`);

  let script: string;
  if (request.entryPoint !== undefined) {
    const resolved = await resolveEntryPoint(request.entryPoint);
    if (typeof resolved !== 'string') return resolved;
    script = resolved;
  } else {
    const kind = request.jobType === 'sql' ? 'sql' : 'python';
    script = join(context.outputDir, INLINE_SCRIPT[kind]);
    await writeFile(script, request.code ?? '');
  }

  if (request.jobType === 'sql') {
    return { kind: 'sql', sql: hasCode ? (request.code ?? '') : await readFile(script, 'utf8') };
  }

  const appArgs = request.entryPointArguments ?? [];
  const progress = progressEnv(request.sparkConf, context.progressEndpoint);
  if (context.sparkHome === undefined) {
    return {
      kind: 'process',
      program: 'python3',
      command: context.python,
      args: [script, ...appArgs],
      env: childEnv(progress),
    };
  }
  const sparkSubmit = join(context.sparkHome, 'bin', 'spark-submit');
  if (!(await isFile(sparkSubmit))) {
    return unavailable(`SPARK_HOME is ${context.sparkHome}, but ${sparkSubmit} does not exist`);
  }
  const args = ['--master', 'local[*]', '--name', request.jobId];
  if (request.mainClass !== undefined) args.push('--class', request.mainClass);
  for (const [key, value] of Object.entries(request.sparkConf)) args.push('--conf', `${key}=${value}`);
  args.push(script, ...appArgs);
  return {
    kind: 'process',
    program: 'spark-submit',
    command: sparkSubmit,
    args,
    env: childEnv({ ...progress, SPARK_HOME: context.sparkHome }),
  };
}

/** A local path for an entry point, or why there is none. */
async function resolveEntryPoint(entryPoint: string): Promise<string | RunPlan> {
  let path: string;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(entryPoint)?.[1]?.toLowerCase();
  if (scheme === 'file') {
    try {
      path = fileURLToPath(entryPoint);
    } catch (error) {
      return invalid(`entryPoint ${entryPoint} is not a usable file URL: ${(error as Error).message}`);
    }
  } else if (scheme !== undefined && scheme.length > 1) {
    // One letter would be a Windows drive; anything longer is a remote store we cannot read here.
    return unavailable(
      `entryPoint ${entryPoint} cannot be fetched by the local engine: ${scheme}:// is only readable on AWS; ` +
        'use a file:// URL or an absolute local path',
    );
  } else if (isAbsolute(entryPoint)) {
    path = entryPoint;
  } else {
    return invalid(`entryPoint ${entryPoint} must be an s3:// URL, a file:// URL or an absolute path`);
  }
  if (!(await isFile(path))) return invalid(`entryPoint ${path} does not exist or is not a file`);
  return path;
}

/**
 * The driver environment variable that tells runners/libra_progress.py where to report, as EMR
 * sets it from the run's spark-defaults, with the local DynamoDB's endpoint added. Without an
 * endpoint the run is not told (a report could only go to AWS).
 */
function progressEnv(
  sparkConf: Readonly<Record<string, string>>,
  endpoint: string | undefined,
): NodeJS.ProcessEnv {
  const value = Object.values(DRIVER_ENV_PREFIX)
    .map((prefix) => sparkConf[`${prefix}${PROGRESS_ENV}`])
    .find((found) => found !== undefined);
  if (value === undefined || endpoint === undefined) return {};
  return { [PROGRESS_ENV]: `${value},endpoint=${endpoint}` };
}

function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // Only the run's own target, never one the runtime itself was started with.
  const { [PROGRESS_ENV]: _inherited, ...inherited } = process.env;
  // Unbuffered, so what a script printed is in stdout.txt even when it is killed.
  return { ...inherited, PYTHONUNBUFFERED: '1', ...extra };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function invalid(details: string): RunPlan {
  return { kind: 'fail', details, unavailable: false };
}

function unavailable(details: string): RunPlan {
  return { kind: 'fail', details, unavailable: true };
}
