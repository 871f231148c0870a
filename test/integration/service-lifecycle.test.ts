import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../local/data-lock.ts';
import { type Launcher, type LocalProcess, startLocalProcess } from '../support/local-process.ts';
import { isAlive, membersOf, portIsFree, processTree } from '../support/processes.ts';
import { until } from '../support/workflow.ts';

/**
 * The local runtime as a service: started as the README says (`./npmw start`, `npm start`, or
 * `node local/main.ts`), a SIGTERM or SIGINT to any process of that chain stops the server and
 * every run the engine started within 5 s, frees the port and leaves no process behind; and what
 * keeps it from starting is said in one line, with exit code 1.
 */

const STOP_WITHIN_MS = 5_000;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'libra-service-'));
  // Open to other users, so that the unreadable-config case reaches the file itself.
  await chmod(dir, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Started {
  readonly runtime: LocalProcess;
  /** The pid that runs local/main.ts. */
  readonly node: number;
  readonly port: number;
}

async function start(launcher: Launcher, data: string): Promise<Started> {
  const runtime = await startLocalProcess(['--data', data], {}, { launcher, detached: true });
  const root = runtime.child.pid as number;
  const node = processTree(root).find((p) => /(^|\/)node local\/main\.ts /.test(p.command));
  if (!node) {
    killAll(root);
    throw new Error(`no node process running local/main.ts under pid ${root}`);
  }
  return { runtime, node: node.pid, port: Number(new URL(runtime.url).port) };
}

/** Whatever a test started and left running, when it failed part way. */
function killAll(root: number): void {
  for (const p of processTree(root)) process.kill(p.pid, 'SIGKILL');
}

/** Submits a Python job that sleeps, and resolves with the pid of its python3 once it runs. */
async function runningPythonJob(started: Started): Promise<number> {
  const submitted = await fetch(`${started.runtime.url}/api/v1/spark/jobs/submit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'python', code: 'import time\ntime.sleep(600)', name: 'sleeper' }),
  });
  expect(submitted.status).toBe(202);
  const { jobId } = (await submitted.json()) as { jobId: string };
  return until(
    `the python3 process of ${jobId}`,
    () =>
      processTree(started.node).find(
        (p) => p.command.startsWith('python3') || /\/python3?\S* /.test(p.command),
      )?.pid,
    20_000,
  );
}

/**
 * Signals `target`, and checks that within 5 s every process recorded before the signal has
 * exited, nothing is left in their process groups, and the port is free.
 */
async function stopsCleanly(started: Started, target: number, signal: NodeJS.Signals): Promise<number> {
  const recorded = processTree(started.runtime.child.pid as number);
  const pgids = new Set(recorded.map((p) => p.pgid));
  const began = Date.now();
  process.kill(target, signal);
  await until(
    `every process of ${JSON.stringify(recorded.map((p) => `${p.pid} ${p.command}`))} to exit after ${signal} to ${target}`,
    () => recorded.every((p) => !isAlive(p.pid)) && membersOf(pgids).length === 0,
    STOP_WITHIN_MS,
  );
  const took = Date.now() - began;
  expect(await portIsFree(started.port)).toBe(true);
  // The process the test spawned is reaped by it; its exit status says how the stop went.
  if (started.runtime.child.exitCode === null && started.runtime.child.signalCode === null) {
    await once(started.runtime.child, 'exit');
  }
  return took;
}

describe('a signal stops the runtime and every run it started, whichever process of the chain gets it', () => {
  const cases: [Launcher, 'launcher' | 'node', NodeJS.Signals, boolean][] = [
    ['npmw', 'launcher', 'SIGTERM', true],
    ['npmw', 'launcher', 'SIGINT', false],
    ['npmw', 'node', 'SIGTERM', false],
    ['npmw', 'node', 'SIGINT', true],
    ['npm', 'launcher', 'SIGTERM', false],
    ['node', 'node', 'SIGTERM', true],
    ['node', 'node', 'SIGINT', false],
  ];
  for (const [launcher, to, signal, withJob] of cases) {
    const name = `${signal} to ${to === 'node' ? 'node' : launcher} under ${launcher === 'node' ? 'node local/main.ts' : `${launcher === 'npmw' ? './npmw' : 'npm'} start`}${withJob ? ', a Python run going' : ''}`;
    it(name, async () => {
      const data = join(dir, `${launcher}-${to}-${signal}`);
      const started = await start(launcher, data);
      try {
        const python = withJob ? await runningPythonJob(started) : undefined;
        const target = to === 'node' ? started.node : (started.runtime.child.pid as number);
        const took = await stopsCleanly(started, target, signal);
        console.info(`${name}: every process gone and the port free ${took} ms after the signal`);
        expect(took).toBeLessThan(STOP_WITHIN_MS);
        if (python !== undefined) expect(isAlive(python)).toBe(false);
        // The runtime itself stopped cleanly (not by the signal's default action).
        expect(started.runtime.output()).toMatch(/stopping\s+stopped/);
        await expect(readFile(join(data, LOCK_FILE))).rejects.toThrow(/ENOENT/);
      } finally {
        killAll(started.runtime.child.pid as number);
      }
    });
  }

  it('stops when npm, its parent, is killed outright', async () => {
    const started = await start('npm', join(dir, 'npm-killed'));
    try {
      process.kill(started.runtime.child.pid as number, 'SIGKILL');
      await until('the runtime to notice npm is gone and stop', () => !isAlive(started.node), STOP_WITHIN_MS);
      expect(await portIsFree(started.port)).toBe(true);
    } finally {
      if (isAlive(started.node)) process.kill(started.node, 'SIGKILL');
    }
  });
});

/** Runs the runtime expecting it not to start; resolves with its exit code and output. */
async function failedStart(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, ['local/main.ts', ...args], {
    env: { ...process.env, LOG_LEVEL: 'WARN', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Exit 1, and on stderr one line, naming the problem, with no stack frames. */
function expectOneLine(result: { code: number | null; stderr: string }, names: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(names);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

describe.concurrent('what keeps the runtime from starting is said in one line, exit 1', () => {
  it('a second runtime on a --data directory in use', async () => {
    const data = join(dir, 'in-use');
    const first = await startLocalProcess(['--data', data]);
    try {
      const second = await failedStart(['--port', '0', '--data', data]);
      expectOneLine(
        second,
        new RegExp(`--data ${data} is in use by another Libra runtime \\(pid ${first.child.pid}\\)`),
      );
      // The first one is untouched.
      expect((await fetch(`${first.url}/health`)).status).toBe(200);
    } finally {
      expect(await first.stop()).toBe(0);
    }
  });

  it('a stale lock (its runtime was killed -9) is taken over', async () => {
    const data = join(dir, 'stale');
    const killed = await startLocalProcess(['--data', data]);
    killed.child.kill('SIGKILL');
    await once(killed.child, 'exit');
    expect(JSON.parse(await readFile(join(data, LOCK_FILE), 'utf8'))).toMatchObject({
      pid: killed.child.pid,
    });

    const next = await startLocalProcess(['--data', data]);
    try {
      expect(JSON.parse(await readFile(join(data, LOCK_FILE), 'utf8'))).toMatchObject({
        pid: next.child.pid,
      });
    } finally {
      expect(await next.stop()).toBe(0);
    }
  });

  it('a lock naming a pid now used by another process (not a runtime that started then) is stale', async () => {
    const data = join(dir, 'reused');
    await mkdir(data, { recursive: true });
    // This test's own pid is alive, but its start time is not the one written.
    await writeFile(join(data, LOCK_FILE), JSON.stringify({ pid: process.pid, startTime: '1' }));
    const next = await startLocalProcess(['--data', data]);
    expect(await next.stop()).toBe(0);
  });

  it('a port in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const result = await failedStart(['--port', String(port), '--data', join(dir, 'port')]);
      expectOneLine(result, new RegExp(`port ${port} is in use on 127\\.0\\.0\\.1`));
      // Nothing of the failed start is left holding the data directory.
      await expect(readFile(join(dir, 'port', LOCK_FILE))).rejects.toThrow(/ENOENT/);
    } finally {
      blocker.close();
    }
  });

  it('a missing LIBRA_CONFIG file', async () => {
    const missing = join(dir, 'no-such-config.json');
    expectOneLine(
      await failedStart(['--port', '0'], { LIBRA_CONFIG: missing }),
      new RegExp(`LIBRA_CONFIG \\(${missing}\\) cannot be read: no such file`),
    );
  });

  it('an unreadable LIBRA_CONFIG (a directory; or a file without read permission)', async () => {
    expectOneLine(
      await failedStart(['--port', '0'], { LIBRA_CONFIG: dir }),
      new RegExp(`LIBRA_CONFIG \\(${dir}\\) cannot be read: it is a directory`),
    );
    const locked = join(dir, 'locked.json');
    await writeFile(locked, '{}', { mode: 0o000 });
    // root reads any file: as root, the runtime is run as nobody (setpriv, util-linux).
    const asRoot = process.getuid?.() === 0;
    const [program, ...args] = [
      ...(asRoot ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : []),
      process.execPath,
      'local/main.ts',
      '--port',
      '0',
    ];
    const result = spawnSync(program as string, args, {
      env: { ...process.env, LIBRA_CONFIG: locked },
      encoding: 'utf8',
    });
    expect(result.error, 'setpriv (util-linux) is needed to run this test as root').toBeUndefined();
    expectOneLine(
      { code: result.status, stderr: result.stderr },
      new RegExp(`LIBRA_CONFIG \\(${locked}\\) cannot be read: permission denied`),
    );
  });
});
