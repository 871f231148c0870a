import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { measuredUsage } from '#core/cost.ts';
import type { JobRecord } from '#core/job-record.ts';
import type { ArtifactStore, RunStateChange, SparkRunControl } from '#core/ports.ts';
import { type ArtifactLocations, type ProgressTarget, SQL_RUNNER } from '#core/workflow-input.ts';
import type { LocalRun, LocalRunRequest, LocalSparkEngine } from '../engine/index.ts';
import { TaskError } from './bindings.ts';

/**
 * The local side of "run Spark": the artifacts folder that stands in for the artifacts bucket,
 * the translation of an EMR StartJobRun request (as the workflow builds it for AWS) into a
 * local engine run, and the engine's run states reported as EMR's state-change events are.
 */

/** The runner scripts shipped with the project, deployed to the artifacts bucket by the stack. */
export const RUNNERS_DIR = fileURLToPath(new URL('../../runners/', import.meta.url));

export class LocalArtifacts implements ArtifactStore {
  readonly locations: ArtifactLocations;
  readonly #dir: string;

  /** With `progress`, runs are told to report their progress there, as on AWS. */
  constructor(dir: string, progress?: ProgressTarget) {
    this.#dir = dir;
    this.locations = {
      runnersUri: pathToFileURL(RUNNERS_DIR).href,
      codeUri: (jobId, jobType) => pathToFileURL(this.#codePath(jobId, jobType)).href,
      ...(progress !== undefined && { progress }),
    };
  }

  #codePath(jobId: string, jobType: 'sql' | 'python'): string {
    return join(this.#dir, 'jobs', jobId, jobType === 'sql' ? 'code.sql' : 'code.py');
  }

  async putCode(jobId: string, jobType: 'sql' | 'python', code: string): Promise<void> {
    const path = this.#codePath(jobId, jobType);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, code);
  }
}

interface SparkSubmitDriver {
  readonly EntryPoint: string;
  readonly EntryPointArguments?: readonly string[];
  readonly SparkSubmitParameters?: string;
}

interface StartJobRunRequest {
  readonly Name: string;
  readonly ClientToken: string;
  readonly JobDriver: {
    readonly SparkSubmit?: SparkSubmitDriver;
    readonly SparkSubmitJobDriver?: SparkSubmitDriver;
  };
  readonly ConfigurationOverrides?: {
    readonly ApplicationConfiguration?: readonly {
      Classification: string;
      Properties: Record<string, string>;
    }[];
  };
  readonly ExecutionTimeoutMinutes?: number;
}

/** The engine request for a StartJobRun request: what EMR would run, run here. */
export function localRunRequest(request: StartJobRunRequest): LocalRunRequest {
  const driver = request.JobDriver.SparkSubmit ?? request.JobDriver.SparkSubmitJobDriver;
  if (!driver) throw new TaskError('States.Runtime', 'the StartJobRun request has no spark-submit driver');
  const sparkConf: Record<string, string> = {};
  for (const configuration of request.ConfigurationOverrides?.ApplicationConfiguration ?? []) {
    if (configuration.Classification === 'spark-defaults') Object.assign(sparkConf, configuration.Properties);
  }
  const words = (driver.SparkSubmitParameters ?? '').split(/\s+/).filter((word) => word !== '');
  let mainClass: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const value = words[i + 1] ?? '';
    if (words[i] === '--conf') {
      const eq = value.indexOf('=');
      if (eq > 0) sparkConf[value.slice(0, eq)] = value.slice(eq + 1);
      i++;
    } else if (words[i] === '--class') {
      mainClass = value;
      i++;
    }
  }
  const attempt = Number(/-(\d+)$/.exec(request.ClientToken)?.[1] ?? 0);
  const args = driver.EntryPointArguments ?? [];
  const base = {
    jobId: request.Name,
    attempt,
    clientToken: request.ClientToken,
    sparkConf,
    ...(request.ExecutionTimeoutMinutes !== undefined && {
      executionTimeoutMinutes: request.ExecutionTimeoutMinutes,
    }),
  };
  if (driver.EntryPoint.endsWith(`/${SQL_RUNNER}`)) {
    // The SQL runner's one argument is the SQL file: locally DuckDB runs that file.
    return { ...base, jobType: 'sql', entryPoint: args[0] ?? '' };
  }
  if (driver.EntryPoint.endsWith('.py')) {
    return { ...base, jobType: 'python', entryPoint: driver.EntryPoint, entryPointArguments: args };
  }
  return {
    ...base,
    jobType: 'jar',
    entryPoint: driver.EntryPoint,
    entryPointArguments: args,
    ...(mainClass !== undefined && { mainClass }),
  };
}

/**
 * The error Step Functions raises when the backend refuses a StartJobRun request (the workflow
 * fails such a run at once, BACKEND_UNAVAILABLE): how a run the local engine cannot take ends.
 * An EMR on EKS request names its virtual cluster; an EMR Serverless one, its application.
 */
export function refusedRunError(request: Record<string, unknown>): string {
  return 'VirtualClusterId' in request
    ? 'EMRContainers.ValidationException'
    : 'EMRServerless.ValidationException';
}

/** The cause a run the local engine cannot take fails with: the job's reason says so. */
export const LOCAL_SPARK_UNAVAILABLE_CAUSE = 'LOCAL_SPARK_UNAVAILABLE';

/**
 * The `.sync` run against the local engine: start (idempotent by ClientToken), wait, and end
 * as Step Functions ends a `.sync` task — the run's description on success, `States.TaskFailed`
 * with the run as the cause on failure, and, when nothing here can run the job, the error of a
 * StartJobRun the backend refused, with a cause that begins LOCAL_SPARK_UNAVAILABLE.
 */
export async function runOnLocalEngine(
  engine: LocalSparkEngine,
  request: Record<string, unknown>,
): Promise<unknown> {
  const started = engine.start(localRunRequest(request as unknown as StartJobRunRequest));
  const run = await engine.wait(started.runId);
  const description = { JobRunId: run.runId, State: run.state, StateDetails: run.stateDetails ?? '' };
  if (run.state === 'SUCCESS') return description;
  if (run.unavailable) {
    throw new TaskError(
      refusedRunError(request),
      `${LOCAL_SPARK_UNAVAILABLE_CAUSE}: ${run.stateDetails ?? 'cannot run here'}`,
    );
  }
  throw new TaskError('States.TaskFailed', JSON.stringify(description));
}

export class LocalRunControl implements SparkRunControl {
  readonly #engine: LocalSparkEngine;

  constructor(engine: LocalSparkEngine) {
    this.#engine = engine;
  }

  async cancelRun(job: JobRecord): Promise<void> {
    for (const run of this.#engine.runsOf(job.jobId)) await this.#engine.cancel(run.runId);
  }
}

/** The engine's run as an EMR job-run state-change event, with links to its output. */
export function runStateChange(run: LocalRun, baseUrl: string): RunStateChange {
  const files = `${baseUrl}/local/jobs/${run.jobId}/runs/${run.runId}`;
  return {
    jobId: run.jobId,
    runId: run.runId,
    state: run.state,
    ...(run.stateDetails !== undefined && { details: run.stateDetails }),
    links: {
      stdout: `${files}/stdout.txt`,
      stderr: `${files}/stderr.txt`,
      ...(run.preview && { result: `${files}/result.json` }),
    },
    at: run.endedAt ?? run.startedAt,
    ...(run.measure !== undefined && { usage: measuredUsage(run.measure) }),
  };
}
