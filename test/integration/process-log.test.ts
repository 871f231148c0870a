import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessLog, processStartTime, stopLeftovers } from '../../local/engine/process-log.ts';
import { isAlive } from '../support/processes.ts';

/**
 * The engine's process log and what a start does with it: groups a killed runtime left running
 * are stopped, whole; a pid now held by an unrelated process is never signalled.
 */

/** A detached shell (its own group, as the engine starts runs) with a sleeping child; its pids. */
function leftoverGroup(): { leader: number; child: () => number | undefined } {
  const shell = spawn('sh', ['-c', 'sleep 300 & echo $!; wait'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let childPid: number | undefined;
  shell.stdout.on('data', (chunk: Buffer) => {
    childPid = Number(chunk.toString().trim());
  });
  shell.unref();
  return { leader: shell.pid as number, child: () => childPid };
}

describe('the engine process log', () => {
  let dir: string;
  const spawned: number[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'libra-proclog-'));
  });

  afterAll(async () => {
    for (const pid of spawned) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('stops the whole group of a start with no end, and records that it did', async () => {
    const log = new ProcessLog(join(dir, 'a.jsonl'));
    const group = leftoverGroup();
    spawned.push(group.leader);
    log.started({ pid: group.leader, jobId: 'job-a', attempt: 0, runId: 'r1' });
    // A run that ended under its engine is not looked at again.
    log.started({ pid: process.pid, jobId: 'job-b', attempt: 0, runId: 'r2' });
    log.ended({ pid: process.pid, runId: 'r2' });
    await expect.poll(group.child).toBeGreaterThan(0);
    const child = group.child() as number;
    expect(isAlive(group.leader) && isAlive(child)).toBe(true);

    const report = await stopLeftovers(log, { graceMs: 1_000 });
    expect(report.stopped.map((run) => run.runId)).toEqual(['r1']);
    expect(report.stuck).toEqual([]);
    expect(isAlive(group.leader)).toBe(false);
    expect(isAlive(child)).toBe(false);
    expect(log.open()).toEqual([]);
    expect(log.entries().at(-1)).toMatchObject({ event: 'end', runId: 'r1', how: 'stopped-at-start' });
  });

  it('leaves alone a pid that now belongs to another process (its start time differs)', async () => {
    const log = new ProcessLog(join(dir, 'b.jsonl'));
    const group = leftoverGroup();
    spawned.push(group.leader);
    const startTime = processStartTime(group.leader);
    expect(startTime).toBeDefined();
    // As if the recorded process had ended long ago and its pid had been given to this one.
    appendFileSync(
      log.path,
      `${JSON.stringify({ event: 'start', pid: group.leader, startTime: `${Number(startTime) - 1}`, jobId: 'job-c', attempt: 1, runId: 'r3', at: new Date().toISOString() })}\n`,
    );
    const report = await stopLeftovers(log, { graceMs: 200 });
    expect(report.stopped).toEqual([]);
    expect(report.gone.map((run) => run.runId)).toEqual(['r3']);
    expect(isAlive(group.leader)).toBe(true);
    expect(log.open()).toEqual([]);
  });

  it('reads past a line a kill cut in the middle, and the next runtime writes on a line of its own', () => {
    const path = join(dir, 'c.jsonl');
    const first = new ProcessLog(path);
    first.started({ pid: 1, jobId: 'job-d', attempt: 0, runId: 'r4' });
    appendFileSync(path, '{"event":"start","pid":12');
    expect(first.open().map((run) => run.runId)).toEqual(['r4']);
    const next = new ProcessLog(path);
    next.ended({ pid: 1, runId: 'r4' });
    expect(next.open()).toEqual([]);
  });
});
