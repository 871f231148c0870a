import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { type JobRecord, newJobId } from '#core/job-record.ts';
import {
  MAX_PROGRESS_ENTRIES,
  PROGRESS_ENTRY_EVERY_MS,
  type Progress,
  progressEntryDue,
} from '#core/progress.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { queuedJob } from '../support/job-record.ts';

/**
 * The job record's `progress` and the PROGRESS history entries, on the local DynamoDB: what a
 * driver writes is read back as the API shows it or, when malformed, as no progress at all; the
 * entries are written at most every PROGRESS_ENTRY_EVERY_MS, once when two ticks race, and never
 * more than MAX_PROGRESS_ENTRIES for one job.
 */

let db: TestDatabase;
let store: DynamoJobStore;

beforeAll(async () => {
  db = await startTestDatabase();
  store = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 30 });
});

afterAll(async () => {
  await db?.stop();
});

async function runningJob(owner = 'progress-owner'): Promise<JobRecord> {
  const at = '2026-03-01T10:00:00.000Z';
  const job = queuedJob(owner, at);
  await store.createJob(job);
  await store.transition(job.jobId, ['QUEUED'], 'SCHEDULED', { at });
  return store.transition(job.jobId, ['SCHEDULED'], 'RUNNING', { at });
}

const progressAt = (updatedAt: string, stagesDone = 1): Progress => ({
  stagesDone,
  stagesTotal: 4,
  tasksDone: 10 * stagesDone,
  tasksTotal: 40,
  fraction: stagesDone / 4,
  updatedAt,
});

describe('progress on the job record', () => {
  it('is set on an existing job, shown by its record and its list line; a missing job gets no item', async () => {
    // Prepare
    const job = await runningJob('progress-list');
    const progress = progressAt('2026-03-01T10:01:00.000Z');

    // Act
    const recorded = await store.recordProgress(job.jobId, progress);
    const missing = await store.recordProgress(newJobId(), progress);

    // Assess
    expect(recorded).toBe(true);
    expect(missing).toBe(false);
    expect((await store.getJob(job.jobId))?.progress).toEqual(progress);
    const page = await store.listJobs({ owner: 'progress-list', limit: 10 });
    expect(page.jobs.find((line) => line.jobId === job.jobId)?.progress).toEqual(progress);
  });

  it('reads a malformed progress, as a job’s own code could write it, as none, and the job as it is', async () => {
    // Prepare: what the job execution role may write, as wrong as it may be.
    const written: unknown[] = [
      'half done',
      { stagesDone: -1, stagesTotal: 2, tasksDone: 0, tasksTotal: 0, updatedAt: '2026-03-01T10:00:00Z' },
      { stagesDone: 1, stagesTotal: 2, tasksDone: 0, tasksTotal: 0, fraction: 7, updatedAt: 'today' },
      { stagesDone: 1, stagesTotal: 2, tasksDone: 0, tasksTotal: 0, updatedAt: '2026-03-01T10:00:00Z', x: 1 },
    ];
    const job = await runningJob('progress-malformed');

    for (const value of written) {
      // Act
      await db.documentClient.send(
        new UpdateCommand({
          TableName: db.tableName,
          Key: { pk: `JOB#${job.jobId}`, sk: 'META' },
          UpdateExpression: 'SET progress = :p',
          ExpressionAttributeValues: { ':p': value },
        }),
      );
      const read = await store.getJob(job.jobId);
      const line = (await store.listJobs({ owner: 'progress-malformed', limit: 10 })).jobs[0];

      // Assess
      expect(read?.status).toBe('RUNNING');
      expect(read?.progress).toBeUndefined();
      expect(line?.jobId).toBe(job.jobId);
      expect(line?.progress).toBeUndefined();
    }
  });
});

describe('PROGRESS history entries', () => {
  it('are due when the progress changed and the last entry is old enough, never past the cap or outside RUNNING', () => {
    // Prepare
    const now = new Date('2026-03-01T11:00:00.000Z');
    const base = { status: 'RUNNING', progress: progressAt('2026-03-01T10:59:00.000Z') } as JobRecord;
    const entries = (minutesAgo: number, reportedAt: string, count = 1) => ({
      at: new Date(now.getTime() - minutesAgo * 60_000).toISOString(),
      count,
      reportedAt,
    });

    // Act and assess
    expect(progressEntryDue(base, now)).toBe(true);
    expect(progressEntryDue({ ...base, progress: undefined } as JobRecord, now)).toBe(false);
    expect(progressEntryDue({ ...base, status: 'SUCCEEDED' }, now)).toBe(false);
    expect(progressEntryDue({ ...base, progressEntries: entries(4.9, 'earlier') }, now)).toBe(false);
    expect(progressEntryDue({ ...base, progressEntries: entries(5, 'earlier') }, now)).toBe(true);
    expect(
      progressEntryDue({ ...base, progressEntries: entries(60, base.progress?.updatedAt ?? '') }, now),
    ).toBe(false);
    expect(
      progressEntryDue({ ...base, progressEntries: entries(60, 'earlier', MAX_PROGRESS_ENTRIES) }, now),
    ).toBe(false);
  });

  it('are written once when two ticks read the same record', async () => {
    // Prepare
    const job = await runningJob();
    await store.recordProgress(job.jobId, progressAt('2026-03-01T10:02:00.000Z'));
    const read = (await store.getJob(job.jobId)) as JobRecord;

    // Act
    const outcomes = await Promise.all([
      store.addProgressEntry(read, '2026-03-01T10:03:00.000Z'),
      store.addProgressEntry(read, '2026-03-01T10:03:00.001Z'),
    ]);

    // Assess
    expect(outcomes.sort()).toEqual([false, true]);
    const entries = (await store.listEvents(job.jobId)).filter((event) => event.type === 'PROGRESS');
    expect(entries).toEqual([
      expect.objectContaining({ type: 'PROGRESS', status: 'RUNNING', progress: read.progress }),
    ]);
    expect((await store.getJob(job.jobId))?.progressEntries?.count).toBe(1);
  });

  it('stay bounded: a report every minute for 12 hours, with a tick each minute, leaves at most one an interval and 100 in all', async () => {
    // Prepare
    const job = await runningJob();
    const start = Date.parse('2026-03-01T10:00:00.000Z');
    let written = 0;

    // Act: each minute the driver reports (5 s apart in reality; once a minute is what a tick sees).
    for (let minute = 1; minute <= 12 * 60; minute++) {
      const now = new Date(start + minute * 60_000);
      await store.recordProgress(job.jobId, progressAt(now.toISOString(), 1 + (minute % 3)));
      const read = (await store.getJob(job.jobId)) as JobRecord;
      if (progressEntryDue(read, now) && (await store.addProgressEntry(read, now.toISOString()))) written++;
    }

    // Assess
    const entries = (await store.listEvents(job.jobId)).filter((event) => event.type === 'PROGRESS');
    expect(written).toBe(MAX_PROGRESS_ENTRIES);
    expect(entries).toHaveLength(MAX_PROGRESS_ENTRIES);
    const gaps = entries.slice(1).map((entry, i) => Date.parse(entry.at) - Date.parse(entries[i]?.at ?? ''));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(PROGRESS_ENTRY_EVERY_MS);
  });
});
