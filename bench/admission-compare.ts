import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { machineLine, percentile, writeBenchmarkSection } from './support.ts';

/**
 * Admission's CPU cost per admitted job, this checkout against another (`--before DIR`: a checkout
 * of an earlier commit with its dependencies, a git worktree for instance), in pairs run back to
 * back in alternating order, so that what the machine is doing weighs on both sides alike. Each
 * run is `node bench/admission.ts` in its own checkout; its rounds' lines are read back.
 *
 * The bar it judges (issue 11, point 4): admissions per CPU-second, after ÷ before, at least 0.90.
 * On this 2-core virtual machine a whole run sometimes costs a third more CPU per job than the
 * run before it, on either side, in spells of a minute or so (docs/benchmarks.md): so each pair
 * is kept short (one counted round a side by default), its ratio is taken on its own, and the
 * verdict rests on the median of the pairs' ratios, with a 95% interval from a bootstrap over the
 * pairs: "met" when the interval's low end is at least the bar. The ratio of the pooled rounds is
 * printed beside it.
 */

const BAR = 0.9;
const RESAMPLES = 10_000;

const { values: args } = parseArgs({
  options: {
    before: { type: 'string' },
    after: { type: 'string' },
    pairs: { type: 'string', default: '20' },
  },
});
if (!args.before) {
  console.error('usage: node bench/admission-compare.ts --before DIR [--after DIR] [--pairs N]');
  console.error('  DIR: a checkout of a commit with node_modules, e.g.');
  console.error('  git worktree add --detach ../before <commit> && ln -s "$PWD/node_modules" ../before/');
  process.exit(2);
}
const beforeDir = resolve(args.before);
// By default this checkout; a checkout of its own keeps the code measured still while this one is edited.
const afterDir = resolve(args.after ?? '.');
for (const dir of [beforeDir, afterDir]) {
  if (!existsSync(resolve(dir, 'bench/admission.ts')) || !existsSync(resolve(dir, 'node_modules'))) {
    console.error(`${dir}: no bench/admission.ts or no node_modules there`);
    process.exit(2);
  }
}
const PAIRS = Number(args.pairs);
const settings = {
  BENCH_JOBS: process.env.BENCH_JOBS ?? '300',
  BENCH_ROUNDS: process.env.BENCH_ROUNDS ?? '1',
  BENCH_WARMUP_ROUNDS: process.env.BENCH_WARMUP_ROUNDS ?? '1',
};

type Side = 'before' | 'after';

interface Round {
  readonly cpuMs: number;
  readonly mainMs: number;
  readonly requests: number;
  readonly refused: number;
}

interface Run {
  readonly side: Side;
  readonly rounds: Round[];
  readonly loadStart: number;
  readonly loadEnd: number;
}

const ROUND_LINE =
  /^round \d+: .* per job: CPU ([\d.]+) ms main \+ ([\d.]+) ms other threads .*?, ([\d.]+) DynamoDB requests \+ ([\d.]+) refused/;

/** One run of the admission benchmark in `dir`: its counted rounds, read from what it prints. */
async function runBench(side: Side, dir: string): Promise<Run> {
  const loadStart = os.loadavg()[0] ?? Number.NaN;
  // The checkout's own docs are left alone by this one; an older one may rewrite its own.
  const child = spawn(process.execPath, ['bench/admission.ts'], {
    cwd: dir,
    env: { ...process.env, ...settings, BENCH_WRITE_DOCS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0) throw new Error(`bench/admission.ts in ${dir} exited ${code}:\n${out}`);
  const rounds = out.split('\n').flatMap((line) => {
    const m = ROUND_LINE.exec(line);
    if (!m) return [];
    const [main, other, requests, refused] = m.slice(1).map(Number) as [number, number, number, number];
    return [{ cpuMs: main + other, mainMs: main, requests, refused }];
  });
  if (rounds.length !== Number(settings.BENCH_ROUNDS)) {
    throw new Error(
      `expected ${settings.BENCH_ROUNDS} round lines from ${dir}, read ${rounds.length}:\n${out}`,
    );
  }
  return { side, rounds, loadStart, loadEnd: os.loadavg()[0] ?? Number.NaN };
}

const median = (values: readonly number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

/** Admissions per CPU-second after ÷ before, over the rounds of the pairs given (pooled). */
function ratioOf(pairs: readonly (readonly [Run, Run])[]): number {
  const cpu = (side: 0 | 1) => median(pairs.flatMap((pair) => pair[side].rounds.map((r) => r.cpuMs)));
  return cpu(0) / cpu(1);
}

/** The median of the pairs' own ratios. */
function pairedRatio(pairs: readonly (readonly [Run, Run])[]): number {
  return median(pairs.map((pair) => ratioOf([pair])));
}

/** A deterministic generator (mulberry32), so that one set of runs always gives one interval. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The 2.5th and 97.5th percentiles of the paired ratio over pairs drawn with replacement. */
function interval(pairs: readonly (readonly [Run, Run])[]): [number, number] {
  const next = random(pairs.length);
  const ratios: number[] = [];
  for (let i = 0; i < RESAMPLES; i++) {
    ratios.push(
      pairedRatio(pairs.map(() => pairs[Math.floor(next() * pairs.length)] as readonly [Run, Run])),
    );
  }
  ratios.sort((a, b) => a - b);
  return [percentile(ratios, 2.5), percentile(ratios, 97.5)];
}

async function main(): Promise<void> {
  const beforeVersion = gitShort(beforeDir) ?? beforeDir;
  const afterVersion = gitShort(afterDir) ?? afterDir;
  console.log(
    `before: ${beforeDir} (${beforeVersion}); after: ${afterDir} (${afterVersion}); ${PAIRS} pairs`,
  );
  const pairs: [Run, Run][] = [];
  for (let i = 0; i < PAIRS; i++) {
    // Alternating order: the side run second in a pair is not always the same one.
    const order: Side[] = i % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
    const runs = new Map<Side, Run>();
    for (const side of order) runs.set(side, await runBench(side, side === 'before' ? beforeDir : afterDir));
    const pair: [Run, Run] = [runs.get('before') as Run, runs.get('after') as Run];
    pairs.push(pair);
    console.log(`pair ${i + 1}: ${row(i, pair).join(' | ')}`);
  }
  const ratio = pairedRatio(pairs);
  const pooled = ratioOf(pairs);
  const [low, high] = interval(pairs);
  const perPair = pairs.map((pair) => ratioOf([pair]));
  const requests = (side: 0 | 1) =>
    median(pairs.flatMap((pair) => pair[side].rounds.map((r) => r.requests + r.refused)));
  const verdict =
    low >= BAR ? 'met' : ratio >= BAR ? 'not shown (the interval reaches below it)' : '**NOT met**';
  const summary = `after ÷ before, admissions per CPU-second: ${ratio.toFixed(3)}, the median of ${PAIRS} pairs (95% interval ${low.toFixed(3)}–${high.toFixed(3)}; pooled rounds ${pooled.toFixed(3)}; per pair ${perPair.map((r) => r.toFixed(2)).join(', ')}); DynamoDB requests per admitted job ${requests(0).toFixed(1)} → ${requests(1).toFixed(1)}; the bar (≥ ${BAR}) ${verdict}`;
  console.log(summary);

  await writeBenchmarkSection(
    'admission-compare',
    `## Admission, this commit against an earlier one (\`npm run bench:admission:compare -- --before DIR --after DIR\`)

Machine: ${machineLine()}; run ${new Date().toISOString()}. Before: ${beforeVersion}. After: ${afterVersion}.

**Method.** \`bench/admission.ts\` (the drain of ${settings.BENCH_JOBS} jobs through a pool of 10 slots, above)
in each checkout, ${settings.BENCH_ROUNDS} counted rounds after ${settings.BENCH_WARMUP_ROUNDS} warm-up a run,
the two run back to back in ${PAIRS} pairs, the order alternating from pair to pair. **CPU** is the
benchmark process's CPU time per admitted job while draining (its main thread and its other threads:
dynalite's, V8's). **Ratio** is admissions per CPU-second after ÷ before: per pair, the before side's
median CPU per job over the after side's; overall, the median of the pairs' ratios, with a 95% interval from
${RESAMPLES.toLocaleString('en')} resamples of the pairs with replacement (the ratio of all rounds pooled is given too).
The bar: at least ${BAR}, shown when the interval's low end is.

| pair | load at start → end, before / after | before: CPU ms per job, by round | after: CPU ms per job, by round | DynamoDB requests per job (answered + refused), before / after | ratio |
|---|---|---|---|---|---|
${pairs.map((pair, i) => `| ${row(i, pair).join(' | ')} |`).join('\n')}

**Result.** ${summary}.`,
  );
}

function row(i: number, [before, after]: readonly [Run, Run]): string[] {
  const load = (run: Run) => `${run.loadStart.toFixed(2)} → ${run.loadEnd.toFixed(2)}`;
  const cpu = (run: Run) => run.rounds.map((r) => r.cpuMs.toFixed(1)).join(', ');
  const requests = (run: Run) => {
    const answered = median(run.rounds.map((r) => r.requests));
    const refused = median(run.rounds.map((r) => r.refused));
    return `${answered.toFixed(1)} + ${refused.toFixed(1)}`;
  };
  return [
    String(i + 1),
    `${load(before)} / ${load(after)}`,
    cpu(before),
    cpu(after),
    `${requests(before)} / ${requests(after)}`,
    ratioOf([[before, after]]).toFixed(2),
  ];
}

function gitShort(dir: string): string | undefined {
  try {
    return `commit ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim()}`;
  } catch {
    return undefined;
  }
}

await main();
