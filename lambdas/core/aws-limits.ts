import { AWS_LIMITS } from './aws-limits.generated.ts';
import type { PoolConfig } from './config.ts';
import type { FieldProblem } from './errors.ts';
import { SIZING_KEYS } from './sizing.ts';
import {
  type ArtifactLocations,
  type BackendTargets,
  s3ArtifactLocations,
  type WorkflowInput,
} from './workflow-input.ts';

/**
 * AWS's limits on the calls a job makes — StartExecution at admission, StartJobRun on EMR
 * Serverless or EMR on EKS in the workflow — taken from AWS's API models
 * (aws-limits.generated.ts, derived by bin/derive-aws-limits.ts), and the check submit runs on
 * the workflow input it would build, so that a request AWS would refuse is refused at the door
 * and never becomes a job that cannot start.
 *
 * How the models' constraints are read, erring on the side of refusing:
 * - a pattern must match the whole value (AWS validates with Java's `matches`), and `.` matches
 *   no line terminator (\n, \r, U+0085, U+2028, U+2029), as in Java;
 * - lengths count UTF-16 code units (JavaScript's `length`), never fewer than the characters
 *   AWS counts;
 * - JavaScript's `\s` also counts Unicode spaces, so a value of only such spaces is refused
 *   although Java's `\S` would take it.
 */

export type LimitedApi = keyof typeof AWS_LIMITS;

/** One member's constraints in a model: its length or size bounds and pattern. */
export interface AwsLimit {
  /** `<service> <Operation> <member path>`, as refusals name it. */
  readonly where: string;
  readonly shape: string;
  readonly type: string;
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: string;
}

type LimitName<A extends LimitedApi> = keyof (typeof AWS_LIMITS)[A] & string;

export function awsLimit<A extends LimitedApi>(api: A, name: LimitName<A>): AwsLimit {
  return (AWS_LIMITS[api] as Record<string, AwsLimit>)[name] as AwsLimit;
}

/** The model's `max` of a limit that has one. */
export function awsMax<A extends LimitedApi>(api: A, name: LimitName<A>): number {
  const { max, where } = awsLimit(api, name);
  if (max === undefined) throw new Error(`${where} has no maximum`);
  return max;
}

const LINE_TERMINATORS = '\\n\\r\\u0085\\u2028\\u2029';
const compiled = new Map<string, RegExp>();

/** A model pattern as a whole-value JavaScript RegExp with Java's `.`. */
export function awsPattern(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (regex) return regex;
  let source = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      // Java lets any punctuation be escaped; a unicode-mode RegExp only its own syntax characters.
      source += /[A-Za-z0-9]/.test(next) ? c + next : `\\u{${next.codePointAt(0)?.toString(16) ?? '5c'}}`;
      i++;
    } else if (c === '[') {
      inClass = true;
      source += c;
    } else if (c === ']') {
      inClass = false;
      source += c;
    } else if (c === '.' && !inClass) {
      source += `[^${LINE_TERMINATORS}]`;
    } else {
      source += c;
    }
  }
  regex = new RegExp(`^(?:${source})$`, 'u');
  compiled.set(pattern, regex);
  return regex;
}

/** What is wrong with a string against a model limit, naming the limit; undefined when nothing. */
export function stringProblem(value: string, limit: AwsLimit): string | undefined {
  if (limit.min !== undefined && value.length < limit.min) {
    return limit.min === 1
      ? `must not be empty (AWS: ${limit.where}, at least 1 character)`
      : `at least ${limit.min} characters (AWS: ${limit.where}, min ${limit.min})`;
  }
  if (limit.max !== undefined && value.length > limit.max) {
    return `at most ${limit.max} characters, got ${value.length} (AWS: ${limit.where}, max ${limit.max})`;
  }
  if (limit.pattern !== undefined && !awsPattern(limit.pattern).test(value)) {
    return limit.pattern === '.*\\S.*'
      ? `must hold a non-blank character and no line break (AWS: ${limit.where}, pattern ${limit.pattern})`
      : `may hold only what ${limit.pattern} allows (AWS: ${limit.where}, pattern ${limit.pattern})`;
  }
  return undefined;
}

function countProblem(count: number, limit: AwsLimit, what: string): string | undefined {
  if (limit.max !== undefined && count > limit.max) {
    return `at most ${limit.max} ${what}, got ${count} (AWS: ${limit.where}, max ${limit.max})`;
  }
  if (limit.min !== undefined && count < limit.min) {
    return `at least ${limit.min} ${what}, got ${count} (AWS: ${limit.where}, min ${limit.min})`;
  }
  return undefined;
}

/** Libra's own tags on every run (workflow-input.ts): they count against AWS's tag limit too. */
export const LIBRA_TAG_KEYS = ['libra:job-id', 'libra:pool'] as const;

/** The most keys sparkConf can hold: the properties map's limit plus the sizing keys, which go on the command line. */
export const MAX_SPARK_CONF_KEYS =
  Math.max(awsMax('emrServerless', 'properties'), awsMax('eks', 'properties')) + SIZING_KEYS.length;
/** The most user tags either backend could take, besides Libra's own. */
export const MAX_USER_TAGS =
  Math.max(awsMax('emrServerless', 'tags'), awsMax('eks', 'tags')) - LIBRA_TAG_KEYS.length;
/** The longest Spark conf value either backend takes in its properties map. */
export const MAX_SPARK_CONF_VALUE_LENGTH = Math.min(
  awsMax('emrServerless', 'propertyValue'),
  awsMax('eks', 'propertyValue'),
);

const onBothBackends = (name: LimitName<'emrServerless'> & LimitName<'eks'>) =>
  [awsLimit('emrServerless', name), awsLimit('eks', name)]
    .map(({ where, max }) => `${where}, max ${max}`)
    .join('; ');

/** The AWS limits behind the request schema's caps, for its messages. */
export const AWS_LIMIT_NOTE = {
  propertyValue: `(AWS: ${onBothBackends('propertyValue')})`,
  properties: `(AWS: ${onBothBackends('properties')}; Libra's ${SIZING_KEYS.length} sizing keys go on the spark-submit command line instead)`,
  tags: `(AWS: ${onBothBackends('tags')}; Libra adds ${LIBRA_TAG_KEYS.length} tags of its own)`,
} as const;

/**
 * S3 bucket names are at most 63 characters (S3's bucket naming rules; the S3 model does not
 * carry the limit). Submit does not know the artifacts bucket's name, so it measures the
 * workflow input with the longest one.
 */
const S3_BUCKET_NAME_MAX = 63;
/** DynamoDB table names are at most 255 characters; the job table's name is in the driver's progress variable. */
const DYNAMODB_TABLE_NAME_MAX = 255;
/** The longest region name AWS has (`ap-southeast-5` is 14; room to spare). */
const REGION_NAME_MAX = 25;

/**
 * The pool's targets as deployed, or, where the configuration leaves them to the stack (an
 * EMR Serverless application or execution role it creates), stand-ins as long as the model
 * allows: the workflow input measured with them is never smaller than the one admission builds.
 */
export function submitTargets(pool: PoolConfig): BackendTargets {
  const serverless = pool.backends.emrServerless;
  const eks = pool.backends.eks;
  return {
    ...(serverless && {
      emrServerless: {
        applicationId: serverless.applicationId ?? 'a'.repeat(awsMax('emrServerless', 'applicationId')),
        executionRoleArn:
          serverless.executionRoleArn ?? 'r'.repeat(awsMax('emrServerless', 'executionRoleArn')),
      },
    }),
    ...(eks && {
      eks: {
        virtualClusterId: eks.virtualClusterId,
        executionRoleArn: eks.executionRoleArn,
        releaseLabel: eks.releaseLabel,
      },
    }),
  };
}

/** The deployed artifact layout with the longest bucket name S3 allows. */
export const SUBMIT_LOCATIONS: ArtifactLocations = s3ArtifactLocations('b'.repeat(S3_BUCKET_NAME_MAX), {
  table: 't'.repeat(DYNAMODB_TABLE_NAME_MAX),
  region: 'r'.repeat(REGION_NAME_MAX),
});

/** Records a problem with a request field when there is one (`message` undefined: none). */
type Check = (field: string, message: string | undefined) => void;

type RunRequest = NonNullable<WorkflowInput['request']['emrServerless'] | WorkflowInput['request']['eks']>;
type RunLimit = (name: LimitName<'emrServerless'> & LimitName<'eks'>) => AwsLimit;

/** StartExecution: its input's UTF-8 bytes and its name. */
function startExecutionProblems(input: WorkflowInput, check: Check): void {
  const inputBytes = Buffer.byteLength(JSON.stringify(input), 'utf8');
  const inputMax = awsMax('stepFunctions', 'input');
  if (inputBytes > inputMax) {
    check(
      '',
      `the workflow input Libra builds from this request would be ${inputBytes} bytes (sparkConf, entryPointArguments and tags make most of it); at most ${inputMax} (AWS: ${awsLimit('stepFunctions', 'input').where}, max ${inputMax})`,
    );
  }
  check('', stringProblem(input.jobId, awsLimit('stepFunctions', 'name')));
}

function driverProblems(run: RunRequest, limit: RunLimit, check: Check): void {
  const driver =
    'SparkSubmit' in run.JobDriver ? run.JobDriver.SparkSubmit : run.JobDriver.SparkSubmitJobDriver;
  check('entryPoint', stringProblem(driver.EntryPoint, limit('entryPoint')));
  check(
    'entryPointArguments',
    countProblem(driver.EntryPointArguments.length, limit('entryPointArguments'), 'arguments'),
  );
  driver.EntryPointArguments.forEach((argument, i) => {
    check(`entryPointArguments.${i}`, stringProblem(argument, limit('entryPointArgument')));
  });
  // spark-submit parameters hold the sizing keys (bounded) and the main class (not bounded otherwise).
  check(
    driver.SparkSubmitParameters.startsWith('--class') ? 'mainClass' : 'sparkConf',
    stringProblem(driver.SparkSubmitParameters, limit('sparkSubmitParameters')),
  );
}

function configurationProblems(run: RunRequest, limit: RunLimit, check: Check): void {
  const configurations = run.ConfigurationOverrides.ApplicationConfiguration;
  check('sparkConf', countProblem(configurations.length, limit('configurations'), 'configurations'));
  for (const { Classification, Properties } of configurations) {
    check('sparkConf', stringProblem(Classification, limit('classification')));
    const count = countProblem(Object.keys(Properties).length, limit('properties'), 'properties');
    check('sparkConf', count && `${count}; Libra's sizing keys (${SIZING_KEYS.length}) do not count`);
    for (const [key, value] of Object.entries(Properties)) {
      check(`sparkConf.${key}`, stringProblem(key, limit('propertyKey')));
      check(`sparkConf.${key}`, stringProblem(value, limit('propertyValue')));
    }
  }
  const logUri = run.ConfigurationOverrides.MonitoringConfiguration?.S3MonitoringConfiguration.LogUri;
  if (logUri !== undefined) check('', stringProblem(logUri, limit('logUri')));
}

function tagProblems(run: RunRequest, limit: RunLimit, check: Check): void {
  const tags = Object.entries(run.Tags);
  const tagCount = countProblem(tags.length, limit('tags'), 'tags');
  check('tags', tagCount && `${tagCount}; Libra adds its own ${LIBRA_TAG_KEYS.join(' and ')}`);
  for (const [key, value] of tags) {
    const field = key === 'libra:pool' ? 'pool' : key === 'libra:job-id' ? '' : `tags.${key}`;
    check(field, stringProblem(key, limit('tagKey')));
    check(field, stringProblem(value, limit('tagValue')));
  }
}

/** EMR Serverless's own timeout, the backstop below the workflow's, within the range EMR takes. */
function backstopProblems(run: RunRequest, check: Check): void {
  if (!('ExecutionTimeoutMinutes' in run)) return;
  const { min, max, where } = awsLimit('emrServerless', 'executionTimeoutMinutes');
  const minutes = run.ExecutionTimeoutMinutes;
  if ((min !== undefined && minutes < min) || (max !== undefined && minutes > max)) {
    check(
      'timeoutMinutes',
      `EMR's backstop timeout would be ${minutes} minutes (AWS: ${where}, ${min}–${max})`,
    );
  }
}

/**
 * Every way AWS would refuse the calls made for this workflow input: StartExecution (its input's
 * UTF-8 bytes, its name) and the backend's StartJobRun as the workflow's Run state sends it, for
 * every attempt. Each problem names the request field it comes from and the AWS limit.
 */
export function awsRequestProblems(input: WorkflowInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const check: Check = (field, message) => {
    if (message !== undefined) problems.push({ field, message });
  };
  startExecutionProblems(input, check);
  const api: 'emrServerless' | 'eks' = input.backend === 'eks' ? 'eks' : 'emrServerless';
  const run = api === 'eks' ? input.request.eks : input.request.emrServerless;
  if (!run) return problems;
  const limit: RunLimit = (name) => awsLimit(api, name);
  check('', stringProblem(input.jobId, limit('name')));
  check('retryPolicy.maxRetries', stringProblem(`${input.jobId}-${input.lastAttempt}`, limit('clientToken')));
  driverProblems(run, limit, check);
  configurationProblems(run, limit, check);
  tagProblems(run, limit, check);
  if (api === 'emrServerless') backstopProblems(run, check);
  return problems;
}
