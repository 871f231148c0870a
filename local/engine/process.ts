import { type ChildProcess, spawn } from 'node:child_process';
import { open } from 'node:fs/promises';

export interface ProcessRunOptions {
  readonly command: string;
  /** Handed to the program as its argv: no shell ever sees them. */
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  /** Aborting stops the whole process group: SIGTERM, then SIGKILL after `killGraceMs`. */
  readonly signal: AbortSignal;
  readonly killGraceMs: number;
  /** Called once the process exists, with its pid (also its process group id). */
  readonly onSpawn: (pid: number) => void;
}

export type ProcessOutcome =
  | { readonly kind: 'exited'; readonly exitCode: number | null; readonly signal: NodeJS.Signals | null }
  /** It never started: the program is missing or not executable. */
  | { readonly kind: 'not-started'; readonly code: string | undefined; readonly message: string };

/**
 * Runs a program in a process group of its own, with stdout and stderr going straight to files:
 * the child writes to them itself, so nothing is buffered here however much it prints, and a
 * grandchild that keeps the files open cannot hold the run open.
 *
 * When the leader exits, whatever it left behind in its group is killed too, as EMR tears down
 * a job's containers; a process that starts a session of its own (setsid) escapes this.
 */
export async function runProcess(options: ProcessRunOptions): Promise<ProcessOutcome> {
  if (options.signal.aborted) return { kind: 'exited', exitCode: null, signal: null };
  const stdout = await open(options.stdoutPath, 'a');
  const stderr = await open(options.stderrPath, 'a').catch(async (error: unknown) => {
    await stdout.close();
    throw error;
  });
  let outcome: Promise<ProcessOutcome>;
  try {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      // Its own process group, so one kill(-pid) reaches everything it starts.
      detached: true,
      stdio: ['ignore', stdout.fd, stderr.fd],
      shell: false,
    });
    // Listen before anything is awaited: a failed spawn reports 'error' on the next tick.
    outcome = watch(child, options);
  } finally {
    // The child holds its own copies of the descriptors.
    await Promise.all([stdout.close(), stderr.close()]);
  }
  return outcome;
}

function watch(child: ChildProcess, options: ProcessRunOptions): Promise<ProcessOutcome> {
  return new Promise<ProcessOutcome>((resolve) => {
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      const pid = child.pid;
      if (pid === undefined) return;
      signalGroup(pid, 'SIGTERM');
      graceTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), options.killGraceMs);
    };
    const settle = (outcome: ProcessOutcome) => {
      options.signal.removeEventListener('abort', stop);
      if (graceTimer !== undefined) clearTimeout(graceTimer);
      resolve(outcome);
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      // 'error' without a pid means spawn failed; with one it is a failed kill, which 'exit' follows.
      if (child.pid === undefined) settle({ kind: 'not-started', code: error.code, message: error.message });
    });
    child.once('exit', (exitCode, signal) => {
      // Whatever the leader left in its group goes with it.
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      settle({ kind: 'exited', exitCode, signal });
    });
    if (child.pid !== undefined) {
      options.onSpawn(child.pid);
      options.signal.addEventListener('abort', stop, { once: true });
      if (options.signal.aborted) stop();
    }
  });
}

/**
 * Signals every process in the group. A group that is already gone (ESRCH) is the common case
 * after the leader exits; EPERM would mean the id now belongs to someone else's processes, which
 * must not be touched either. Neither may throw: this runs in 'exit' handlers and timers.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // See above: nothing of ours is left to signal.
  }
}
