import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';

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
