import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  JAR_NEEDS_SPARK,
  LocalEngineError,
  type LocalRun,
  type LocalRunRequest,
  LocalSparkEngine,
} from '../../local/engine/index.ts';
import { membersOf } from '../support/processes.ts';

/** Prints "started" once running, then sleeps until killed. */
const ENDLESS_PYTHON = 'import time\nprint("started")\nwhile True:\n    time.sleep(0.05)\n';

let dataDir: string;
let engine: LocalSparkEngine;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'libra-engine-process-'));
  engine = new LocalSparkEngine({ dataDir });
});

afterEach(async () => {
  await engine.close();
  await rm(dataDir, { recursive: true, force: true });
});

let jobCount = 0;
function python(code: string | undefined, overrides: Partial<LocalRunRequest> = {}): LocalRunRequest {
  jobCount += 1;
  const jobId = `py-${jobCount}`;
  return {
    jobId,
    attempt: 0,
    clientToken: `${jobId}-0`,
    jobType: 'python',
    ...(code !== undefined && { code }),
    sparkConf: {},
    ...overrides,
  };
}

const output = (run: LocalRun, file: string) => readFile(join(run.outputDir, file), 'utf8');

async function untilOutput(run: LocalRun, text: string): Promise<string> {
  for (;;) {
    const stdout = await output(run, 'stdout.txt').catch(() => '');
    if (stdout.includes(text)) return stdout;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** kill(pid, 0) sends nothing; it only asks whether the process (or, with -pgid, the group) exists. */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ESRCH');
    return false;
  }
}

/**
 * No process of the run's group is left running; true too if it never got as far as a process.
 * The engine ends a run once its leader exited and the rest of its group was sent SIGKILL; a member
 * the kill caught (python3's launcher here is a pyenv shim with children of its own) may still be
 * tearing down for a moment, or stay a zombie until PID 1 reaps it, so this waits a little for it.
 */
async function expectGroupGone(run: LocalRun): Promise<void> {
  if (run.pid === undefined) return;
  const pgid = run.pid;
  await vi.waitFor(() => expect(membersOf([pgid])).toEqual([]), { timeout: 5_000, interval: 50 });
}

/**
 * A killed grandchild is reparented to PID 1 and stays a zombie until PID 1 reaps it; some
 * container inits never do. Either way it no longer runs, which is what this checks.
 */
async function notRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return true;
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

describe('python jobs without SPARK_HOME', () => {
  it('runs the seed job to SUCCESS with exactly its output', async () => {
    const run = await engine.wait(engine.start(python('print("Hello from async Spark!")')).runId);
    expect(run).toMatchObject({ state: 'SUCCESS', exitCode: 0 });
    expect(await output(run, 'stdout.txt')).toBe('Hello from async Spark!\n');
    expect(await output(run, 'stderr.txt')).toBe('');
    expect(await output(run, 'main.py')).toBe('print("Hello from async Spark!")');
  });

  it('fails an exception with the last lines of stderr in stateDetails', async () => {
    const run = await engine.wait(
      engine.start(python('def f():\n    raise ValueError("boom")\nf()\n')).runId,
    );
    expect(run).toMatchObject({ state: 'FAILED', exitCode: 1 });
    expect(run.unavailable).toBeUndefined();
    expect(run.stateDetails).toMatch(/^Exited with code 1; last lines of stderr:\nTraceback/);
    expect(run.stateDetails).toMatch(/ValueError: boom$/);
  });

  it('fails a non-zero exit with its code, and keeps only the end of a long stderr', async () => {
    const code = 'import sys\nfor i in range(5000):\n    print("noise", i, file=sys.stderr)\nsys.exit(3)\n';
    const run = await engine.wait(engine.start(python(code)).runId);
    expect(run).toMatchObject({ state: 'FAILED', exitCode: 3 });
    expect(run.stateDetails?.split('\n').slice(1)).toEqual(
      Array.from({ length: 10 }, (_, index) => `noise ${4990 + index}`),
    );
    expect((await output(run, 'stderr.txt')).split('\n')).toHaveLength(5001);
  });

  it('runs a script given as a file:// URL or an absolute path, with its arguments as argv', async () => {
    const script = join(dataDir, 'args.py');
    await writeFile(script, 'import json, sys\nprint(json.dumps(sys.argv[1:]))\n');
    const args = ['plain', '$(touch pwned)', '; rm -rf /', '`id`', 'with space'];
    for (const entryPoint of [pathToFileURL(script).href, script]) {
      const run = await engine.wait(
        engine.start(python(undefined, { entryPoint, entryPointArguments: args })).runId,
      );
      expect(run.state).toBe('SUCCESS');
      expect(JSON.parse(await output(run, 'stdout.txt'))).toEqual(args);
      await expect(stat(join(run.outputDir, 'pwned'))).rejects.toThrow();
    }
  });

  it('cancels a running script: CANCELLED, and its process group is gone', async () => {
    const run = engine.start(python(ENDLESS_PYTHON));
    await untilOutput(run, 'started');
    const pid = run.pid;
    if (pid === undefined) throw new Error('a running python job has a pid');
    expect(exists(-pid)).toBe(true);

    expect(await engine.cancel(run.runId)).toBe(true);
    expect(run).toMatchObject({ state: 'CANCELLED', stateDetails: 'Job run was cancelled' });
    expect(exists(pid)).toBe(false);
    expect(exists(-pid)).toBe(false);
    expect(await engine.cancel(run.runId)).toBe(false);
  });

  it('cancel reaches the processes a script started', async () => {
    const code =
      'import subprocess, time\nchild = subprocess.Popen(["sleep", "300"])\nprint("child", child.pid)\n' +
      'while True:\n    time.sleep(0.05)\n';
    const run = engine.start(python(code));
    const stdout = await untilOutput(run, 'child ');
    const childPid = Number(/child (\d+)/.exec(stdout)?.[1]);
    expect(await notRunning(childPid)).toBe(false);

    expect(await engine.cancel(run.runId)).toBe(true);
    // SIGKILL has been sent to the group when cancel resolves; the kernel finishes it a moment later.
    await vi.waitFor(async () => expect(await notRunning(childPid)).toBe(true), {
      timeout: 5000,
      interval: 20,
    });
  });

  it('kills a script that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const stubborn = new LocalSparkEngine({ dataDir, killGraceMs: 200 });
    try {
      const code = `import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n${ENDLESS_PYTHON}`;
      const run = stubborn.start(python(code));
      await untilOutput(run, 'started');
      expect(await stubborn.cancel(run.runId)).toBe(true);
      expect(run).toMatchObject({ state: 'CANCELLED', exitCode: null });
      await expectGroupGone(run);
    } finally {
      await stubborn.close();
    }
  });

  it('close(graceMs) kills a script that ignores SIGTERM after that grace, not the engine’s longer one', async () => {
    const patient = new LocalSparkEngine({ dataDir, killGraceMs: 60_000 });
    const code = `import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n${ENDLESS_PYTHON}`;
    const run = patient.start(python(code));
    await untilOutput(run, 'started');
    const began = Date.now();
    await patient.close(200);
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(run).toMatchObject({ state: 'CANCELLED', exitCode: null });
    await expectGroupGone(run);
  });

  it('stops a script at its execution timeout: FAILED, timedOut, process group gone', async () => {
    const fast = new LocalSparkEngine({ dataDir, minuteMs: 300 });
    try {
      const run = await fast.wait(fast.start(python(ENDLESS_PYTHON, { executionTimeoutMinutes: 1 })).runId);
      expect(run).toMatchObject({ state: 'FAILED', timedOut: true, exitCode: null });
      expect(run.stateDetails).toBe(
        'Job run timed out: it ran longer than its execution timeout of 1 minutes',
      );
      expect(await output(run, 'stderr.txt')).toContain('execution timeout');
      await expectGroupGone(run);
    } finally {
      await fast.close();
    }
  });

  it('executionTimeoutMinutes 0 means no timeout, as in EMR', async () => {
    const fast = new LocalSparkEngine({ dataDir, minuteMs: 1 });
    try {
      const code = 'import time\ntime.sleep(0.3)\nprint("done")\n';
      const run = await fast.wait(fast.start(python(code, { executionTimeoutMinutes: 0 })).runId);
      expect(run.state).toBe('SUCCESS');
    } finally {
      await fast.close();
    }
  });

  it('close() stops what runs and leaves no process behind', async () => {
    const runs = [engine.start(python(ENDLESS_PYTHON)), engine.start(python(ENDLESS_PYTHON))];
    await Promise.all(runs.map((run) => untilOutput(run, 'started')));
    await engine.close();
    for (const run of runs) {
      expect(run.state).toBe('CANCELLED');
      await expectGroupGone(run);
    }
  });

  it('fails as unavailable when python3 cannot be found', async () => {
    const broken = new LocalSparkEngine({ dataDir, python: join(dataDir, 'no-such-python') });
    try {
      const run = await broken.wait(broken.start(python('print(1)')).runId);
      expect(run).toMatchObject({ state: 'FAILED', unavailable: true });
      expect(run.stateDetails).toMatch(/^python3 was not found/);
    } finally {
      await broken.close();
    }
  });
});

describe('what cannot run here', () => {
  it('fails a JAR job without SPARK_HOME as unavailable, saying it needs Spark', async () => {
    const jar = join(dataDir, 'app.jar');
    await writeFile(jar, 'not really a jar');
    const run = await engine.wait(
      engine.start(python(undefined, { jobType: 'jar', entryPoint: jar, mainClass: 'com.example.Main' }))
        .runId,
    );
    expect(run).toMatchObject({ state: 'FAILED', unavailable: true, stateDetails: JAR_NEEDS_SPARK });
    expect(await output(run, 'stderr.txt')).toBe(`${JAR_NEEDS_SPARK}\n`);
  });

  it('fails an s3:// entryPoint as unavailable: it cannot be fetched locally', async () => {
    const run = await engine.wait(
      engine.start(python(undefined, { entryPoint: 's3://bucket/jobs/etl.py' })).runId,
    );
    expect(run).toMatchObject({ state: 'FAILED', unavailable: true });
    expect(run.stateDetails).toMatch(
      /^entryPoint s3:\/\/bucket\/jobs\/etl\.py cannot be fetched by the local engine/,
    );
  });

  it('fails a missing local entryPoint or a relative one, but not as unavailable', async () => {
    for (const entryPoint of [join(dataDir, 'missing.py'), 'relative/job.py']) {
      const run = await engine.wait(engine.start(python(undefined, { entryPoint })).runId);
      expect(run.state).toBe('FAILED');
      expect(run.unavailable).toBeUndefined();
      expect(run.stateDetails).toContain(entryPoint);
    }
  });
});

describe('with SPARK_HOME', () => {
  /** A stand-in spark-submit that prints the argv it was given and the SPARK_HOME it sees. */
  async function fakeSparkHome(): Promise<string> {
    const home = join(dataDir, 'spark');
    await mkdir(join(home, 'bin'), { recursive: true });
    const submit = join(home, 'bin', 'spark-submit');
    await writeFile(
      submit,
      '#!/usr/bin/env python3\nimport json, os, sys\nprint(json.dumps({"argv": sys.argv[1:], "home": os.environ["SPARK_HOME"]}))\n',
    );
    await chmod(submit, 0o755);
    return home;
  }

  it('submits python with --master local[*], the conf as --conf k=v, and the script and its arguments', async () => {
    const sparkHome = await fakeSparkHome();
    const spark = new LocalSparkEngine({ dataDir, sparkHome });
    try {
      const run = await spark.wait(
        spark.start(
          python('print(1)', {
            sparkConf: { 'spark.executor.memory': '2g', 'spark.app.tag': '$(touch pwned) `id`' },
            entryPointArguments: ['--date', '2026-01-01'],
          }),
        ).runId,
      );
      expect(run.state).toBe('SUCCESS');
      expect(JSON.parse(await output(run, 'stdout.txt'))).toEqual({
        home: sparkHome,
        argv: [
          '--master',
          'local[*]',
          '--name',
          run.jobId,
          '--conf',
          'spark.executor.memory=2g',
          '--conf',
          'spark.app.tag=$(touch pwned) `id`',
          join(run.outputDir, 'main.py'),
          '--date',
          '2026-01-01',
        ],
      });
      await expect(stat(join(run.outputDir, 'pwned'))).rejects.toThrow();
    } finally {
      await spark.close();
    }
  });

  it('submits a JAR with --class', async () => {
    const sparkHome = await fakeSparkHome();
    const jar = join(dataDir, 'app.jar');
    await writeFile(jar, 'not really a jar');
    const spark = new LocalSparkEngine({ dataDir, sparkHome });
    try {
      const request = python(undefined, { jobType: 'jar', entryPoint: jar, mainClass: 'com.example.Main' });
      const run = await spark.wait(spark.start(request).runId);
      expect(run.state).toBe('SUCCESS');
      expect(JSON.parse(await output(run, 'stdout.txt')).argv).toEqual([
        '--master',
        'local[*]',
        '--name',
        run.jobId,
        '--class',
        'com.example.Main',
        jar,
      ]);
    } finally {
      await spark.close();
    }
  });

  it('fails as unavailable when SPARK_HOME has no bin/spark-submit', async () => {
    const spark = new LocalSparkEngine({ dataDir, sparkHome: join(dataDir, 'not-spark') });
    try {
      const run = await spark.wait(spark.start(python('print(1)')).runId);
      expect(run).toMatchObject({ state: 'FAILED', unavailable: true });
      expect(run.stateDetails).toMatch(/bin\/spark-submit does not exist$/);
    } finally {
      await spark.close();
    }
  });

  it('refuses a conf key that is not a Spark property name, rather than hand it on', async () => {
    const spark = new LocalSparkEngine({ dataDir, sparkHome: await fakeSparkHome() });
    try {
      const run = await spark.wait(
        spark.start(python('print(1)', { sparkConf: { 'a=b --jars x': 'y' } })).runId,
      );
      expect(run).toMatchObject({ state: 'FAILED' });
      expect(run.stateDetails).toBe('Spark conf key "a=b --jars x" is not a Spark property name');
    } finally {
      await spark.close();
    }
  });
});

describe('runs, tokens and events', () => {
  it('a second start with the same clientToken returns the same run and starts nothing', async () => {
    const request = python('print("once")');
    const first = engine.start(request);
    const again = engine.start(request);
    expect(again).toBe(first);
    await engine.wait(first.runId);
    expect(engine.start(request)).toBe(first);
    expect(engine.runsOf(request.jobId)).toEqual([first]);
    expect(() => engine.start({ ...request, attempt: 1 })).toThrow(/already started run/);
  });

  it('keeps each attempt as its own run in its own directory', async () => {
    const zero = python('print(0)');
    const one = { ...zero, attempt: 1, clientToken: `${zero.jobId}-1` };
    const runs = [engine.start(one), engine.start(zero)];
    await Promise.all(runs.map((run) => engine.wait(run.runId)));
    const listed = engine.runsOf(zero.jobId);
    expect(listed.map((run) => run.attempt)).toEqual([0, 1]);
    expect(listed[1]?.outputDir).toBe(join(dataDir, 'runs', zero.jobId, `1-${listed[1]?.runId}`));
  });

  it('onStateChange sees PENDING, RUNNING, then the terminal state, each as it was then', async () => {
    const seen: LocalRun[] = [];
    const stop = engine.onStateChange((run) => seen.push(run));
    const run = engine.start(python('print("hi")'));
    await engine.wait(run.runId);
    await Promise.resolve();
    stop();
    const mine = seen.filter((event) => event.runId === run.runId);
    expect(mine.map((event) => event.state)).toEqual(['PENDING', 'RUNNING', 'SUCCESS']);
    expect(mine[0]?.endedAt).toBeUndefined();
    expect(mine[2]?.endedAt).toBe(run.endedAt);

    const after = engine.start(python('print("unseen")'));
    await engine.wait(after.runId);
    expect(seen.some((event) => event.runId === after.runId)).toBe(false);
  });

  it('a failing listener neither breaks the run nor the other listeners', async () => {
    const states: string[] = [];
    const quiet = console.error;
    console.error = () => {};
    try {
      engine.onStateChange(() => {
        throw new Error('listener bug');
      });
      engine.onStateChange((run) => states.push(run.state));
      const run = await engine.wait(engine.start(python('print(1)')).runId);
      await Promise.resolve();
      expect(run.state).toBe('SUCCESS');
      expect(states).toEqual(['PENDING', 'RUNNING', 'SUCCESS']);
    } finally {
      console.error = quiet;
    }
  });

  it('answers an unknown run id as EMR would: not found', async () => {
    expect(engine.get('nope')).toBeUndefined();
    await expect(engine.wait('nope')).rejects.toMatchObject({ code: 'ResourceNotFound' });
    await expect(engine.cancel('nope')).rejects.toBeInstanceOf(LocalEngineError);
  });

  it('refuses a jobId that could leave the data directory', () => {
    expect(() => engine.start(python('print(1)', { jobId: '../escape', clientToken: 'x' }))).toThrow(
      LocalEngineError,
    );
  });
});
