import type {
  CostBody as JobCost,
  ProgressBody,
  UsageReportBody as UsageReport,
  UsageTotalsBody as UsageTotals,
} from '../lambdas/core/api-schemas.ts';
import type { BudgetState, FieldProblem } from '../lambdas/core/errors.ts';
import type { JobEvent } from '../lambdas/core/job-record.ts';
import type { JobRequestInput, RerunOverrides } from '../lambdas/core/job-request.ts';
import type { JobStatus, Reason, TerminalStatus } from '../lambdas/core/job-states.ts';
import type { JobPage as CoreJobPage, JobSummary as CoreJobSummary } from '../lambdas/core/ports.ts';
import type { CancelResult } from '../lambdas/core/use-cases/cancel-job.ts';
import type { StatusView as CoreStatusView } from '../lambdas/core/use-cases/job-status.ts';
import type { PoolView } from '../lambdas/core/use-cases/list-pools.ts';

/**
 * What the API takes and answers, typed from the very types its handlers build (type-only
 * imports: nothing of the server is loaded by the client).
 */
export type {
  BudgetState,
  CancelResult,
  FieldProblem,
  JobCost,
  JobRequestInput,
  JobStatus,
  PoolView,
  Reason,
  RerunOverrides,
  TerminalStatus,
  UsageReport,
  UsageTotals,
};

/**
 * How far a running job has got, as its driver last reported: stages and tasks done of those known
 * so far, and `fraction` (0–1) where it can be known. Optional on a status and a list line.
 */
export type Progress = ProgressBody;

/** 200 of `GET /api/v1/spark/jobs/{jobId}`. */
export type StatusView = CoreStatusView & { readonly progress?: Progress };

/** One job of a list page. */
export type JobSummary = CoreJobSummary & { readonly progress?: Progress };

/** 200 of `GET /api/v1/spark/jobs`. */
export type JobPage = Omit<CoreJobPage, 'jobs'> & { readonly jobs: JobSummary[] };

/** 202 of `POST /api/v1/spark/jobs/{jobId}/rerun`: the new job, and the job it re-runs. */
export interface RerunAnswer extends SubmitAnswer {
  readonly rerunOf: string;
}

/** 202 of `POST /api/v1/spark/jobs/submit`. */
export interface SubmitAnswer {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly submittedAt: string;
}

/** A history item as the API answers it: a status move carries the attempt it started. */
export type ApiJobEvent = JobEvent & { readonly attempt?: number };

/** 200 of `GET /api/v1/spark/jobs/{jobId}/events`. */
export interface EventsAnswer {
  readonly jobId: string;
  readonly events: ApiJobEvent[];
}

/** 200 of `GET /api/v1/spark/pools`. */
export interface PoolsAnswer {
  readonly pools: PoolView[];
}

/** Query of `GET /api/v1/spark/jobs`. */
export interface ListQuery {
  readonly status?: JobStatus;
  readonly pool?: string;
  /** `key` or `key=value`. */
  readonly tag?: string;
  readonly limit?: number;
  readonly nextToken?: string;
  /** Admins only: another caller's jobs. */
  readonly owner?: string;
}

/** Query of `GET /api/v1/spark/usage`. */
export interface UsageQuery {
  /** First day counted, `YYYY-MM-DD` (UTC); default: the first of this month. */
  readonly from?: string;
  /** Last day counted, included; default: today. */
  readonly to?: string;
  readonly groupBy?: 'owner' | 'pool' | 'tag';
  /** Admins: `all` (their default) or `own`. */
  readonly scope?: 'own' | 'all';
}

/** An RFC 9457 problem as the API answers every 4xx and 5xx. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly errors?: FieldProblem[];
  /** 429 `budget-exhausted`: the pool, the month, its spend and its budget. */
  readonly budget?: BudgetState;
  readonly requestId?: string;
}
