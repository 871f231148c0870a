import { describe, expect, it } from 'vitest';
import {
  computeUsd,
  DEFAULT_ORCHESTRATION,
  DEFAULT_PRICES,
  jobCost,
  measuredUsage,
  priceRun,
  type RunUsage,
  sizedUsage,
  usageDay,
  usageMonth,
} from '#core/cost.ts';
import type { JobEvent } from '#core/job-record.ts';
import { lastRunStart } from '#core/run-recorder.ts';
import { secondsToNextMonth } from '#core/use-cases/pool-budget.ts';
import { SMALL_RESOURCES } from '../support/job-record.ts';

const PRICES = { compute: DEFAULT_PRICES, orchestration: DEFAULT_ORCHESTRATION };
const BILLED: RunUsage = {
  source: 'billed',
  vcpuHours: 1,
  memoryGbHours: 4,
  storageGbHours: 100,
  durationSeconds: 900,
};

describe('the cost of a run', () => {
  it("prices usage at EMR Serverless's us-east-1 list prices by default", () => {
    // 0.052624 + 4 × 0.0057785 + 100 × 0.000111
    expect(computeUsd(BILLED, DEFAULT_PRICES)).toBe(0.086838);
    expect(computeUsd({ ...BILLED, vcpuHours: 0, memoryGbHours: 0, storageGbHours: 0 }, DEFAULT_PRICES)).toBe(
      0,
    );
  });

  it("marks only billed figures as not estimated, and gives the first run the job's orchestration, later ones a retry's", () => {
    const first = priceRun(BILLED, PRICES, 0, '2026-05-01T00:00:00.000Z');
    const retry = priceRun({ ...BILLED, source: 'sized' }, PRICES, 1, '2026-05-01T00:10:00.000Z');

    expect(first).toMatchObject({ estimate: false, orchestrationUsd: 0.0002502, attempt: 0 });
    expect(retry).toMatchObject({ estimate: true, orchestrationUsd: 0.0002592, attempt: 1 });
    for (const source of ['reported', 'sized', 'measured'] as const) {
      expect(priceRun({ ...BILLED, source }, PRICES, 0, first.at).estimate).toBe(true);
    }
  });

  it('estimates a run from its sized resources for as long as it ran, with no storage', () => {
    // 2 cores and 2816 MiB for half an hour.
    expect(sizedUsage(SMALL_RESOURCES, 1800)).toEqual({
      source: 'sized',
      vcpuHours: 1,
      memoryGbHours: 1.375,
      storageGbHours: 0,
      durationSeconds: 1800,
    });
    // A clock that went backwards is no negative cost.
    expect(sizedUsage(SMALL_RESOURCES, -5).vcpuHours).toBe(0);
  });

  it('turns a local measure into the same figures: CPU seconds as vCPU time, peak memory held for the run', () => {
    expect(measuredUsage({ cpuSeconds: 36, peakMemoryMb: 512, durationSeconds: 72 })).toEqual({
      source: 'measured',
      vcpuHours: 0.01,
      memoryGbHours: 0.01,
      storageGbHours: 0,
      durationSeconds: 72,
      cpuSeconds: 36,
      peakMemoryMb: 512,
    });
  });
});

describe("a job's cost, over its attempts", () => {
  it('is absent while no run has ended', () => {
    expect(jobCost([])).toBeUndefined();
  });

  it('sums every figure and both costs over the runs; the peak memory is the largest run’s', () => {
    const runs = [
      priceRun(
        { ...measuredUsage({ cpuSeconds: 10, peakMemoryMb: 300, durationSeconds: 20 }) },
        PRICES,
        0,
        'a',
      ),
      priceRun(
        { ...measuredUsage({ cpuSeconds: 5, peakMemoryMb: 700, durationSeconds: 10 }) },
        PRICES,
        1,
        'b',
      ),
      priceRun(BILLED, PRICES, 2, 'c'),
    ];

    const cost = jobCost(runs);

    expect(cost).toMatchObject({
      runs: 3,
      cpuSeconds: 15,
      peakMemoryMb: 700,
      durationSeconds: 930,
      storageGbHours: 100,
      orchestrationUsd: 0.0007686,
      estimate: true,
    });
    expect(cost?.computeUsd).toBeCloseTo(
      runs.reduce((sum, run) => sum + run.usd, 0),
      7,
    );
    expect(cost?.usd).toBe(Math.round(((cost?.computeUsd ?? 0) + (cost?.orchestrationUsd ?? 0)) * 1e7) / 1e7);
  });

  it('is not an estimate when every run was billed', () => {
    const cost = jobCost([priceRun(BILLED, PRICES, 0, 'a'), priceRun(BILLED, PRICES, 1, 'b')]);
    expect(cost).toMatchObject({ estimate: false, vcpuHours: 2, computeUsd: 0.173676 });
  });
});

describe('when a run started, and which attempt it was', () => {
  const move = (at: string, status: JobEvent['status'], attempt?: number): JobEvent =>
    ({ jobId: 'job', at, type: 'STATUS', status, ...(attempt !== undefined && { attempt }) }) as JobEvent;

  it('is the last move to RUNNING before the run ended', () => {
    const events = [
      move('2026-01-01T00:00:00.000Z', 'SCHEDULED'),
      move('2026-01-01T00:00:01.000Z', 'RUNNING', 0),
      move('2026-01-01T00:01:00.000Z', 'RETRYING', 0),
      move('2026-01-01T00:01:05.000Z', 'RUNNING', 1),
    ];
    expect(lastRunStart(events, '2026-01-01T00:00:59.000Z')).toEqual({
      at: '2026-01-01T00:00:01.000Z',
      attempt: 0,
    });
    expect(lastRunStart(events, '2026-01-01T00:02:00.000Z')).toEqual({
      at: '2026-01-01T00:01:05.000Z',
      attempt: 1,
    });
    expect(lastRunStart(events.slice(0, 1), '2026-01-01T00:02:00.000Z')).toBeUndefined();
  });
});

describe('days and months of usage', () => {
  it('count a run on the UTC day and month it ended', () => {
    expect(usageDay('2026-12-31T23:59:59.999Z')).toBe('2026-12-31');
    expect(usageMonth('2026-12-31T23:59:59.999-01:00')).toBe('2027-01');
  });

  it('give a spent budget back at the start of the next month (UTC)', () => {
    expect(secondsToNextMonth(new Date('2026-12-31T23:59:00.000Z'))).toBe(60);
    expect(secondsToNextMonth(new Date('2026-02-01T00:00:00.000Z'))).toBe(28 * 86_400);
  });
});
