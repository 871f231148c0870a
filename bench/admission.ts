import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseConfig } from '#core/config.ts';
import type { JobRecord } from '#core/job-record.ts';
import { type LocalRuntime, startLocalRuntime } from '../local/runtime.ts';
import {
  machineLine,
  ms,
  percentile,
  sourceVersion,
  startRuntimeProcess,
  threadCpuMs,
  writeBenchmarkSection,
} from './support.ts';

/**
 * Admission throughput and latency while draining a full queue, and the local runtime's memory
 * while that queue waits (issue 3). Targets: ≥ 200 admissions/s, release → next admission p99
 * ≤ 250 ms, peak memory ≤ 400 MB. The method is written out in docs/benchmarks.md (see below).
 */

const JOBS = Number(process.env.BENCH_JOBS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Rounds run first and not counted: the benchmark process's code is compiled and optimized by them. */
const WARMUP_ROUNDS = Number(process.env.BENCH_WARMUP_ROUNDS ?? 1);
const SLOTS = 10;
const SUBMITTERS = 16;
/**
 * Owners the submits are spread over, round robin (`x-libra-user`), and the pool's
 * maxRunningPerOwner: a variant of the measure (fair share with several owners, parking at the
 * cap), printed and not written to docs/benchmarks.md. By default one owner and no cap.
 */
const OWNERS = Number(process.env.BENCH_OWNERS ?? 1);
const CAP = process.env.BENCH_MAX_RUNNING_PER_OWNER
  ? Number(process.env.BENCH_MAX_RUNNING_PER_OWNER)
  : undefined;
const VARIANT = OWNERS > 1 || CAP !== undefined;
let submitCount = 0;
const TARGET = { admissionsPerSecond: 200, releaseToAdmitP99Ms: 250, peakMB: 400 } as const;

const rawConfig = {
  pools: {
    default: {
      // Room for 10 jobs of 2 cores and 2.75 GiB each: the job count is the limit that binds.
      cpuCores: 32,
      memoryGb: 64,
      maxConcurrentJobs: SLOTS,
      maxQueueSize: JOBS,
      maxWaitMinutes: 60,
      ...(CAP !== undefined && { maxRunningPerOwner: CAP }),
    },
  },
};
const config = parseConfig(rawConfig);

const body = JSON.stringify({
  code: 'SELECT COUNT(*) FROM range(1000)',
  kind: 'sql',
  priority: 5,
  name: 'bench-admission',
  tags: { team: 'bench' },
  sparkConf: {
    'spark.executor.instances': '1',
    'spark.executor.cores': '1',
    'spark.executor.memory': '1g',
    'spark.driver.cores': '1',
    'spark.driver.memory': '1g',
  },
});

async function submitAll(baseUrl: string, count: number, concurrency: number): Promise<string[]> {
  const jobIds: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++;
        const owner = OWNERS > 1 ? { 'x-libra-user': `bench-owner-${submitCount++ % OWNERS}` } : {};
        const response = await fetch(`${baseUrl}/api/v1/spark/jobs/submit`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...owner },
          body,
        });
        const answer = (await response.json()) as { jobId?: string };
        if (response.status !== 202 || !answer.jobId) {
          throw new Error(`submit answered ${response.status}: ${JSON.stringify(answer)}`);
        }
        jobIds.push(answer.jobId);
      }
    }),
  );
  return jobIds;
}

interface PoolState {
  readonly running: number;
  readonly waiting: number;
}

async function poolState(baseUrl: string): Promise<PoolState> {
  const response = await fetch(`${baseUrl}/api/v1/spark/pools`);
  const { pools } = (await response.json()) as { pools: (PoolState & { name: string })[] };
  const pool = pools.find((p) => p.name === 'default');
  if (!pool) throw new Error('no default pool in GET /api/v1/spark/pools');
  return pool;
}

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface DrainResult {
  readonly fillSeconds: number;
  readonly drainSeconds: number;
  readonly admissionsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly maxRunning: number;
  readonly leasesTakenAgain: number;
  /** CPU per admitted job while draining: this process's main thread, and its other threads (dynalite's, V8's). */
  readonly mainCpuMs: number;
  readonly otherCpuMs: number;
  /** The share of the drain's wall-clock time dynalite's thread was busy (0..1). */
  readonly dynaliteBusy: number;
  /** DynamoDB requests per admitted job while draining, by everyone: answered, and refused by their condition. */
  readonly callsPerJob: { readonly ok: number; readonly conditionFailed: number };
  /** Round-trip time of those requests (the SDK client, HTTP and dynalite), p50 and p99 ms. */
  readonly requestP50: number;
  readonly requestP99: number;
}

async function drainRound(): Promise<DrainResult> {
  let phase: 'blocking' | 'draining' = 'blocking';
  const blockers: JobRecord[] = [];
  let finished = 0;
  let running = 0;
  let maxRunning = 0;
  let failure: unknown;
  let allFinished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allFinished = resolve;
  });

  // Instruments. A release is timed when the pool item's conditional update that removes the
  // job's lease committed — whoever made it: the job ender, or admission giving back the lease of a
  // job it finds already ended. Seen on the DynamoDB document client, the one place all of them
  // write through. An admission is timed when its QUEUED → SCHEDULED move (the conditional update
  // and its history item) completed.
  const releases: number[] = [];
  const released = new Set<string>();
  let leasesTakenAgain = 0;
  const admissions: number[] = [];
  const calls = { ok: 0, conditionFailed: 0 };
  const callMs: number[] = [];
  const stopTiming = watchDocumentClient(
    (outcome, tookMs) => {
      if (phase !== 'draining') return;
      calls[outcome]++;
      callMs.push(tookMs);
    },
    (jobId, at) => {
      if (phase !== 'draining') return;
      // A second release of one job's lease gives back a lease taken again after the job ended —
      // admission working from a page of waiting jobs read before another pass admitted it — not
      // a slot a finished run left: it is counted apart.
      if (released.has(jobId)) leasesTakenAgain++;
      else {
        released.add(jobId);
        releases.push(at);
      }
    },
  );
  const finish = async (
    job: JobRecord,
    jobs: LocalRuntime['parts']['jobs'],
    jobEnder: LocalRuntime['parts']['jobEnder'],
  ) => {
    await jobs.transition(job.jobId, ['SCHEDULED'], 'RUNNING', { at: new Date().toISOString() });
    running--;
    await jobEnder.finish(job.jobId, 'SUCCEEDED');
    if (++finished === JOBS + SLOTS) allFinished();
  };

  const runtime: LocalRuntime = await startLocalRuntime({
    config,
    port: 0,
    logLevel: 'SILENT',
    tickSeconds: 3600,
    onWorkflowStart: (job, { jobEnder, jobs }) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (phase === 'blocking') {
        blockers.push(job);
        return;
      }
      // The workflow runs apart from its start, as an execution runs apart from StartExecution.
      void finish(job, jobs, jobEnder).catch((error: unknown) => {
        failure ??= error;
        allFinished();
      });
    },
  });
  const transition = runtime.parts.jobs.transition.bind(runtime.parts.jobs);
  runtime.parts.jobs.transition = async (jobId, from, to, change) => {
    const moved = await transition(jobId, from, to, change);
    if (phase === 'draining' && to === 'SCHEDULED') admissions.push(performance.now());
    return moved;
  };

  try {
    const intakeIdle = () => {
      const counts = runtime.intake.getAttributes();
      return counts.ApproximateNumberOfMessages === 0 && counts.ApproximateNumberOfMessagesNotVisible === 0;
    };
    await submitAll(runtime.url, SLOTS, 1);
    await until('the blockers to be admitted', () => blockers.length === SLOTS && intakeIdle());

    const fillStarted = performance.now();
    await submitAll(runtime.url, JOBS, SUBMITTERS);
    await until('the intake queue to settle', intakeIdle);
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    const filled = await poolState(runtime.url);
    if (filled.running !== SLOTS || filled.waiting !== JOBS) {
      throw new Error(`expected ${SLOTS} running and ${JOBS} waiting, found ${JSON.stringify(filled)}`);
    }

    // Open the pool: the blockers' workflows end now, all at once.
    phase = 'draining';
    const drainStarted = performance.now();
    const cpuStarted = { all: process.cpuUsage(), main: process.threadCpuUsage() };
    const threadsStarted = await threadCpuMs(process.pid);
    for (const job of blockers) {
      void finish(job, runtime.parts.jobs, runtime.parts.jobEnder).catch((error: unknown) => {
        failure ??= error;
        allFinished();
      });
    }
    const timeout = setTimeout(allFinished, 90_000);
    await done;
    clearTimeout(timeout);
    if (failure) throw failure;
    if (admissions.length !== JOBS || finished !== JOBS + SLOTS || releases.length !== JOBS + SLOTS) {
      throw new Error(
        `drain incomplete: ${admissions.length} admitted, ${finished} finished, ${releases.length} releases seen`,
      );
    }
    const drainSeconds = ((admissions.at(-1) ?? Number.NaN) - drainStarted) / 1000;
    const threadsEnded = await threadCpuMs(process.pid);
    const cpuAll = process.cpuUsage(cpuStarted.all);
    const cpuMain = process.threadCpuUsage(cpuStarted.main);
    const perJob = (micros: number) => micros / 1000 / JOBS;
    const mainCpuMs = perJob(cpuMain.user + cpuMain.system);
    const otherCpuMs = perJob(cpuAll.user + cpuAll.system) - mainCpuMs;
    // dynalite's thread (the one worker thread here), busy for this share of the drain.
    const dynaliteBusy =
      ((threadsEnded.get('worker') ?? 0) - (threadsStarted.get('worker') ?? 0)) / (drainSeconds * 1000);
    const callsPerJob = { ok: calls.ok / JOBS, conditionFailed: calls.conditionFailed / JOBS };
    callMs.sort((a, b) => a - b);
    await until('the intake queue to settle', intakeIdle);
    const after = await poolState(runtime.url);
    if (after.running !== 0 || after.waiting !== 0) {
      throw new Error(`pool not empty after the drain: ${JSON.stringify(after)}`);
    }
    if (maxRunning > SLOTS) throw new Error(`${maxRunning} jobs ran at once in a pool of ${SLOTS}`);

    // While draining the pool is full, so the k-th admission can only use the k-th slot given back.
    releases.sort((a, b) => a - b);
    const latencies = admissions.map((at, k) => at - (releases[k] ?? Number.NaN)).sort((a, b) => a - b);
    return {
      fillSeconds,
      drainSeconds,
      admissionsPerSecond: JOBS / drainSeconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
      maxRunning,
      leasesTakenAgain,
      mainCpuMs,
      otherCpuMs,
      dynaliteBusy,
      callsPerJob,
      requestP50: percentile(callMs, 50),
      requestP99: percentile(callMs, 99),
    };
  } finally {
    stopTiming();
    await runtime.stop();
  }
}

/**
 * Watches every request sent through a DynamoDB document client in this process: `onCall` for each
 * answer with its round-trip time, and `onRelease` with the job and the time of each lease release that commits — a
 * successful UpdateItem on a pool item that removes the job's entry of its leases map (DESIGN §4).
 */
function watchDocumentClient(
  onCall: (outcome: 'ok' | 'conditionFailed', tookMs: number) => void,
  onRelease: (jobId: string, at: number) => void,
): () => void {
  const prototype = DynamoDBDocumentClient.prototype as unknown as {
    send: (command: { input?: unknown }, ...rest: unknown[]) => Promise<unknown>;
  };
  const own = Object.hasOwn(prototype, 'send');
  const inherited = prototype.send;
  prototype.send = async function (this: unknown, command, ...rest) {
    let result: unknown;
    const sent = performance.now();
    try {
      result = await inherited.call(this, command, ...rest);
    } catch (error) {
      const refused = (error as Error).name === 'ConditionalCheckFailedException';
      onCall(refused ? 'conditionFailed' : 'ok', performance.now() - sent);
      throw error;
    }
    onCall('ok', performance.now() - sent);
    const input = command.input as
      | {
          UpdateExpression?: unknown;
          Key?: { pk?: unknown };
          ExpressionAttributeNames?: Record<string, string>;
        }
      | undefined;
    const jobId = input?.ExpressionAttributeNames?.['#job'];
    if (
      typeof input?.UpdateExpression === 'string' &&
      input.UpdateExpression.includes('REMOVE leases.#job') &&
      String(input.Key?.pk).startsWith('POOL#') &&
      jobId !== undefined
    ) {
      onRelease(jobId, performance.now());
    }
    return result;
  };
  return () => {
    if (own) prototype.send = inherited;
    else delete (prototype as { send?: unknown }).send;
  };
}

interface MemoryResult {
  readonly peakBytes: number;
  readonly rssBytes: number;
  readonly startRssBytes: number;
  readonly lastQueuePosition: number | undefined;
}

async function statusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match?.[1]) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

async function memoryWhileWaiting(): Promise<MemoryResult> {
  const runtime = await startRuntimeProcess(rawConfig);
  try {
    const startRssBytes = await statusBytes(runtime.pid, 'VmRSS');
    await submitAll(runtime.url, SLOTS, 1);
    await until(
      'the first jobs to be admitted',
      async () => (await poolState(runtime.url)).running === SLOTS,
    );
    const jobIds = await submitAll(runtime.url, JOBS, SUBMITTERS);
    await until('every job to wait', async () => (await poolState(runtime.url)).waiting === JOBS);
    // Let admission passes and timers settle, then read the high-water mark.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const state = await poolState(runtime.url);
    if (state.running !== SLOTS || state.waiting !== JOBS) {
      throw new Error(`expected ${SLOTS} running and ${JOBS} waiting, found ${JSON.stringify(state)}`);
    }
    const last = await fetch(`${runtime.url}/api/v1/spark/jobs/${jobIds.at(-1)}`);
    const { queuePosition } = (await last.json()) as { queuePosition?: number };
    return {
      peakBytes: await statusBytes(runtime.pid, 'VmHWM'),
      rssBytes: await statusBytes(runtime.pid, 'VmRSS'),
      startRssBytes,
      lastQueuePosition: queuePosition,
    };
  } finally {
    await runtime.stop();
  }
}

const met = (ok: boolean) => (ok ? 'met' : '**NOT met**');
const spread = (values: readonly number[], digits = 2) =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
const median = (values: readonly number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const mb = (bytes: number) => (bytes / 1e6).toFixed(0);

async function main(): Promise<void> {
  const load = os.loadavg()[0] ?? Number.NaN;
  for (let round = 1; round <= WARMUP_ROUNDS; round++) {
    const result = await drainRound();
    console.log(
      `warm-up round ${round} (not counted): ${result.admissionsPerSecond.toFixed(0)} admissions/s, release → admission p99 ${ms(result.p99)} ms`,
    );
  }
  const rounds: DrainResult[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const result = await drainRound();
    rounds.push(result);
    console.log(
      `round ${round}: filled ${JOBS} in ${result.fillSeconds.toFixed(2)} s; drained in ${result.drainSeconds.toFixed(2)} s = ${result.admissionsPerSecond.toFixed(0)} admissions/s; release → admission p50 ${ms(result.p50)} p99 ${ms(result.p99)} max ${ms(result.max)} ms; at most ${result.maxRunning} running; ${result.leasesTakenAgain} leases taken again for ended jobs and given back; per job: CPU ${result.mainCpuMs.toFixed(1)} ms main + ${result.otherCpuMs.toFixed(1)} ms other threads (dynalite's thread busy ${(100 * result.dynaliteBusy).toFixed(0)}% of the drain), ${result.callsPerJob.ok.toFixed(1)} DynamoDB requests + ${result.callsPerJob.conditionFailed.toFixed(1)} refused by their condition, round trip p50 ${ms(result.requestP50)} p99 ${ms(result.requestP99)} ms`,
    );
  }
  const memory = await memoryWhileWaiting();
  console.log(
    `memory: runtime process with ${SLOTS} running and ${JOBS} waiting: peak RSS (VmHWM) ${mib(memory.peakBytes)} MiB = ${mb(memory.peakBytes)} MB, RSS now ${mib(memory.rssBytes)} MiB, at start ${mib(memory.startRssBytes)} MiB; last job's queuePosition ${memory.lastQueuePosition}`,
  );

  const rates = rounds.map((r) => r.admissionsPerSecond);
  const p50s = rounds.map((r) => r.p50);
  const p99s = rounds.map((r) => r.p99);
  const worstRate = Math.min(...rates);
  const worstP99 = Math.max(...p99s);
  const ceiling = (os.cpus().length * 1000) / median(rounds.map((r) => r.mainCpuMs + r.otherCpuMs));
  const mainCeiling = 1000 / median(rounds.map((r) => r.mainCpuMs));
  const cpuPerJob = median(rounds.map((r) => r.mainCpuMs + r.otherCpuMs));
  const mainPerJob = median(rounds.map((r) => r.mainCpuMs));
  // Busy shares of the two threads that do the work, median over the rounds: the main thread
  // (everything but dynalite) at the drain's rate, and dynalite's thread as measured.
  const mainBusy = median(rounds.map((r) => (r.mainCpuMs * r.admissionsPerSecond) / 1000));
  const dynaliteBusy = median(rounds.map((r) => r.dynaliteBusy));
  const saturated = Math.max(mainBusy, dynaliteBusy) >= 0.9;
  const pct = (share: number) => `${(100 * share).toFixed(0)}%`;
  const reading = `A job cost ${cpuPerJob.toFixed(1)} ms of CPU (median over the rounds): ${median(rounds.map((r) => r.callsPerJob.ok + r.callsPerJob.conditionFailed)).toFixed(1)} DynamoDB requests, each paying for the SDK client, the trip to dynalite's thread and dynalite's own work. The machine's ${os.cpus().length} cores allow at most ${ceiling.toFixed(0)} jobs/s at that cost with nothing else running, and the main thread alone, at ${mainPerJob.toFixed(1)} ms a job, ${mainCeiling.toFixed(0)}/s. The drain reached ${median(rates).toFixed(0)}/s, with the main thread busy ${pct(mainBusy)} of the time and dynalite's ${pct(dynaliteBusy)}: ${
    saturated
      ? 'one of them is saturated, so the drain is bound by CPU.'
      : `neither is saturated, so the drain is bound by waiting: a slot given back waits for its wake to be delivered and for a pass — the pool item and the waiting index read, the heads that fit leased in one write, each moved to SCHEDULED — and then for its job's own moves, each request a round trip of about ${ms(median(rounds.map((r) => r.requestP50)))} ms (p50) with both threads this busy.`
  } Release → admission latency follows from the rate: slots given back wait for an admission pass to reach them.`;
  const verdicts = {
    rate: worstRate >= TARGET.admissionsPerSecond,
    latency: worstP99 <= TARGET.releaseToAdmitP99Ms,
    memory: memory.peakBytes <= TARGET.peakMB * 1e6,
  };
  console.log(
    `admissions/s ${spread(rates, 0)}, p99 ${spread(p99s)} ms over ${ROUNDS} rounds; targets: rate ${verdicts.rate ? 'met' : 'NOT met'}, latency ${verdicts.latency ? 'met' : 'NOT met'}, memory ${verdicts.memory ? 'met' : 'NOT met'}`,
  );

  if (VARIANT) {
    console.log(
      `a variant (${OWNERS} owners, maxRunningPerOwner ${CAP ?? 'none'}): docs/benchmarks.md not written`,
    );
    return;
  }
  // A run of bench:admission:compare, which writes its own section.
  if (process.env.BENCH_WRITE_DOCS === '0') return;
  await writeBenchmarkSection(
    'admission',
    `## Admission (\`npm run bench:admission\`)

Machine: ${machineLine()}; 1-minute load average ${load.toFixed(2)} at start; ${sourceVersion()}; run ${new Date().toISOString()}.

**Method.** One pool of ${SLOTS} job slots (\`maxConcurrentJobs: ${SLOTS}\`, \`maxQueueSize: ${JOBS}\`; cores and
memory large enough that the job count is the limit). Each round starts a fresh \`startLocalRuntime\` in the
benchmark process (dynalite in memory on its worker thread, the HTTP API, the intake queue with its event
source mapping, the admission handler) and fills the pool for real: ${SLOTS} blocker jobs are admitted and their
workflows held, then ${JOBS} jobs are submitted over HTTP by ${SUBMITTERS} clients and all wait (checked through
\`GET /api/v1/spark/pools\`). The benchmark then ends the blockers. Every later workflow start (the
\`onWorkflowStart\` hook) ends at once, apart from the start call as an execution runs apart from
\`StartExecution\`: SCHEDULED → RUNNING, then \`jobEnder.finish(jobId, 'SUCCEEDED')\`, which gives the lease back
and sends the wake. Admission passes on those wakes are all that moves the queue (the tick is set to an hour).
${WARMUP_ROUNDS} round${WARMUP_ROUNDS === 1 ? ' is' : 's are'} run the same way first and not counted: the first drain in a process runs the
admission and SDK code before V8 has optimized it, as a cold Lambda does and a busy one does not. Every round,
counted or not, starts its runtime afresh, dynalite's thread included.

Timed in the benchmark process: a release when the pool item's conditional update that removes the job's
lease committed, whoever made it (the job ender, or admission giving back the lease of a job it finds already
ended), seen on the DynamoDB document client all of them write through; an admission when its QUEUED →
SCHEDULED move (the conditional update and its history item) completed. While draining the pool is full,
so the k-th admission can only use the k-th slot given back: release → next admission latency pairs them in
order. Admissions per second = ${JOBS} / (last SCHEDULED − the
moment the blockers were let go). Each round checks that no more than ${SLOTS} jobs ran at once, that all
${JOBS + SLOTS} jobs ended SUCCEEDED, and that the pool ends with nothing running or waiting.

**Memory** is measured on the runtime alone, in a process of its own (\`startLocalRuntime\` with the same pool from
a \`LIBRA_CONFIG\` file and workflows that never end, so ${SLOTS} jobs keep their leases), with ${JOBS} more jobs
submitted over HTTP from the benchmark process and waiting: the process's resident-set high-water mark
(\`VmHWM\` in \`/proc/<pid>/status\`), dynalite's thread included, over its whole life.

| round | fill ${JOBS} (s) | drain (s) | admissions/s | release → admission p50 ms | p99 ms | max ms | CPU per job, main + other threads ms | DynamoDB requests per job (+ refused) | request round trip p50 / p99 ms | leases taken again |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rounds
  .map(
    (r, i) =>
      `| ${i + 1} | ${r.fillSeconds.toFixed(2)} | ${r.drainSeconds.toFixed(2)} | ${r.admissionsPerSecond.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${r.mainCpuMs.toFixed(1)} + ${r.otherCpuMs.toFixed(1)} (dynalite busy ${(100 * r.dynaliteBusy).toFixed(0)}%) | ${r.callsPerJob.ok.toFixed(1)} (+ ${r.callsPerJob.conditionFailed.toFixed(1)}) | ${ms(r.requestP50)} / ${ms(r.requestP99)} | ${r.leasesTakenAgain} |`,
  )
  .join('\n')}

CPU per job is this process's while draining, over the jobs admitted: the main thread (admission, the
jobEnder, the SDK clients, the benchmark's hook) and the other threads (dynalite's worker, V8's GC and
compiler helpers); "dynalite busy" is the share of the drain's wall-clock time dynalite's thread ran (from
\`/proc/self/task\`, 10 ms ticks): under 100%, the local DynamoDB is not what the drain waits on. DynamoDB requests per job count every request sent while draining — admission, the
workflow's moves, the job ender — and, apart, those refused by their condition (such as two admission passes
racing for the same head). "Leases taken again": a pass working from a page of waiting jobs read before
another pass admitted one of them leased it again after that job had ended, and gave it back.

Runtime process with ${SLOTS} running and ${JOBS} waiting: peak RSS (VmHWM) **${mib(memory.peakBytes)} MiB** (${mb(memory.peakBytes)} MB);
RSS ${mib(memory.rssBytes)} MiB at the end, ${mib(memory.startRssBytes)} MiB once started; the job whose submit was answered last reports
\`queuePosition\` ${memory.lastQueuePosition} of ${JOBS}.

**Reading.** ${reading}

| target | result over ${ROUNDS} rounds (worst) | |
|---|---|---|
| ≥ ${TARGET.admissionsPerSecond} admissions/s | ${spread(rates, 0)}, median ${median(rates).toFixed(0)} (${worstRate.toFixed(0)}) | ${met(verdicts.rate)} |
| release → admission p99 ≤ ${TARGET.releaseToAdmitP99Ms} ms | p99 ${spread(p99s)} ms (${ms(worstP99)}); p50 ${spread(p50s)} ms | ${met(verdicts.latency)} |
| peak memory ≤ ${TARGET.peakMB} MB | ${mb(memory.peakBytes)} MB | ${met(verdicts.memory)} |`,
  );
}

await main();
