import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { procStat } from '../../local/proc-stat.ts';

/** What /proc says about a process: Linux only, as the local engine's process groups are. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** R, S, D, Z (zombie: exited, not yet reaped), … */
  readonly state: string;
  readonly command: string;
}

function readInfo(pid: number): ProcessInfo | undefined {
  const stat = procStat(pid);
  if (stat === undefined) return undefined;
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, state: stat.state, ppid: stat.ppid, pgid: stat.pgid, command };
  } catch {
    return undefined;
  }
}

/** The process the engine recorded is still there: same pid, same start time, not exited. */
export function sameProcessAlive(pid: number, startTime: string | undefined): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === startTime;
}

export function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = readInfo(Number(name));
    if (info) found.push(info);
  }
  return found;
}

/** Running (not exited; a zombie has exited and only waits for its parent to reap it). */
export function isAlive(pid: number): boolean {
  const info = readInfo(pid);
  return info !== undefined && info.state !== 'Z';
}

/** The process and everything below it, by parent links, as now. */
export function processTree(root: number): ProcessInfo[] {
  const all = processes();
  const tree: ProcessInfo[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    const info = all.find((p) => p.pid === pid);
    if (info) tree.push(info);
    for (const child of all) if (child.ppid === pid) queue.push(child.pid);
  }
  return tree;
}

/** Live processes in any of these process groups. */
export function membersOf(pgids: Iterable<number>): ProcessInfo[] {
  const groups = new Set(pgids);
  return processes().filter((p) => groups.has(p.pgid) && p.state !== 'Z');
}

/** True when nothing listens on the port (a listen on it succeeds). */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port nothing listens on (it was free a moment ago): a connection to it is refused. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
