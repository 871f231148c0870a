import { randomInt } from 'node:crypto';
import { appendFile, mkdir, open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Progress, stepsFraction } from '#core/progress.ts';
import { planRun, type RunPlan } from './plan.ts';
import { runProcess, signalGroup } from './process.ts';
import type { ProcessLog } from './process-log.ts';
import { runSql, type SqlProgress } from './sql.ts';
import {
  isTerminal,
  type LocalPreview,
  type LocalRun,
  type LocalRunRequest,
  type LocalRunState,
} from './types.ts';
import { InProcessMeter, ProcessMeter, type RunMeasure } from './usage.ts';

export interface LocalSparkEngineOptions {
  /** Runs write under `<dataDir>/runs/<jobId>/<attempt>-<runId>/`. */
  readonly dataDir: string;
  /** With it, python and JAR jobs go to `$SPARK_HOME/bin/spark-submit`; the runtime passes `process.env.SPARK_HOME`. */
  readonly sparkHome?: string;
  /** The interpreter for python jobs without Spark; `python3` from PATH by default. */
  readonly python?: string;
  readonly now?: () => Date;
  /** How long a stopped process group gets between SIGTERM and SIGKILL; 5 s by default. */
  readonly killGraceMs?: number;
  /**
   * SQL runs at once; the rest wait in PENDING. Each running query holds a libuv pool thread (4 by
   * default, shared with every fs call of the process), so the default of 2 leaves the rest free.
   */
  readonly maxConcurrentSql?: number;
  /** How long one minute of executionTimeoutMinutes lasts. Tests shorten it; leave it alone otherwise. */
  readonly minuteMs?: number;
  /** Where each process the engine starts, and its end, is recorded, so a later runtime can stop what a crash left running. */
  readonly processLog?: ProcessLog;
  /**
   * How far each SQL run has got, while it runs: at most every `progressEveryMs` (1 s) and as each
   * statement ends. Python runs report themselves, through runners/libra_progress.py.
   */
  readonly onProgress?: (run: LocalRun, progress: Progress) => void | Promise<void>;
  readonly progressEveryMs?: number;
  /**
   * The local DynamoDB's URL: a python run whose request names where to report progress (as
   * admission does on AWS) is told to send its reports there.
   */
  readonly progressEndpoint?: string;
}

export type LocalEngineErrorCode = 'ResourceNotFound' | 'Validation' | 'Conflict' | 'Closed';

/** Named like the EMR exceptions the workflow binding maps them to. */
export class LocalEngineError extends Error {
  readonly code: LocalEngineErrorCode;
  constructor(code: LocalEngineErrorCode, message: string) {
    super(message);
    this.name = 'LocalEngineError';
    this.code = code;
  }
}

/** EMR Serverless's default execution timeout. */
const DEFAULT_TIMEOUT_MINUTES = 12 * 60;
/** setTimeout fires at once beyond this (about 24.8 days), so longer timeouts are cut to it. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** What stateDetails keeps of a failed process's stderr: its last lines, within this many characters. */
const TAIL_LINES = 10;
const TAIL_CHARS = 1000;
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const JOB_TYPES: ReadonlySet<string> = new Set(['sql', 'python', 'jar']);

type StopReason = 'cancel' | 'timeout';

interface Entry {
  readonly run: LocalRun;
  readonly request: LocalRunRequest;
  /** Aborted with a StopReason by cancel() or the execution timeout. */
  readonly controller: AbortController;
  readonly done: Promise<LocalRun>;
  readonly resolveDone: (run: LocalRun) => void;
  /** The work is over and the outcome decided; only its files are still being written. */
  ending: boolean;
  timeoutTimer?: ReturnType<typeof setTimeout>;
  /** performance.now() when the run became RUNNING. */
  runningSince?: number;
  /** What the work used, once it is over. */
  measured?: RunMeasure;
}

type Outcome = {
  readonly state: 'SUCCESS' | 'FAILED';
  readonly stateDetails?: string;
  readonly unavailable?: boolean;
  readonly exitCode?: number | null;
  readonly preview?: LocalPreview;
};

/**
 * The local stand-in for EMR Serverless: SQL on DuckDB, python on python3 (or spark-submit with
 * SPARK_HOME), JARs on spark-submit only. Runs are kept in memory for the life of the engine; what
 * they print stays on disk in their output directory.
 */
export class LocalSparkEngine {
  readonly #dataDir: string;
  readonly #sparkHome: string | undefined;
  readonly #python: string;
  readonly #now: () => Date;
  readonly #killGraceMs: number;
  readonly #minuteMs: number;
  readonly #sqlSlots: Slots;
  readonly #processLog: ProcessLog | undefined;
  readonly #onProgress: LocalSparkEngineOptions['onProgress'];
  readonly #progressEveryMs: number | undefined;
  readonly #progressEndpoint: string | undefined;
  readonly #entries = new Map<string, Entry>();
  readonly #byToken = new Map<string, Entry>();
  readonly #listeners = new Set<(run: LocalRun) => void>();
  #closed = false;

  constructor(options: LocalSparkEngineOptions) {
    this.#dataDir = options.dataDir;
    this.#sparkHome = options.sparkHome === '' ? undefined : options.sparkHome;
    this.#python = options.python ?? 'python3';
    this.#now = options.now ?? (() => new Date());
    this.#killGraceMs = options.killGraceMs ?? 5000;
    this.#minuteMs = options.minuteMs ?? 60_000;
    this.#sqlSlots = new Slots(options.maxConcurrentSql ?? 2);
    this.#processLog = options.processLog;
    this.#onProgress = options.onProgress;
    this.#progressEveryMs = options.progressEveryMs;
    this.#progressEndpoint = options.progressEndpoint;
    // If the process exits without close(), its detached children would outlive it.
    process.on('exit', this.#killAllNow);
  }

  /** Returns at once with the run in PENDING; idempotent per clientToken, like EMR's StartJobRun. */
  start(request: LocalRunRequest): LocalRun {
    if (this.#closed) throw new LocalEngineError('Closed', 'The local engine is closed');
    validate(request);
    const existing = this.#byToken.get(request.clientToken);
    if (existing !== undefined) {
      if (existing.run.jobId !== request.jobId || existing.run.attempt !== request.attempt) {
        throw new LocalEngineError(
          'Conflict',
          `clientToken ${request.clientToken} already started run ${existing.run.runId} of job ${existing.run.jobId} attempt ${existing.run.attempt}`,
        );
      }
      return existing.run;
    }
    const runId = newRunId();
    const run: LocalRun = {
      runId,
      jobId: request.jobId,
      attempt: request.attempt,
      clientToken: request.clientToken,
      state: 'PENDING',
      startedAt: this.#now().toISOString(),
      outputDir: join(this.#dataDir, 'runs', request.jobId, `${request.attempt}-${runId}`),
    };
    let resolveDone: (run: LocalRun) => void = () => {};
    const done = new Promise<LocalRun>((resolve) => {
      resolveDone = resolve;
    });
    const entry: Entry = {
      run,
      request,
      controller: new AbortController(),
      done,
      resolveDone,
      ending: false,
    };
    this.#entries.set(runId, entry);
    this.#byToken.set(request.clientToken, entry);
    this.#emit(run);
    void this.#execute(entry);
    return run;
  }

  /** Resolves with the run once it is SUCCESS, FAILED or CANCELLED. */
  async wait(runId: string): Promise<LocalRun> {
    return this.#entry(runId).done;
  }

  /**
   * Stops the run and resolves once it is over: true if it ended CANCELLED, false if it had
   * already ended (or ended otherwise, e.g. by its timeout, before the cancel took hold). By then
   * a run's process has exited and whatever else was left in its group has been sent SIGKILL.
   */
  async cancel(runId: string): Promise<boolean> {
    const entry = this.#entry(runId);
    if (isTerminal(entry.run.state) || entry.ending) {
      await entry.done;
      return false;
    }
    if (!entry.controller.signal.aborted) entry.controller.abort('cancel' satisfies StopReason);
    const run = await entry.done;
    return run.state === 'CANCELLED';
  }

  get(runId: string): LocalRun | undefined {
    return this.#entries.get(runId)?.run;
  }

  /**
   * Where the run's files are: those of this engine's runs, and those an earlier engine on the
   * same data directory left on disk (`runs/<jobId>/<attempt>-<runId>/`). Undefined for ids that
   * could not name a run, so nothing from outside can reach another folder.
   */
  async outputDirOf(jobId: string, runId: string): Promise<string | undefined> {
    const run = this.get(runId);
    if (run !== undefined) return run.jobId === jobId ? run.outputDir : undefined;
    if (!JOB_ID.test(jobId) || !RUN_ID.test(runId)) return undefined;
    const jobDir = join(this.#dataDir, 'runs', jobId);
    const names = await readdir(jobDir).catch(() => [] as string[]);
    const name = names.find((entry) => /^\d+-/.test(entry) && entry.slice(entry.indexOf('-') + 1) === runId);
    return name === undefined ? undefined : join(jobDir, name);
  }

  /** Every run of the job, by attempt, oldest first. */
  runsOf(jobId: string): LocalRun[] {
    return [...this.#entries.values()]
      .map((entry) => entry.run)
      .filter((run) => run.jobId === jobId)
      .sort((a, b) => a.attempt - b.attempt);
  }

  /**
   * Like EMR's job-run state-change events: each listener gets a copy of the run at every state it
   * reaches (PENDING, RUNNING, then one terminal state), in order, after the call that caused it.
   */
  onStateChange(listener: (run: LocalRun) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Cancels what still runs and resolves once every run has ended; start() refuses from then on.
   * A run still there `graceMs` after its SIGTERM (by default the engine's `killGraceMs`) gets SIGKILL.
   */
  async close(graceMs = this.#killGraceMs): Promise<void> {
    this.#closed = true;
    const open = [...this.#entries.values()].filter((entry) => !isTerminal(entry.run.state));
    const kill = graceMs < this.#killGraceMs ? setTimeout(this.#killAllNow, graceMs) : undefined;
    await Promise.all(open.map((entry) => this.cancel(entry.run.runId)));
    clearTimeout(kill);
    process.off('exit', this.#killAllNow);
  }

  #entry(runId: string): Entry {
    const entry = this.#entries.get(runId);
    if (entry === undefined) throw new LocalEngineError('ResourceNotFound', `No local job run ${runId}`);
    return entry;
  }

  async #execute(entry: Entry): Promise<void> {
    let outcome: Outcome | undefined;
    try {
      outcome = await this.#work(entry);
    } catch (error) {
      outcome = { state: 'FAILED', stateDetails: `Local engine error: ${(error as Error).message}` };
    }
    await this.#end(entry, outcome);
  }

  /** Runs the request; undefined when a stop came before the work began. */
  async #work(entry: Entry): Promise<Outcome | undefined> {
    const { run, request } = entry;
    const signal = entry.controller.signal;
    // Queue for a SQL slot now, before anything is awaited, so SQL runs get slots in the order
    // they were started whatever their file writes take. `leave` gives the place up if unused.
    const leave = new AbortController();
    const slot =
      request.jobType === 'sql' ? this.#sqlSlots.acquire(AbortSignal.any([signal, leave.signal])) : undefined;
    try {
      const stdoutPath = join(run.outputDir, 'stdout.txt');
      const stderrPath = join(run.outputDir, 'stderr.txt');
      await mkdir(run.outputDir, { recursive: true });
      await Promise.all([writeFile(stdoutPath, ''), writeFile(stderrPath, '')]);
      const plan = await planRun(request, {
        outputDir: run.outputDir,
        sparkHome: this.#sparkHome,
        python: this.#python,
        progressEndpoint: this.#progressEndpoint,
      });
      if (plan.kind === 'fail')
        return { state: 'FAILED', stateDetails: plan.details, unavailable: plan.unavailable };
      if (plan.kind === 'sql') {
        if ((await slot) === undefined || signal.aborted) return undefined;
        this.#running(entry);
        const meter = new InProcessMeter();
        let lastReport: Promise<void> | undefined;
        const result = await runSql({
          sql: plan.sql,
          tempDirectory: join(run.outputDir, 'duckdb-tmp'),
          write: (text) => appendFile(stdoutPath, text),
          signal,
          ...this.#sqlProgress(entry, (report) => {
            lastReport = report;
          }),
        }).finally(() => {
          entry.measured = meter.stop();
        });
        // The run ends with its last progress recorded, so its final state shows it.
        await lastReport;
        if (!result.ok) return { state: 'FAILED', stateDetails: result.message };
        return result.preview === undefined
          ? { state: 'SUCCESS' }
          : { state: 'SUCCESS', preview: result.preview };
      }
      return await this.#runProcess(entry, plan, stdoutPath, stderrPath);
    } finally {
      leave.abort();
      void slot?.then((release) => release?.());
    }
  }

  async #runProcess(
    entry: Entry,
    plan: Extract<RunPlan, { kind: 'process' }>,
    stdoutPath: string,
    stderrPath: string,
  ): Promise<Outcome | undefined> {
    const { run } = entry;
    const signal = entry.controller.signal;
    if (signal.aborted) return undefined;
    this.#running(entry);
    let meter: ProcessMeter | undefined;
    const result = await runProcess({
      command: plan.command,
      args: plan.args,
      cwd: run.outputDir,
      env: plan.env,
      stdoutPath,
      stderrPath,
      signal,
      killGraceMs: this.#killGraceMs,
      onSpawn: (pid) => {
        run.pid = pid;
        meter = new ProcessMeter(pid);
        this.#processLog?.started({ pid, jobId: run.jobId, attempt: run.attempt, runId: run.runId });
      },
    }).finally(() => {
      if (meter !== undefined) entry.measured = meter.stop();
      // By now the process has exited and the rest of its group has been sent SIGKILL.
      if (run.pid !== undefined) this.#processLog?.ended({ pid: run.pid, runId: run.runId });
    });
    if (result.kind === 'not-started') {
      const missing = result.code === 'ENOENT' ? 'was not found' : 'could not be started';
      return {
        state: 'FAILED',
        unavailable: true,
        stateDetails: `${plan.program} ${missing} (${plan.command}): ${result.message}`,
      };
    }
    if (result.exitCode === 0) return { state: 'SUCCESS', exitCode: 0 };
    const how =
      result.exitCode === null ? `Killed by ${result.signal}` : `Exited with code ${result.exitCode}`;
    const tail = await stderrTail(stderrPath);
    return {
      state: 'FAILED',
      exitCode: result.exitCode,
      stateDetails: tail === '' ? `${how}; stderr is empty` : `${how}; last lines of stderr:\n${tail}`,
    };
  }

  #sqlProgress(
    entry: Entry,
    pending: (report: Promise<void>) => void,
  ): Pick<Parameters<typeof runSql>[0], 'onProgress' | 'progressEveryMs'> {
    const onProgress = this.#onProgress;
    if (onProgress === undefined) return {};
    const failed = (error: unknown) =>
      console.error(`local engine: a progress listener failed on run ${entry.run.runId}:`, error);
    return {
      onProgress: (sql) => {
        try {
          const report = onProgress(entry.run, sqlProgress(sql, this.#now()));
          if (report instanceof Promise) pending(report.catch(failed));
        } catch (error) {
          failed(error);
        }
      },
      ...(this.#progressEveryMs !== undefined && { progressEveryMs: this.#progressEveryMs }),
    };
  }

  #running(entry: Entry): void {
    entry.run.state = 'RUNNING';
    entry.runningSince = performance.now();
    const minutes = entry.request.executionTimeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES;
    if (minutes > 0) {
      const ms = Math.min(minutes * this.#minuteMs, MAX_TIMER_MS);
      entry.timeoutTimer = setTimeout(() => {
        if (!entry.controller.signal.aborted) entry.controller.abort('timeout' satisfies StopReason);
      }, ms);
      // A run in progress keeps the process alive by itself; the timer need not.
      entry.timeoutTimer.unref();
    }
    this.#emit(entry.run);
  }

  /**
   * Decides the final state at once (a stop that came first wins over how the work ended), writes
   * what the run leaves behind, and only then makes the state visible, so whoever waits finds the
   * files in place. `outcome` is undefined when the work never began because it was stopped.
   */
  async #end(entry: Entry, outcome: Outcome | undefined): Promise<void> {
    entry.ending = true;
    if (entry.timeoutTimer !== undefined) clearTimeout(entry.timeoutTimer);
    const { run, request } = entry;
    const signal = entry.controller.signal;
    const stop: StopReason | undefined = signal.aborted ? (signal.reason as StopReason) : undefined;
    let final: Omit<Outcome, 'state'> & { readonly state: LocalRunState; readonly timedOut?: boolean };
    if (stop === 'cancel') {
      final = { ...pickExit(outcome), state: 'CANCELLED', stateDetails: 'Job run was cancelled' };
    } else if (stop === 'timeout') {
      const minutes = request.executionTimeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES;
      final = {
        ...pickExit(outcome),
        state: 'FAILED',
        timedOut: true,
        stateDetails: `Job run timed out: it ran longer than its execution timeout of ${minutes} minutes`,
      };
    } else {
      final = outcome ?? {
        state: 'FAILED',
        stateDetails: 'Local engine error: the run ended with no outcome',
      };
    }
    try {
      const stderrPath = join(run.outputDir, 'stderr.txt');
      if (final.state === 'SUCCESS' && final.preview !== undefined) {
        await writeFile(join(run.outputDir, 'result.json'), `${JSON.stringify(final.preview, null, 2)}\n`);
      }
      // A process wrote its own stderr; every other failure is explained there by the engine.
      if (final.state !== 'SUCCESS' && (final.exitCode === undefined || stop !== undefined)) {
        await appendFile(stderrPath, `${final.stateDetails}\n`);
      }
    } catch {
      // The directory may be what failed to appear; the state still says why.
    }
    run.state = final.state;
    run.endedAt = this.#now().toISOString();
    if (final.stateDetails !== undefined) run.stateDetails = final.stateDetails;
    if (final.unavailable === true) run.unavailable = true;
    if (final.timedOut === true) run.timedOut = true;
    if (final.exitCode !== undefined) run.exitCode = final.exitCode;
    if (final.preview !== undefined) run.preview = final.preview;
    if (entry.runningSince !== undefined) {
      const measured = entry.measured ?? { cpuSeconds: 0, peakMemoryMb: 0 };
      run.measure = { ...measured, durationSeconds: (performance.now() - entry.runningSince) / 1000 };
    }
    entry.resolveDone(run);
    this.#emit(run);
  }

  #emit(run: LocalRun): void {
    // A copy, so each listener sees the run as it was at this state, not as it is when it looks.
    const snapshot: LocalRun = { ...run };
    for (const listener of this.#listeners) {
      queueMicrotask(() => {
        try {
          listener(snapshot);
        } catch (error) {
          console.error(`local engine: a state-change listener failed on run ${run.runId}:`, error);
        }
      });
    }
  }

  /** Synchronous, for process 'exit': no time is left to wait for a graceful stop. */
  readonly #killAllNow = (): void => {
    for (const entry of this.#entries.values()) {
      if (entry.run.pid !== undefined && !isTerminal(entry.run.state)) signalGroup(entry.run.pid, 'SIGKILL');
    }
  };
}

/**
 * A SQL run's progress as the API shows it: statements as stages, DuckDB's rows of the running
 * statement as tasks, and the fraction of statements done with the running one's share.
 */
export function sqlProgress(sql: SqlProgress, now: Date): Progress {
  const fraction =
    sql.statementFraction !== undefined
      ? stepsFraction(sql.statementsDone, sql.statements, sql.statementFraction)
      : sql.statementsDone >= sql.statements
        ? 1
        : undefined;
  return {
    stagesDone: sql.statementsDone,
    stagesTotal: sql.statements,
    tasksDone: Math.min(sql.rowsProcessed, sql.rowsTotal),
    tasksTotal: sql.rowsTotal,
    ...(fraction !== undefined && { fraction }),
    updatedAt: now.toISOString(),
  };
}

/** A failed or stopped process keeps its exit code on the run; nothing else of the outcome survives a stop. */
function pickExit(outcome: Outcome | undefined): { exitCode?: number | null } {
  return outcome?.exitCode === undefined ? {} : { exitCode: outcome.exitCode };
}

function validate(request: LocalRunRequest): void {
  const fail = (message: string) => {
    throw new LocalEngineError('Validation', message);
  };
  if (typeof request.jobId !== 'string' || !JOB_ID.test(request.jobId)) {
    // It names a directory, so nothing that could climb out of dataDir.
    fail(`jobId must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  if (!Number.isSafeInteger(request.attempt) || request.attempt < 0)
    fail('attempt must be a whole number ≥ 0');
  if (typeof request.clientToken !== 'string' || request.clientToken === '')
    fail('clientToken must not be empty');
  if (!JOB_TYPES.has(request.jobType))
    fail(`jobType must be sql, python or jar, not ${String(request.jobType)}`);
  const timeout = request.executionTimeoutMinutes;
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout >= 0)) {
    fail('executionTimeoutMinutes must be a number ≥ 0');
  }
}

const RUN_ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const RUN_ID = /^[0-9a-z]{16}$/;

function newRunId(): string {
  let id = '';
  for (let index = 0; index < 16; index += 1) id += RUN_ID_ALPHABET[randomInt(RUN_ID_ALPHABET.length)];
  return id;
}

/** The last lines of a file that may be large: only its end is read. */
async function stderrTail(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 8 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    let lines = buffer.toString('utf8').split(/\r?\n/);
    // The first line may be cut in the middle (even in a character) when the file was longer.
    if (length < size) lines = lines.slice(1);
    const tail = lines
      .filter((line) => line.trim() !== '')
      .slice(-TAIL_LINES)
      .join('\n');
    return tail.length > TAIL_CHARS ? `…${tail.slice(-TAIL_CHARS)}` : tail;
  } finally {
    await handle.close();
  }
}

/** A counting semaphore whose waiters can give up when their run is stopped. */
class Slots {
  #free: number;
  readonly #waiters: Array<() => void> = [];

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new RangeError('maxConcurrentSql must be a whole number ≥ 1');
    this.#free = size;
  }

  /** A release function once a slot is held, or undefined if the signal aborted first. */
  acquire(signal: AbortSignal): Promise<(() => void) | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    if (this.#free > 0) {
      this.#free -= 1;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => {
      const grant = () => {
        signal.removeEventListener('abort', giveUp);
        resolve(this.#releaser());
      };
      const giveUp = () => {
        const index = this.#waiters.indexOf(grant);
        if (index >= 0) this.#waiters.splice(index, 1);
        resolve(undefined);
      };
      this.#waiters.push(grant);
      signal.addEventListener('abort', giveUp, { once: true });
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next === undefined) this.#free += 1;
      else next();
    };
  }
}
