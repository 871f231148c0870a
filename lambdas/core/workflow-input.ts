import { ownerKey } from './fair-share.ts';
import type { JobRecord } from './job-record.ts';
import type { NotificationEvent } from './job-request.ts';
import { SIZING_KEYS } from './sizing.ts';

/**
 * The input of a job's workflow execution (state-machines/job.asl.json), computed once when the
 * job is admitted: everything the workflow needs, so that it never reads the job record — the
 * backend request, the retry delays computed at submit, the timeout, the reservation to give
 * back and which events the owner subscribed to.
 */

/** Where a pool's jobs run, as deployed (the stack resolves what the configuration leaves out). */
export interface BackendTargets {
  readonly emrServerless?: { readonly applicationId: string; readonly executionRoleArn: string };
  readonly eks?: {
    readonly virtualClusterId: string;
    readonly executionRoleArn: string;
    readonly releaseLabel: string;
    /** The pool's job template, when configured: the run starts with it. */
    readonly jobTemplateId?: string;
    /** The pool's pod templates (S3 URIs), when configured. */
    readonly podTemplate?: { readonly driver?: string; readonly executor?: string };
  };
}

/** The conf keys through which Libra, never the caller, names the pool's pod templates. */
export const POD_TEMPLATE_KEYS = {
  driver: 'spark.kubernetes.driver.podTemplateFile',
  executor: 'spark.kubernetes.executor.podTemplateFile',
} as const;

/** Where a run's driver reports its progress: the job table (runners/libra_progress.py). */
export interface ProgressTarget {
  readonly table: string;
  readonly region: string;
}

/** Where job artifacts live: the artifacts bucket in AWS, a folder locally. */
export interface ArtifactLocations {
  /** Base URI the runner scripts are deployed under, e.g. `s3://bucket/runners/`. */
  readonly runnersUri: string;
  /** URI of a job's stored inline code. */
  codeUri(jobId: string, jobType: 'sql' | 'python'): string;
  /** Where Spark writes its logs, e.g. `s3://bucket/logs/`; none locally. */
  readonly logUri?: string;
  /** Where the driver reports progress; without it no run is told where to report. */
  readonly progress?: ProgressTarget;
}

/** The artifacts bucket's layout, as deployed: runner scripts, inline code, Spark logs. */
export function s3ArtifactLocations(bucket: string, progress?: ProgressTarget): ArtifactLocations {
  return {
    runnersUri: `s3://${bucket}/runners/`,
    codeUri: (jobId, jobType) => `s3://${bucket}/jobs/${jobId}/code.${jobType === 'sql' ? 'sql' : 'py'}`,
    logUri: `s3://${bucket}/logs/`,
    ...(progress !== undefined && { progress }),
  };
}

/**
 * The driver's environment variable that tells runners/libra_progress.py where to report:
 * `table=<table>,job=<jobId>,region=<region>` (the local runtime adds `,endpoint=<url>`): commas, not
 * semicolons, since EMR may hand spark-submit parameters to a shell.
 */
export const PROGRESS_ENV = 'LIBRA_PROGRESS';

/** The spark-defaults key that sets a driver environment variable, by backend. */
export const DRIVER_ENV_PREFIX = {
  'emr-serverless': 'spark.emr-serverless.driverEnv.',
  eks: 'spark.kubernetes.driverEnv.',
} as const;

export function progressEnvValue(target: ProgressTarget, jobId: string): string {
  return `table=${target.table},job=${jobId},region=${target.region}`;
}

export const NOTIFIABLE_STATUSES = [
  'RUNNING',
  'RETRYING',
  'SUCCEEDED',
  'FAILED',
  'TIMEOUT',
  'CANCELLED',
] as const;

export const SQL_RUNNER = 'sql_runner.py';
/** Starts inline Python unchanged, with the progress reporter beside it. */
export const PYTHON_BOOTSTRAP = 'libra_bootstrap.py';
/** The progress reporter both runners import; entry-point jobs may ship it themselves. */
export const PROGRESS_HELPER = 'libra_progress.py';
const PY_FILES_KEY = 'spark.submit.pyFiles';

interface SparkSubmitDriver {
  readonly EntryPoint: string;
  readonly EntryPointArguments: string[];
  readonly SparkSubmitParameters: string;
}

interface ConfigurationOverrides {
  readonly ApplicationConfiguration: { Classification: string; Properties: Record<string, string> }[];
  readonly MonitoringConfiguration?: { S3MonitoringConfiguration: { LogUri: string } };
}

export interface WorkflowInput {
  readonly jobId: string;
  readonly pool: string;
  readonly backend: JobRecord['backend'];
  readonly try: { readonly attempt: number; readonly delay: number };
  /** The last attempt's number (0-based): maxRetries. */
  readonly lastAttempt: number;
  readonly retryDelays: readonly number[];
  readonly retryOnTimeout: boolean;
  readonly timeoutSeconds: number;
  readonly reservation: JobRecord['reservation'];
  /** Its owner as the pool item keys it (core/fair-share.ts): the release gives back the owner's count too. */
  readonly ownerKey: string;
  /** History items expire with the job record. */
  readonly expiresAt: number;
  readonly notify: Readonly<Record<(typeof NOTIFIABLE_STATUSES)[number], boolean>>;
  readonly request: {
    readonly emrServerless?: {
      readonly ApplicationId: string;
      readonly ExecutionRoleArn: string;
      readonly JobDriver: { readonly SparkSubmit: SparkSubmitDriver };
      readonly ConfigurationOverrides: ConfigurationOverrides;
      readonly ExecutionTimeoutMinutes: number;
      readonly Tags: Readonly<Record<string, string>>;
    };
    readonly eks?: {
      readonly VirtualClusterId: string;
      readonly ExecutionRoleArn: string;
      readonly ReleaseLabel: string;
      readonly JobDriver: { readonly SparkSubmitJobDriver: SparkSubmitDriver };
      readonly ConfigurationOverrides: ConfigurationOverrides;
      readonly Tags: Readonly<Record<string, string>>;
      /** Present only for a pool with a job template; the workflow then starts the run with it. */
      readonly JobTemplateId?: string;
    };
  };
}

/** EMR's own timeout, a backstop a little above the workflow's, in case stopping the run fails. */
export function backstopMinutes(timeoutMinutes: number): number {
  return timeoutMinutes + Math.max(5, Math.ceil(timeoutMinutes * 0.1));
}

/**
 * The spark-submit driver: inline SQL runs through the SQL runner script, inline Python through
 * the bootstrap that starts it unchanged, and entry-point jobs run as given. Both runners get the
 * progress helper with `--py-files` (with the caller's own `spark.submit.pyFiles` after it, since
 * the command line wins over spark-defaults). The sizing keys go on the command line (they win
 * over spark-defaults), every other key into spark-defaults, so that values with spaces survive.
 */
export function sparkDriver(
  job: JobRecord,
  artifacts: ArtifactLocations,
): {
  driver: SparkSubmitDriver;
  defaults: Record<string, string>;
} {
  const { spec } = job;
  let entryPoint: string;
  let args: string[];
  if (spec.code !== undefined && spec.jobType === 'sql') {
    entryPoint = `${artifacts.runnersUri}${SQL_RUNNER}`;
    args = [artifacts.codeUri(job.jobId, 'sql')];
  } else if (spec.code !== undefined) {
    entryPoint = `${artifacts.runnersUri}${PYTHON_BOOTSTRAP}`;
    args = [artifacts.codeUri(job.jobId, 'python')];
  } else {
    entryPoint = spec.entryPoint ?? '';
    args = [...(spec.entryPointArguments ?? [])];
  }
  const submit: string[] = [];
  if (spec.mainClass) submit.push('--class', spec.mainClass);
  const defaults: Record<string, string> = {};
  for (const [key, value] of Object.entries(spec.sparkConf)) {
    if ((SIZING_KEYS as readonly string[]).includes(key)) submit.push('--conf', `${key}=${value}`);
    else defaults[key] = value;
  }
  if (artifacts.progress !== undefined) {
    // On the command line, which wins over spark-defaults, and outside the properties EMR counts.
    const key = `${DRIVER_ENV_PREFIX[job.backend]}${PROGRESS_ENV}`;
    delete defaults[key];
    submit.push('--conf', `${key}=${progressEnvValue(artifacts.progress, job.jobId)}`);
  }
  if (spec.code !== undefined) {
    const callerPyFiles = defaults[PY_FILES_KEY];
    delete defaults[PY_FILES_KEY];
    const pyFiles = [`${artifacts.runnersUri}${PROGRESS_HELPER}`, ...(callerPyFiles ? [callerPyFiles] : [])];
    submit.push('--py-files', pyFiles.join(','));
  }
  return {
    driver: { EntryPoint: entryPoint, EntryPointArguments: args, SparkSubmitParameters: submit.join(' ') },
    defaults,
  };
}

function podTemplateConf(templates: { readonly driver?: string; readonly executor?: string } | undefined) {
  const conf: Record<string, string> = {};
  for (const role of ['driver', 'executor'] as const) {
    const template = templates?.[role];
    if (template !== undefined) conf[POD_TEMPLATE_KEYS[role]] = template;
  }
  return conf;
}

/** The Spark run's parts both backends take alike. */
interface RunParts {
  readonly driver: SparkSubmitDriver;
  readonly overrides: ConfigurationOverrides;
  readonly tags: Readonly<Record<string, string>>;
}

function runParts(job: JobRecord, targets: BackendTargets, artifacts: ArtifactLocations): RunParts {
  const { driver, defaults: callerDefaults } = sparkDriver(job, artifacts);
  // Written over the caller's keys: the pool's pod templates decide pod identity, whatever the request said.
  const defaults =
    job.backend === 'eks'
      ? { ...callerDefaults, ...podTemplateConf(targets.eks?.podTemplate) }
      : callerDefaults;
  const overrides: ConfigurationOverrides = {
    ApplicationConfiguration: [{ Classification: 'spark-defaults', Properties: defaults }],
    ...(artifacts.logUri && {
      MonitoringConfiguration: { S3MonitoringConfiguration: { LogUri: `${artifacts.logUri}${job.jobId}/` } },
    }),
  };
  return { driver, overrides, tags: { ...job.tags, 'libra:job-id': job.jobId, 'libra:pool': job.pool } };
}

/** The StartJobRun request of the job's backend, with the pool's deployed targets. */
function runRequest(job: JobRecord, targets: BackendTargets, parts: RunParts): WorkflowInput['request'] {
  if (job.backend === 'eks') {
    const eks = targets.eks;
    if (!eks) throw new Error(`pool '${job.pool}' has no EKS backend deployed`);
    return {
      eks: {
        VirtualClusterId: eks.virtualClusterId,
        ExecutionRoleArn: eks.executionRoleArn,
        ReleaseLabel: eks.releaseLabel,
        JobDriver: { SparkSubmitJobDriver: parts.driver },
        ConfigurationOverrides: parts.overrides,
        Tags: parts.tags,
        ...(eks.jobTemplateId !== undefined && { JobTemplateId: eks.jobTemplateId }),
      },
    };
  }
  const serverless = targets.emrServerless;
  if (!serverless) throw new Error(`pool '${job.pool}' has no EMR Serverless backend deployed`);
  return {
    emrServerless: {
      ApplicationId: serverless.applicationId,
      ExecutionRoleArn: serverless.executionRoleArn,
      JobDriver: { SparkSubmit: parts.driver },
      ConfigurationOverrides: parts.overrides,
      ExecutionTimeoutMinutes: backstopMinutes(job.spec.timeoutMinutes),
      Tags: parts.tags,
    },
  };
}

/** For each status the workflow may announce, whether the job's owner subscribed to it. */
function notifyFlags(spec: JobRecord['spec']): WorkflowInput['notify'] {
  const subscribed = new Set<NotificationEvent>(spec.notifications?.events ?? []);
  return Object.fromEntries(NOTIFIABLE_STATUSES.map((status) => [status, subscribed.has(status)])) as Record<
    (typeof NOTIFIABLE_STATUSES)[number],
    boolean
  >;
}

export function workflowInput(
  job: JobRecord,
  targets: BackendTargets,
  artifacts: ArtifactLocations,
  retentionDays: number,
): WorkflowInput {
  const { spec } = job;
  return {
    jobId: job.jobId,
    pool: job.pool,
    backend: job.backend,
    try: { attempt: 0, delay: 0 },
    lastAttempt: spec.retryPolicy.maxRetries,
    retryDelays: spec.retryDelaysSeconds,
    retryOnTimeout: spec.retryOnTimeout,
    timeoutSeconds: spec.timeoutMinutes * 60,
    reservation: job.reservation,
    ownerKey: ownerKey(job.owner),
    expiresAt: Math.floor(Date.parse(job.submittedAt) / 1000) + retentionDays * 86_400,
    notify: notifyFlags(spec),
    request: runRequest(job, targets, runParts(job, targets, artifacts)),
  };
}
