import { readFileSync } from 'node:fs';

/** What /proc/<pid>/stat says of a process (Linux only; elsewhere every process reads as unknown). */
export interface ProcStat {
  /** R, S, D, Z (zombie: exited, not yet reaped), … */
  readonly state: string;
  readonly ppid: number;
  readonly pgid: number;
  /** Clock ticks after boot at which the process started (field 22): with the pid, it names one process. */
  readonly startTime: string;
}

export function procStat(pid: number | 'self'): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The fields after the command name, which may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    startTime: fields[19] ?? '',
  };
}
