import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  const index = Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)] ?? Number.NaN;
}

export interface LatencyStats {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly perSecond: number;
}

/**
 * Runs `operation` `total` times from `concurrency` workers, each waiting for its previous call,
 * and returns the latency distribution and throughput.
 */
export async function measure(
  total: number,
  concurrency: number,
  operation: (i: number) => Promise<void>,
): Promise<LatencyStats> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await operation(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    count: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    perSecond: (latencies.length / elapsed) * 1000,
  };
}

export const ms = (value: number) => value.toFixed(2);

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Replaces this benchmark's section of docs/benchmarks.md, leaving the others as they are. */
export async function writeBenchmarkSection(name: string, markdown: string): Promise<void> {
  const path = 'docs/benchmarks.md';
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  let doc = await readFile(path, 'utf8').catch(
    () =>
      '# Benchmarks\n\nEach section is written by its `npm run bench:*` script; numbers are from the last run.\n',
  );
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  const at = doc.indexOf(begin);
  const until = doc.indexOf(end);
  doc =
    at >= 0 && until > at
      ? doc.slice(0, at) + block + doc.slice(until + end.length)
      : `${doc.trimEnd()}\n\n${block}\n`;
  await writeFile(path, doc);
}

/**
 * The local runtime in a process of its own, as a benchmark's system under test: the same
 * `startLocalRuntime` that `npm start` runs, with the pools of `config` (written to a LIBRA_CONFIG
 * file), and a workflow that never ends — each admitted job stays SCHEDULED holding its lease, as a
 * long Spark run would. A pool sized N thus runs N jobs and every later job waits, whatever the
 * local Spark engine would have done with them. Its memory is the runtime's alone: the benchmark's
 * HTTP clients live in the parent.
 */
export interface RuntimeProcess {
  readonly url: string;
  readonly dynamoEndpoint: string;
  readonly pid: number;
  output(): string;
  stop(): Promise<void>;
}

const SERVE_FLAG = '--serve-held-runtime';

export interface RuntimeProcessOptions {
  /** Seconds between the runtime's ticks; as `npm start` (a minute) when absent. */
  readonly tickSeconds?: number;
  /** Extra `node` options, e.g. --cpu-prof. */
  readonly nodeOptions?: readonly string[];
}

export async function startRuntimeProcess(
  config: unknown,
  options: RuntimeProcessOptions = {},
): Promise<RuntimeProcess> {
  const configFile = join(os.tmpdir(), `libra-bench-${process.pid}-${Date.now()}.json`);
  await writeFile(configFile, JSON.stringify(config));
  const child = spawn(
    process.execPath,
    [...(options.nodeOptions ?? []), fileURLToPath(import.meta.url), SERVE_FLAG],
    {
      env: {
        ...process.env,
        LIBRA_CONFIG: configFile,
        ...(options.tickSeconds !== undefined && { BENCH_TICK_SECONDS: String(options.tickSeconds) }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, 'exit');
  try {
    const [url, dynamoEndpoint] = await new Promise<[string, string]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the runtime did not start:\n${output}`)), 30_000);
      child.stdout.on('data', () => {
        const match = /listening on (http:\/\/\S+) \(DynamoDB (http:\/\/\S+)\)/.exec(output);
        if (match?.[1] && match[2]) {
          clearTimeout(timer);
          resolve([match[1], match[2]]);
        }
      });
      void exited.then(([code]) => {
        clearTimeout(timer);
        reject(new Error(`the runtime exited with ${code}:\n${output}`));
      });
    });
    return {
      url,
      dynamoEndpoint,
      pid: child.pid as number,
      output: () => output,
      async stop() {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await exited;
        }
        await rm(configFile, { force: true });
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    await rm(configFile, { force: true });
    throw error;
  }
}

/** The child side of startRuntimeProcess. */
async function serveHeldRuntime(): Promise<void> {
  const { loadLocalConfig } = await import('../local/config.ts');
  const { startLocalRuntime } = await import('../local/runtime.ts');
  const held: string[] = [];
  const runtime = await startLocalRuntime({
    config: await loadLocalConfig(),
    port: 0,
    logLevel: 'SILENT',
    ...(process.env.BENCH_TICK_SECONDS && { tickSeconds: Number(process.env.BENCH_TICK_SECONDS) }),
    onWorkflowStart: (job) => {
      held.push(job.jobId);
    },
  });
  console.log(`listening on ${runtime.url} (DynamoDB ${runtime.dynamoEndpoint})`);
  const stop = async () => {
    await runtime.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

if (import.meta.main && process.argv.includes(SERVE_FLAG)) await serveHeldRuntime();

/** CPU time (user + system, ms) each kind of thread of a process has used so far, from /proc. */
export async function threadCpuMs(pid: number): Promise<Map<string, number>> {
  const ticksPerMs = 100 / 1000; // USER_HZ, 100 on Linux
  const byKind = new Map<string, number>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue; // the thread ended meanwhile
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const kind =
      tid === String(pid)
        ? 'main'
        : name === 'WorkerThread'
          ? 'worker'
          : name.startsWith('V8') || name.startsWith('DelayedTask')
            ? 'v8'
            : 'other';
    byKind.set(kind, (byKind.get(kind) ?? 0) + ticks / ticksPerMs);
  }
  return byKind;
}

/** CPU ms per operation, by kind of thread, between two threadCpuMs readings. */
export function cpuPerOperation(
  before: Map<string, number>,
  after: Map<string, number>,
  operations: number,
): Record<string, number> {
  const per: Record<string, number> = {};
  for (const [kind, ms] of after) per[kind] = (ms - (before.get(kind) ?? 0)) / operations;
  return per;
}

/** The commit the benchmark ran on, and whether tracked files other than docs/ differed from it. */
export function sourceVersion(): string {
  try {
    const run = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    const commit = run('rev-parse', '--short', 'HEAD');
    const changed = run('status', '--porcelain', '--untracked-files=no', '--', '.', ':!docs');
    return changed ? `commit ${commit} with uncommitted changes` : `commit ${commit}`;
  } catch {
    return 'commit unknown';
  }
}
