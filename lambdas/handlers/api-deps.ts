import type { CancelJobDeps } from '#core/use-cases/cancel-job.ts';
import type { JobEventsDeps } from '#core/use-cases/job-events.ts';
import type { JobStatusDeps } from '#core/use-cases/job-status.ts';
import type { ListJobsDeps } from '#core/use-cases/list-jobs.ts';
import type { ListPoolsDeps } from '#core/use-cases/list-pools.ts';
import type { RerunJobDeps } from '#core/use-cases/rerun-job.ts';
import type { SubmitJobDeps } from '#core/use-cases/submit-job.ts';
import type { UsageReportDeps } from '#core/use-cases/usage-report.ts';
import type { HttpDeps } from './http.ts';

/**
 * What every API route needs at once, where one process serves them all (the local runtime,
 * the API tests). A deployed route is given only its own use case's deps (lambdas/entry).
 */
export type ApiDeps = HttpDeps &
  SubmitJobDeps &
  JobStatusDeps &
  ListJobsDeps &
  JobEventsDeps &
  CancelJobDeps &
  ListPoolsDeps &
  Pick<RerunJobDeps, 'jobs'> &
  UsageReportDeps;

export { JOBS_PATH } from '#core/api-paths.ts';
