import { describe, expect, it } from 'vitest';
import { eventsTable } from '../../bin/cli/render.ts';

describe('libra events', () => {
  it('shows a PROGRESS entry with its stages, tasks and share done, and one without a fraction without a share', () => {
    // Act
    const text = eventsTable([
      { jobId: 'job-1', at: '2026-03-01T10:00:00.000Z', type: 'STATUS', status: 'RUNNING' },
      {
        jobId: 'job-1',
        at: '2026-03-01T10:05:00.000Z',
        type: 'PROGRESS',
        status: 'RUNNING',
        progress: {
          stagesDone: 2,
          stagesTotal: 5,
          tasksDone: 120,
          tasksTotal: 400,
          fraction: 0.3,
          updatedAt: '2026-03-01T10:04:58.000Z',
        },
      },
      {
        jobId: 'job-1',
        at: '2026-03-01T10:10:00.000Z',
        type: 'PROGRESS',
        status: 'RUNNING',
        progress: {
          stagesDone: 3,
          stagesTotal: 5,
          tasksDone: 0,
          tasksTotal: 0,
          updatedAt: '2026-03-01T10:09:58.000Z',
        },
      },
    ]);

    // Assess
    const lines = text.split('\n');
    expect(lines.find((line) => line.includes('+5m') || line.includes('10:05'))).toMatch(
      /PROGRESS\s+stages 2\/5, tasks 120\/400, 30%/,
    );
    expect(lines.find((line) => line.includes('10:10'))).toMatch(/PROGRESS\s+stages 3\/5, tasks 0\/0\s*$/);
  });
});
