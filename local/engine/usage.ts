import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * What a local run used: its CPU time and the most memory it held at once, measured as it runs
 * (docs/cost.md, "Locally"). Linux only: elsewhere /proc is missing and a run measures as zero.
 *
 * A run in a process (python3, spark-submit) is sampled from /proc: the process and everything
 * below it, CPU time (user + system, its waited-for children's included) and resident memory. Its
 * last moments fall between the last sample and its exit, so at its exit the CPU time the runtime's
 * process gained from reaping it (`cutime + cstime` of /proc/self/stat) is taken instead when it
 * is larger and belongs to that run alone (no other run's process was reaped with it).
 *
 * A SQL run is DuckDB inside the runtime's own process: its CPU time is the process's CPU time
 * during the run (every thread: DuckDB's and the event loop's), and its memory the growth of the
 * process's resident memory over what it held when the run began.
 */
export interface RunMeasure {
  readonly cpuSeconds: number;
  readonly peakMemoryMb: number;
}

/** USER_HZ: the unit of /proc's CPU times, 100 on every Linux Node runs on. */
const TICKS_PER_SECOND = 100;
/** The first samples come quickly (a short run would otherwise end unseen), then every half second. */
const FIRST_SAMPLE_MS = 5;
const MAX_SAMPLE_MS = 500;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** utime + stime + cutime + cstime of a process, in ticks; undefined once it is gone. */
function cpuTicks(pid: number | 'self', withChildren = true): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Fields after the command name (which may hold spaces): state is [0], utime [11] … cstime [14].
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const own = Number(fields[11]) + Number(fields[12]);
  return withChildren ? own + Number(fields[13]) + Number(fields[14]) : own;
}

/** The CPU time the runtime's process has gained from the children it reaped, in ticks. */
function reapedTicks(): number {
  const stat = read('/proc/self/stat');
  if (stat === undefined) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

/** `VmRSS` and `VmHWM` (peak) of a process, in kB. */
function memoryKb(pid: number): { rss: number; hwm: number } | undefined {
  const status = read(`/proc/${pid}/status`);
  if (status === undefined) return undefined;
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** The process and all its descendants now alive. */
function processTree(pid: number): number[] {
  const tree: number[] = [];
  const pending = [pid];
  while (pending.length > 0 && tree.length < 4096) {
    const next = pending.pop() as number;
    tree.push(next);
    const children = read(`/proc/${next}/task/${next}/children`);
    for (const child of children?.split(' ') ?? []) if (child.trim() !== '') pending.push(Number(child));
  }
  return tree;
}

/** Engine processes being measured, and the reaped CPU time last read, shared by all runs of the process. */
const live = new Set<number>();
let reapedMark: number | undefined;

/** Measures one run's process tree from its start to its exit. */
export class ProcessMeter {
  readonly #pid: number;
  readonly #startedAt = performance.now();
  #ticks = 0;
  #peakKb = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #delay = FIRST_SAMPLE_MS;
  /** Another run's process was reaped with this one: the reaped time cannot be split between them. */
  #shared = false;

  constructor(pid: number) {
    this.#pid = pid;
    reapedMark ??= reapedTicks();
    live.add(pid);
    this.#sample();
  }

  #sample = (): void => {
    let ticks = 0;
    let rss = 0;
    for (const pid of processTree(this.#pid)) {
      const cpu = cpuTicks(pid, pid === this.#pid);
      const memory = memoryKb(pid);
      if (cpu === undefined || memory === undefined) continue;
      // Below the leader only the living count: the dead ones' time is in the leader's cutime.
      ticks += cpu;
      rss += memory.rss;
      if (pid === this.#pid) this.#peakKb = Math.max(this.#peakKb, memory.hwm);
    }
    this.#ticks = Math.max(this.#ticks, ticks);
    this.#peakKb = Math.max(this.#peakKb, rss);
    this.#delay = Math.min(this.#delay * 2, MAX_SAMPLE_MS);
    this.#timer = setTimeout(this.#sample, this.#delay);
    this.#timer.unref();
  };

  /** Call once the process has exited (and was reaped): the run's measure. */
  stop(): RunMeasure {
    clearTimeout(this.#timer);
    live.delete(this.#pid);
    const now = reapedTicks();
    const reaped = now - (reapedMark ?? now);
    reapedMark = now;
    // A process of another run that is gone but not yet reported was reaped in the same pass.
    for (const other of live) {
      if (read(`/proc/${other}/stat`) === undefined) {
        this.#shared = true;
        sharedReaps.add(other);
      }
    }
    if (sharedReaps.delete(this.#pid)) this.#shared = true;
    const wallSeconds = (performance.now() - this.#startedAt) / 1000;
    // No run can use more CPU than all cores for all its time: a bound on time reaped from elsewhere.
    const bound = wallSeconds * availableParallelism() * TICKS_PER_SECOND;
    const ticks = this.#shared ? this.#ticks : Math.max(this.#ticks, Math.min(reaped, bound));
    return { cpuSeconds: ticks / TICKS_PER_SECOND, peakMemoryMb: this.#peakKb / 1024 };
  }
}

/** Runs whose process was reaped while another run's was being measured: their reaped time was taken. */
const sharedReaps = new Set<number>();

/** Measures a run inside this process (DuckDB): CPU time of the process, growth of its resident memory. */
export class InProcessMeter {
  readonly #cpu = process.cpuUsage();
  readonly #baseRss = process.memoryUsage.rss();
  #peakRss = this.#baseRss;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor() {
    this.#timer = setInterval(this.#sample, 50);
    this.#timer.unref();
  }

  #sample = (): void => {
    this.#peakRss = Math.max(this.#peakRss, process.memoryUsage.rss());
  };

  stop(): RunMeasure {
    clearInterval(this.#timer);
    this.#sample();
    const used = process.cpuUsage(this.#cpu);
    return {
      cpuSeconds: (used.user + used.system) / 1e6,
      peakMemoryMb: (this.#peakRss - this.#baseRss) / (1024 * 1024),
    };
  }
}
