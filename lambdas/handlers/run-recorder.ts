import type { Logger } from '@aws-lambda-powertools/logger';
import type { RunUsage } from '#core/cost.ts';
import { isRunEnd, type RunRecorder } from '#core/run-recorder.ts';
import { type RunStateChange, runStateChange } from './events.ts';
import { eventContract, parsing } from './parse-input.ts';

/**
 * When the run reached the state an event reports, as one ISO-8601 form (milliseconds), so that
 * the store's order check compares like with like. The run's own `updatedAt` (EMR writes it to the
 * microsecond) comes first: EventBridge's `time` is whole seconds, and a run that starts and ends
 * within one second would otherwise have its RUNNING report, delivered late, overwrite SUCCESS.
 */
function reportedAt(updatedAt: string | undefined, time: string | undefined): string {
  for (const candidate of [updatedAt, time]) {
    const ms = candidate === undefined ? Number.NaN : Date.parse(candidate);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  return time ?? new Date().toISOString();
}

/** Not an EMR job-run state change: the rule is wrong, and no retry will fix it. */
export const RUN_RECORDER_INPUT = eventContract(
  'RunEventInvalid',
  runStateChange,
  'an EMR job-run state change',
);

export interface RunRecorderHandlerDeps {
  readonly recorder: RunRecorder;
  readonly logger: Logger;
  /** Where the job's Spark logs go (`s3://bucket/logs/`), for the links. */
  readonly logUri: string;
  readonly region: string;
  readonly serverlessJobIdOf: (applicationId: string, jobRunId: string) => Promise<string | undefined>;
  /** GetJobRun's billed usage of an ended EMR Serverless run. */
  readonly serverlessRunUsage: (applicationId: string, jobRunId: string) => Promise<RunUsage | undefined>;
}

/**
 * The run recorder Lambda, on EMR's job-run state-change events (EventBridge). It keeps the
 * run id, the backend's own state and the links on the job, so that a cancel can stop the run
 * and the owner can find its logs. Libra names every run after its job, so the event names
 * the job; an EMR Serverless event without the name is looked up by its run id.
 * This is it on an event already parsed (the deployed edge parses it).
 */
export function createRunRecorder(deps: RunRecorderHandlerDeps) {
  return async (event: RunStateChange): Promise<void> => {
    if (event.source === 'aws.emr-serverless') {
      const { jobRunId, applicationId, state, jobRunName, stateDetails, updatedAt } = event.detail;
      const jobId = jobRunName ?? (await deps.serverlessJobIdOf(applicationId, jobRunId));
      if (!jobId?.startsWith('job-')) return;
      // An ended run's billed usage, read before anything is written: if the read fails, the
      // event is retried whole, and its record and cost are written once it succeeds.
      const usage = isRunEnd(state) ? await deps.serverlessRunUsage(applicationId, jobRunId) : undefined;
      await deps.recorder.record({
        jobId,
        runId: `${applicationId}/${jobRunId}`,
        state,
        ...(stateDetails !== undefined && { details: stateDetails }),
        links: {
          console: `https://${deps.region}.console.aws.amazon.com/emr/home?region=${deps.region}#/serverless/applications/${applicationId}/job-runs/${jobRunId}`,
          logs: `${deps.logUri}${jobId}/applications/${applicationId}/jobs/${jobRunId}/`,
        },
        at: reportedAt(updatedAt, event.time),
        ...(usage !== undefined && { usage }),
      });
      return;
    }
    const { id, virtualClusterId, state, name, stateDetails, updatedAt } = event.detail;
    if (!name?.startsWith('job-')) return;
    await deps.recorder.record({
      jobId: name,
      runId: `${virtualClusterId}/${id}`,
      state,
      ...(stateDetails !== undefined && { details: stateDetails }),
      links: { logs: `${deps.logUri}${name}/${virtualClusterId}/jobs/${id}/` },
      at: reportedAt(updatedAt, event.time),
    });
  };
}

export function createRunRecorderHandler(deps: RunRecorderHandlerDeps) {
  return parsing(RUN_RECORDER_INPUT, deps.logger, createRunRecorder(deps));
}
