import { isAdmin, type LibraConfig } from '../config.ts';
import { NotFoundError } from '../errors.ts';
import { JOB_ID_PATTERN, type JobRecord } from '../job-record.ts';
import type { JobStore } from '../ports.ts';

/** What reading a job on a caller's behalf needs: the job's read and who the admins are. */
export interface VisibleJobDeps {
  readonly jobs: Pick<JobStore, 'getJob'>;
  readonly config: LibraConfig;
}

/** The job if the caller owns it or is an admin; otherwise it does not exist for them. */
export async function visibleJob(deps: VisibleJobDeps, principal: string, jobId: string): Promise<JobRecord> {
  const job = JOB_ID_PATTERN.test(jobId) ? await deps.jobs.getJob(jobId) : undefined;
  if (!job || (job.owner !== principal && !isAdmin(deps.config, principal))) {
    throw new NotFoundError(`no job ${jobId}`);
  }
  return job;
}
