import type { JobEvent } from '../job-record.ts';
import type { JobStore } from '../ports.ts';
import { type VisibleJobDeps, visibleJob } from './visible-job.ts';

/** What reading a job's history calls: the job, then its history items. */
export interface JobEventsDeps extends VisibleJobDeps {
  readonly jobs: Pick<JobStore, 'getJob' | 'listEvents'>;
}

/** The caller's job's history, oldest first, starting with its submit. */
export async function jobEvents(deps: JobEventsDeps, principal: string, jobId: string): Promise<JobEvent[]> {
  const job = await visibleJob(deps, principal, jobId);
  // The submit is recorded by the job record itself (one write on the submit path); history items record moves.
  const submitted: JobEvent = { jobId, at: job.submittedAt, type: 'STATUS', status: 'QUEUED' };
  return [submitted, ...(await deps.jobs.listEvents(jobId))];
}
