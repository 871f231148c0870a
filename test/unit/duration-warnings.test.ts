import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '#core/config.ts';
import { ValidationError } from '#core/errors.ts';
import type { JobRecord } from '#core/job-record.ts';
import { parseJobRequest, warnAfterMinutes } from '#core/job-request.ts';
import { warningStep } from '#core/use-cases/duration-warnings.ts';
import { warningOccurrence, webhookEventType, webhookPayload } from '#core/webhook.ts';
import { SMALL_RESOURCES, SQL_SPEC } from '../support/job-record.ts';

/** The duration warnings' decisions: which warning a job takes, and what a tick does with a due job. */

const START = '2031-05-01T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(START) + ms);

function running(overrides: Partial<JobRecord> = {}, minutes: number | null = 5): JobRecord {
  return {
    jobId: 'job-00000000-0000-4000-8000-000000000001',
    owner: 'alice',
    status: 'RUNNING',
    pool: 'default',
    backend: 'emr-serverless',
    priority: 5,
    tags: {},
    spec: { ...SQL_SPEC, ...(minutes !== null && { warnAfterMinutes: minutes }) },
    resources: SMALL_RESOURCES,
    reservation: { cpuCores: 2, memoryMiB: 2048 },
    attempts: 2,
    submittedAt: START,
    updatedAt: START,
    runStartedAt: START,
    warnAt: START,
    requestHash: 'x',
    ...overrides,
  };
}

describe('warnAfterMinutes in the request', () => {
  const base = { code: 'SELECT 1', kind: 'sql' };

  it('takes whole minutes from 1, below the longest timeout', () => {
    expect(parseJobRequest({ ...base, warnAfterMinutes: 1 })).toMatchObject({ ok: true });
    expect(parseJobRequest({ ...base, warnAfterMinutes: 10_079 })).toMatchObject({ ok: true });
    for (const bad of [0, -1, 1.5, 10_080, '5', null]) {
      const parsed = parseJobRequest({ ...base, warnAfterMinutes: bad });
      expect(parsed.ok ? [] : parsed.errors.map((e) => e.field)).toEqual(['warnAfterMinutes']);
    }
  });

  it('refuses a warning the run would time out before', () => {
    const parsed = parseJobRequest({ ...base, warnAfterMinutes: 30, timeoutMinutes: 30 });
    expect(parsed).toEqual({
      ok: false,
      errors: [
        {
          field: 'warnAfterMinutes',
          message: 'must be less than timeoutMinutes (30): the run times out first',
        },
      ],
    });
  });

  it('is an event a webhook may subscribe to', () => {
    const parsed = parseJobRequest({
      ...base,
      notifications: { webhook: 'https://hooks.example.com/', events: ['DURATION_WARNING', 'FAILED'] },
    });
    expect(parsed.ok && parsed.request.notifications?.events).toEqual(['DURATION_WARNING', 'FAILED']);
  });
});

describe("the warning a job takes: its own, else its pool's", () => {
  it("the request's, the pool's default, or none", () => {
    expect(warnAfterMinutes({ warnAfterMinutes: 5 }, { warnAfterMinutes: 60 }, 720)).toBe(5);
    expect(warnAfterMinutes({}, { warnAfterMinutes: 60 }, 720)).toBe(60);
    expect(warnAfterMinutes({}, {}, 720)).toBeUndefined();
  });

  it("drops the pool's default for a job whose timeout is not longer, refuses the request's own", () => {
    expect(warnAfterMinutes({}, { warnAfterMinutes: 60 }, 60)).toBeUndefined();
    expect(() => warnAfterMinutes({ warnAfterMinutes: 720 }, {}, 720)).toThrow(ValidationError);
    let refused: unknown;
    try {
      warnAfterMinutes({ warnAfterMinutes: 800 }, {}, 720);
    } catch (error) {
      refused = error;
    }
    expect((refused as ValidationError).errors).toEqual([
      {
        field: 'warnAfterMinutes',
        message:
          "must be less than the job's timeout (720 minutes, its pool's default): the run times out first",
      },
    ]);
  });

  it("a pool's default must be shorter than its default timeout", () => {
    expect(parseConfig({ pools: { etl: { warnAfterMinutes: 30 } } }).pools.etl?.warnAfterMinutes).toBe(30);
    expect(() =>
      parseConfig({ pools: { etl: { warnAfterMinutes: 60, defaultTimeoutMinutes: 60 } } }),
    ).toThrow(ConfigError);
    expect(() =>
      parseConfig({ pools: { etl: { warnAfterMinutes: 60, defaultTimeoutMinutes: 60 } } }),
    ).toThrow(/libra\.pools\.etl\.warnAfterMinutes: must be less than defaultTimeoutMinutes/);
  });
});

describe('what a tick does with a job the index gave as due', () => {
  const MINUTE = 60_000;

  it('at its first look, before the due time: looks again at start + warnAfterMinutes', () => {
    expect(warningStep(running(), START, at(30_000), MINUTE)).toEqual({
      kind: 'schedule',
      dueAt: at(5 * MINUTE).toISOString(),
    });
  });

  it('at or past the due time: warns, for the attempt running (0 = the first)', () => {
    expect(warningStep(running(), START, at(5 * MINUTE), MINUTE)).toEqual({
      kind: 'warn',
      dueAt: at(5 * MINUTE).toISOString(),
      attempt: 1,
    });
    const due = at(5 * MINUTE).toISOString();
    expect(warningStep(running({ warnAt: due }), due, at(5 * MINUTE + 1), MINUTE)).toMatchObject({
      kind: 'warn',
    });
  });

  it("counts minutes of the runtime's clock: a shortened minute shortens the warning", () => {
    expect(warningStep(running(), START, at(4_999), 1_000)).toMatchObject({ kind: 'schedule' });
    expect(warningStep(running(), START, at(5_000), 1_000)).toMatchObject({ kind: 'warn' });
  });

  it('skips a job that no longer runs that attempt, or whose warnAt moved since the index was read', () => {
    for (const status of ['RETRYING', 'CANCELLING', 'SUCCEEDED'] as const) {
      expect(warningStep(running({ status }), START, at(10 * MINUTE), MINUTE).kind).toBe('skip');
    }
    expect(
      warningStep(running({ warnAt: at(MINUTE).toISOString() }), START, at(10 * MINUTE), MINUTE).kind,
    ).toBe('skip');
    expect(warningStep(running({}, null), START, at(10 * MINUTE), MINUTE).kind).toBe('skip');
  });
});

describe("the warning's webhook", () => {
  it('is job.duration_warning, with the job as it stands and the attempt that went past it', () => {
    const job = running();
    const occurred = warningOccurrence(job, [
      {
        jobId: job.jobId,
        at: at(5 * 60_000).toISOString(),
        type: 'DURATION_WARNING',
        status: 'RUNNING',
        detail: {
          attempt: 1,
          warnAfterMinutes: 5,
          runStartedAt: START,
          detectedAt: at(5.5 * 60_000).toISOString(),
        },
      },
    ]);
    expect(occurred.occurrence).toBe(1);
    expect(webhookEventType('DURATION_WARNING')).toBe('job.duration_warning');
    expect(webhookPayload(job, 'DURATION_WARNING', occurred)).toEqual({
      type: 'job.duration_warning',
      timestamp: at(5 * 60_000).toISOString(),
      data: {
        jobId: job.jobId,
        status: 'RUNNING',
        pool: 'default',
        attempts: 2,
        submittedAt: START,
        warning: { attempt: 1, warnAfterMinutes: 5, runStartedAt: START },
      },
    });
  });
});
