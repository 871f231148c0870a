import type { Logger } from '@aws-lambda-powertools/logger';
import type { RunRecorder } from '#core/run-recorder.ts';
import * as z from '#core/zod.ts';

/**
 * The run recorder Lambda, on EMR's job-run state-change events (EventBridge). It keeps the
 * run id, the backend's own state and the links on the job, so that a cancel can stop the run
 * and the owner can find its logs. Libra names every run after its job, so the event names
 * the job; an EMR Serverless event without the name is looked up by its run id.
 */
const serverlessEvent = z.object({
  source: z.literal('aws.emr-serverless'),
  time: z.string(),
  detail: z.object({
    jobRunId: z.string(),
    applicationId: z.string(),
    state: z.string(),
    jobRunName: z.optional(z.string()),
    stateDetails: z.optional(z.string()),
    updatedAt: z.optional(z.string()),
  }),
});

const containersEvent = z.object({
  source: z.literal('aws.emr-containers'),
  time: z.string(),
  detail: z.object({
    id: z.string(),
    virtualClusterId: z.string(),
    state: z.string(),
    name: z.optional(z.string()),
    stateDetails: z.optional(z.string()),
    updatedAt: z.optional(z.string()),
  }),
});

/**
 * When the run reached the state an event reports, as one ISO-8601 form (milliseconds), so that
 * the store's order check compares like with like. The run's own `updatedAt` (EMR writes it to the
 * microsecond) comes first: EventBridge's `time` is whole seconds, and a run that starts and ends
 * within one second would otherwise have its RUNNING report, delivered late, overwrite SUCCESS.
 */
function reportedAt(updatedAt: string | undefined, time: string): string {
  for (const candidate of [updatedAt, time]) {
    const ms = candidate === undefined ? Number.NaN : Date.parse(candidate);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  return time;
}

export interface RunRecorderHandlerDeps {
  readonly recorder: RunRecorder;
  readonly logger: Logger;
  /** Where the job's Spark logs go (`s3://bucket/logs/`), for the links. */
  readonly logUri: string;
  readonly region: string;
  readonly serverlessJobIdOf: (applicationId: string, jobRunId: string) => Promise<string | undefined>;
}

export function createRunRecorderHandler(deps: RunRecorderHandlerDeps) {
  return async (event: unknown): Promise<void> => {
    const serverless = serverlessEvent.safeParse(event);
    if (serverless.success) {
      const { jobRunId, applicationId, state, jobRunName, stateDetails, updatedAt } = serverless.data.detail;
      const jobId = jobRunName ?? (await deps.serverlessJobIdOf(applicationId, jobRunId));
      if (!jobId?.startsWith('job-')) return;
      await deps.recorder.record({
        jobId,
        runId: `${applicationId}/${jobRunId}`,
        state,
        ...(stateDetails !== undefined && { details: stateDetails }),
        links: {
          console: `https://${deps.region}.console.aws.amazon.com/emr/home?region=${deps.region}#/serverless/applications/${applicationId}/job-runs/${jobRunId}`,
          logs: `${deps.logUri}${jobId}/applications/${applicationId}/jobs/${jobRunId}/`,
        },
        at: reportedAt(updatedAt, serverless.data.time),
      });
      return;
    }
    const containers = containersEvent.safeParse(event);
    if (containers.success) {
      const { id, virtualClusterId, state, name, stateDetails, updatedAt } = containers.data.detail;
      if (!name?.startsWith('job-')) return;
      await deps.recorder.record({
        jobId: name,
        runId: `${virtualClusterId}/${id}`,
        state,
        ...(stateDetails !== undefined && { details: stateDetails }),
        links: { logs: `${deps.logUri}${name}/${virtualClusterId}/jobs/${id}/` },
        at: reportedAt(updatedAt, containers.data.time),
      });
      return;
    }
    deps.logger.warn('not an EMR job-run state change; ignored');
  };
}
