import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { procStat } from '../proc-stat.ts';
import { signalGroup } from './process.ts';

/**
 * The engine's record of the processes it started, one JSON line per start and per end, kept
 * under the runtime's data directory. A runtime that dies without stopping its runs (kill -9, a
 * crash) leaves their process groups running, unowned; the next start reads this log, finds the
 * starts with no end and stops what is left of them before any job runs again, so that no run
 * goes on twice. Lines are appended synchronously and are small, so each is whole on disk as
 * soon as the call returns, even if the runtime is killed the next instant.
 */

export interface ProcessStarted {
  readonly event: 'start';
  readonly pid: number;
  /** Clock ticks after boot at which the process started (/proc/<pid>/stat, field 22): with the pid, it names the process. */
  readonly startTime?: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly runId: string;
  readonly at: string;
}

export interface ProcessEnded {
  readonly event: 'end';
  readonly pid: number;
  readonly runId: string;
  readonly at: string;
  /** How it ended: it exited under its engine, or a later start found it left over and stopped it (or found it gone). */
  readonly how: 'exited' | 'stopped-at-start' | 'gone-at-start';
}

export type ProcessLogEntry = ProcessStarted | ProcessEnded;

/** A log past this size is set aside (one old file kept) when a runtime starts. */
const ROTATE_BYTES = 4 * 1024 * 1024;

export class ProcessLog {
  readonly path: string;
  readonly #now: () => Date;

  constructor(path: string, now: () => Date = () => new Date()) {
    this.path = path;
    this.#now = now;
    mkdirSync(dirname(path), { recursive: true });
    // A line a kill cut short is ended here, so that it does not swallow the next one.
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      if (text !== '' && !text.endsWith('\n')) appendFileSync(path, '\n');
    }
  }

  started(run: { pid: number; jobId: string; attempt: number; runId: string }): void {
    const startTime = processStartTime(run.pid);
    this.#append({
      event: 'start',
      pid: run.pid,
      ...(startTime !== undefined && { startTime }),
      jobId: run.jobId,
      attempt: run.attempt,
      runId: run.runId,
      at: this.#now().toISOString(),
    });
  }

  ended(run: { pid: number; runId: string }, how: ProcessEnded['how'] = 'exited'): void {
    this.#append({ event: 'end', pid: run.pid, runId: run.runId, at: this.#now().toISOString(), how });
  }

  /** Every entry, oldest first; a line cut short by a kill mid-write is skipped. */
  entries(): ProcessLogEntry[] {
    return readProcessLog(this.path);
  }

  /** Starts with no end: processes a runtime that is gone may have left running. */
  open(): ProcessStarted[] {
    const open = new Map<string, ProcessStarted>();
    for (const entry of this.entries()) {
      if (entry.event === 'start') open.set(entry.runId, entry);
      else open.delete(entry.runId);
    }
    return [...open.values()];
  }

  /** Sets a long log aside; only call it when nothing is open (after recovery). */
  rotate(): void {
    try {
      if (readFileSync(this.path).length > ROTATE_BYTES) renameSync(this.path, `${this.path}.1`);
    } catch {
      // No log yet: nothing to set aside.
    }
  }

  #append(entry: ProcessLogEntry): void {
    try {
      appendFileSync(this.path, `${JSON.stringify(entry)}\n`);
    } catch (error) {
      // The run itself must not fail for it; but a start not recorded cannot be found after a crash.
      console.error(
        `local engine: process ${entry.pid} (run ${entry.runId}) not recorded in ${this.path}:`,
        error,
      );
    }
  }
}

export function readProcessLog(path: string): ProcessLogEntry[] {
  if (!existsSync(path)) return [];
  const entries: ProcessLogEntry[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as ProcessLogEntry;
      if ((entry.event === 'start' || entry.event === 'end') && Number.isSafeInteger(entry.pid)) {
        entries.push(entry);
      }
    } catch {
      // Torn by a kill mid-write: that start's process, if any, is found by its group below.
    }
  }
  return entries;
}

/** Clock ticks after boot at which the process started; undefined when it is gone (or not on Linux). */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.startTime;
}

/** Live (not zombie) processes whose process group is `pgid`. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return members;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat && stat.pgid === pgid && stat.state !== 'Z') members.push(Number(name));
  }
  return members;
}

/**
 * Whether the group the engine started as `started` still has processes, as far as /proc can
 * tell. The leader alive with the recorded start time: ours. The leader's pid alive with another
 * start time: the pid was reused, and the process is someone else's. The leader gone but members
 * left in its group: ours, for Linux gives no process a pid that is still a live group's id.
 */
export function leftOver(started: ProcessStarted): boolean {
  const leader = procStat(started.pid);
  if (leader !== undefined && leader.state !== 'Z') {
    if (started.startTime === undefined || leader.startTime === started.startTime) return true;
    return false;
  }
  return groupMembers(started.pid).length > 0;
}

export interface LeftoverReport {
  readonly stopped: ProcessStarted[];
  readonly gone: ProcessStarted[];
  /** Still there after SIGKILL and the wait (a process stuck in the kernel): logged, never ignored. */
  readonly stuck: ProcessStarted[];
}

/**
 * Stops every process group the log says was started and never seen to end: SIGTERM, then
 * SIGKILL after `graceMs`, and waits (up to `waitMs` more) until each is gone. Each is recorded
 * as ended, so the next start does not look for it again.
 */
export async function stopLeftovers(
  log: ProcessLog,
  options: { graceMs?: number; waitMs?: number } = {},
): Promise<LeftoverReport> {
  const graceMs = options.graceMs ?? 2_000;
  const waitMs = options.waitMs ?? 3_000;
  const open = log.open();
  const alive = open.filter(leftOver);
  const gone = open.filter((started) => !alive.includes(started));
  for (const started of alive) signalGroup(started.pid, 'SIGTERM');
  let remaining = await waitUntilGone(alive, graceMs);
  for (const started of remaining) signalGroup(started.pid, 'SIGKILL');
  remaining = await waitUntilGone(remaining, waitMs);
  for (const started of gone) log.ended(started, 'gone-at-start');
  for (const started of alive) if (!remaining.includes(started)) log.ended(started, 'stopped-at-start');
  return { stopped: alive.filter((started) => !remaining.includes(started)), gone, stuck: remaining };
}

async function waitUntilGone(groups: ProcessStarted[], ms: number): Promise<ProcessStarted[]> {
  const deadline = Date.now() + ms;
  let remaining = groups.filter(leftOver);
  while (remaining.length > 0 && Date.now() < deadline) {
    await sleep(50);
    remaining = remaining.filter(leftOver);
  }
  return remaining;
}
