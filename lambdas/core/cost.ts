import type { Resources } from './sizing.ts';

/**
 * What a job's runs cost (docs/cost.md): each run's usage — vCPU-hours, memory GB-hours,
 * storage GB-hours and its duration — as EMR Serverless billed it, or as Libra estimates it
 * where AWS bills something else (EMR on EKS bills the cluster) or nothing (the local engine),
 * priced with its pool's prices, plus Libra's own orchestration cost per job.
 */

/** Where a run's figures come from. Only `billed` is what AWS charged; the others are estimates. */
export type UsageSource =
  /** EMR Serverless's `billedResourceUtilization` from GetJobRun. */
  | 'billed'
  /** EMR Serverless's `totalResourceUtilization`, when a run reports no billed figures. */
  | 'reported'
  /** The run's duration times the resources sizing reserved for it (EMR on EKS). */
  | 'sized'
  /** The local engine's measurement of the run's CPU time and peak memory. */
  | 'measured';

/** What runs used: the figures a run reports and a job's cost sums. */
export interface UsageFigures {
  readonly vcpuHours: number;
  readonly memoryGbHours: number;
  readonly storageGbHours: number;
  readonly durationSeconds: number;
  /** Measured locally: the CPU time used. */
  readonly cpuSeconds?: number;
  /** Measured locally: the most memory held at once (by one run). */
  readonly peakMemoryMb?: number;
}

/** One run's usage: what a backend reports, or Libra works out, when the run ends. */
export interface RunUsage extends UsageFigures {
  readonly source: UsageSource;
}

/** A run's usage, priced, as kept on its job (one per run, keyed by the run's id). */
export interface RunCost extends RunUsage {
  /** The job's attempt the run was (0 = the first). */
  readonly attempt: number;
  readonly estimate: boolean;
  /** Compute only: vCPU, memory and storage at the pool's prices. */
  readonly usd: number;
  /** Libra's own share: a job's first run carries its orchestration cost, each later one a retry's. */
  readonly orchestrationUsd: number;
  /** When the run ended. */
  readonly at: string;
}

/** Prices of one pool's compute, per hour (config `pools.<name>.prices`). */
export interface ComputePrices {
  readonly vcpuHour: number;
  readonly memoryGbHour: number;
  readonly storageGbHour: number;
}

/** Libra's own cost per job (Step Functions, Lambda, DynamoDB, SQS), as `bench:cost` measured it. */
export interface OrchestrationPrices {
  /** A job that runs once. */
  readonly usdPerJob: number;
  /** Each attempt after the first. */
  readonly usdPerRetry: number;
}

/**
 * EMR Serverless list prices, us-east-1, x86 (AWS's EMR pricing page, read 2026-12-02): $0.052624
 * per vCPU-hour, $0.0057785 per GB-hour of memory, $0.000111 per GB-hour of storage beyond the
 * 20 GB each worker gets free (the billed figures already leave the free 20 GB out).
 */
export const DEFAULT_PRICES: ComputePrices = {
  vcpuHour: 0.052624,
  memoryGbHour: 0.0057785,
  storageGbHour: 0.000111,
};

/**
 * What `bench:cost` measures for a job that runs once, and for each further attempt (its retry path
 * less its happy path): the figures and when they were measured are in docs/cost.md.
 */
export const DEFAULT_ORCHESTRATION: OrchestrationPrices = { usdPerJob: 0.0002502, usdPerRetry: 0.0002592 };

/** A job's cost in its status: its runs summed. */
export interface JobCost extends UsageFigures {
  /** The runs counted. */
  readonly runs: number;
  readonly computeUsd: number;
  readonly orchestrationUsd: number;
  /** computeUsd + orchestrationUsd. */
  readonly usd: number;
  /** True when any run's figures are not what AWS billed. */
  readonly estimate: boolean;
}

/** USD are kept to the 1/10,000,000th of a dollar: below that, float noise, not money. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e7) / 1e7;
}

/** Hours and seconds are kept to 9 decimals (a few microseconds of one vCPU): a short local run still shows. */
export function roundFigure(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}

export function computeUsd(usage: RunUsage, prices: ComputePrices): number {
  return roundUsd(
    usage.vcpuHours * prices.vcpuHour +
      usage.memoryGbHours * prices.memoryGbHour +
      usage.storageGbHours * prices.storageGbHour,
  );
}

export function priceRun(
  usage: RunUsage,
  prices: { readonly compute: ComputePrices; readonly orchestration: OrchestrationPrices },
  attempt: number,
  at: string,
): RunCost {
  return {
    ...usage,
    attempt,
    estimate: usage.source !== 'billed',
    usd: computeUsd(usage, prices.compute),
    orchestrationUsd: attempt === 0 ? prices.orchestration.usdPerJob : prices.orchestration.usdPerRetry,
    at,
  };
}

/** What the run adds to its owner's and pool's totals: its compute and its orchestration. */
export function runTotalUsd(run: RunCost): number {
  return roundUsd(run.usd + run.orchestrationUsd);
}

/**
 * An estimate for a run AWS does not bill by itself (EMR on EKS): the resources sizing reserved
 * for the job — the most it can hold — for as long as the run lasted. Storage is not sized, so
 * none is counted.
 */
export function sizedUsage(resources: Resources, durationSeconds: number): RunUsage {
  const hours = Math.max(0, durationSeconds) / 3600;
  return {
    source: 'sized',
    vcpuHours: roundFigure(resources.totalCores * hours),
    memoryGbHours: roundFigure((resources.totalMemoryMiB / 1024) * hours),
    storageGbHours: 0,
    durationSeconds: Math.max(0, Math.round(durationSeconds)),
  };
}

/**
 * A local run as measured: its CPU time is vCPU time, and its peak memory is taken as held for
 * the whole run (EMR Serverless bills a worker's memory for as long as the worker lives).
 */
export function measuredUsage(measure: {
  readonly cpuSeconds: number;
  readonly peakMemoryMb: number;
  readonly durationSeconds: number;
}): RunUsage {
  const hours = measure.durationSeconds / 3600;
  return {
    source: 'measured',
    vcpuHours: roundFigure(measure.cpuSeconds / 3600),
    memoryGbHours: roundFigure((measure.peakMemoryMb / 1024) * hours),
    storageGbHours: 0,
    durationSeconds: roundFigure(measure.durationSeconds),
    cpuSeconds: roundFigure(measure.cpuSeconds),
    peakMemoryMb: Math.round(measure.peakMemoryMb),
  };
}

/**
 * The job's cost: its runs summed, compute and orchestration. Undefined while no run's cost is
 * known. The peak memory is the largest of the runs', not a sum.
 */
export function jobCost(runs: readonly RunCost[]): JobCost | undefined {
  if (runs.length === 0) return undefined;
  let vcpuHours = 0;
  let memoryGbHours = 0;
  let storageGbHours = 0;
  let durationSeconds = 0;
  let cpuSeconds: number | undefined;
  let peakMemoryMb: number | undefined;
  let compute = 0;
  let orchestration = 0;
  for (const run of runs) {
    vcpuHours += run.vcpuHours;
    memoryGbHours += run.memoryGbHours;
    storageGbHours += run.storageGbHours;
    durationSeconds += run.durationSeconds;
    compute += run.usd;
    orchestration += run.orchestrationUsd;
    if (run.cpuSeconds !== undefined) cpuSeconds = (cpuSeconds ?? 0) + run.cpuSeconds;
    if (run.peakMemoryMb !== undefined) peakMemoryMb = Math.max(peakMemoryMb ?? 0, run.peakMemoryMb);
  }
  const orchestrationCost = roundUsd(orchestration);
  const computeCost = roundUsd(compute);
  return {
    vcpuHours: roundFigure(vcpuHours),
    memoryGbHours: roundFigure(memoryGbHours),
    storageGbHours: roundFigure(storageGbHours),
    durationSeconds: roundFigure(durationSeconds),
    ...(cpuSeconds !== undefined && { cpuSeconds: roundFigure(cpuSeconds) }),
    ...(peakMemoryMb !== undefined && { peakMemoryMb }),
    runs: runs.length,
    computeUsd: computeCost,
    orchestrationUsd: orchestrationCost,
    usd: roundUsd(computeCost + orchestrationCost),
    estimate: runs.some((run) => run.estimate),
  };
}

/** `2026-12-02` of an ISO time: the day a run's cost is counted on (UTC). */
export function usageDay(at: string): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** `2026-12` of an ISO time: the month a pool's budget counts a run's cost in (UTC). */
export function usageMonth(at: string): string {
  return new Date(at).toISOString().slice(0, 7);
}
