import { readFileSync, unlinkSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { procStat } from './proc-stat.ts';
import { StartError } from './start-error.ts';

/**
 * One runtime per `--data` directory: two would share one table and one set of run folders and
 * undo each other's work. The holder writes its pid (and, on Linux, its start time, so that a pid
 * reused by an unrelated process is not taken for the holder) into `libra.lock`; a lock whose
 * holder is gone, as after `kill -9`, is stale and taken over.
 */

export const LOCK_FILE = 'libra.lock';

interface Holder {
  readonly pid: number;
  /** Clock ticks since boot at which the process started (/proc/<pid>/stat, field 22). */
  readonly startTime?: string;
}

export interface DataLock {
  readonly path: string;
  release(): Promise<void>;
}

function processStartTime(pid: number | 'self'): string | undefined {
  return procStat(pid)?.startTime;
}

function isRunning(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it exists, as someone else's process.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (holder.startTime === undefined) return true;
  const startTime = processStartTime(holder.pid);
  return startTime === undefined || startTime === holder.startTime;
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    return Number.isSafeInteger(value.pid) && (value.pid as number) > 0
      ? {
          pid: value.pid as number,
          ...(typeof value.startTime === 'string' && { startTime: value.startTime }),
        }
      : undefined;
  } catch {
    return undefined;
  }
}

const readText = (path: string) =>
  readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });

function unusable(dir: string, error: unknown): StartError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return new StartError(`cannot use --data ${dir}: ${code ? `${code}, ` : ''}${(error as Error).message}`);
}

/** Takes the directory (creating it) or fails with a StartError naming the runtime that holds it. */
export async function lockDataDir(dir: string): Promise<DataLock> {
  const path = join(dir, LOCK_FILE);
  const startTime = processStartTime('self');
  const mine = JSON.stringify({ pid: process.pid, ...(startTime && { startTime }) });
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw unusable(dir, error);
  }
  // A few rounds: a stale lock removed here may be taken by another runtime starting just now.
  for (let round = 0; round < 3; round++) {
    try {
      const file = await open(path, 'wx');
      try {
        await file.writeFile(mine);
      } finally {
        await file.close();
      }
      return held(path, mine);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw unusable(dir, error);
    }
    const text = await readText(path).catch((error: unknown) => {
      throw unusable(dir, error);
    });
    if (text === undefined) continue;
    const holder = parseHolder(text);
    if (holder !== undefined && isRunning(holder)) {
      throw new StartError(
        `--data ${dir} is in use by another Libra runtime (pid ${holder.pid}): stop it first, or choose another --data`,
      );
    }
    // Stale (its holder is gone, or it was never written whole): removed only if still the same.
    if ((await readText(path)) === text) await rm(path, { force: true });
  }
  throw new StartError(
    `cannot lock --data ${dir}: ${path} keeps changing; is another runtime starting there?`,
  );
}

function held(path: string, mine: string): DataLock {
  const releaseNow = () => {
    try {
      if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
    } catch {
      // Already gone: nothing to release.
    }
  };
  // An exit without stop() (a fatal error, a forced exit) still leaves the directory free.
  process.on('exit', releaseNow);
  return {
    path,
    async release() {
      process.off('exit', releaseNow);
      releaseNow();
    },
  };
}
