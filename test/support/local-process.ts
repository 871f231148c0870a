import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname } from 'node:path';

export interface LocalProcess {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * How the runtime is started: `node local/main.ts` (what `npm start` runs), `./npmw start` as the
 * README says, or `npm start` itself.
 */
export type Launcher = 'node' | 'npmw' | 'npm';

export interface LocalProcessOptions {
  readonly launcher?: Launcher;
  /** In a process group of its own, so that a test can find everything it started. */
  readonly detached?: boolean;
}

function command(launcher: Launcher, args: readonly string[]): [string, string[]] {
  const runtimeArgs = ['--port', '0', ...args];
  switch (launcher) {
    case 'node':
      return [process.execPath, ['local/main.ts', ...runtimeArgs]];
    case 'npmw':
      return ['./npmw', ['start', '--', ...runtimeArgs]];
    case 'npm':
      return ['npm', ['start', '--', ...runtimeArgs]];
  }
}

/**
 * Starts the local runtime the way the README does on a free port, and resolves once it says
 * where it listens.
 */
export async function startLocalProcess(
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
  options: LocalProcessOptions = {},
): Promise<LocalProcess> {
  const [program, programArgs] = command(options.launcher ?? 'node', args);
  const child = spawn(program, programArgs, {
    // This test's Node first, so that npmw and npm run the runtime on it.
    env: {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      LOG_LEVEL: 'WARN',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A runtime that never said it listens is not the test's to keep: it would outlive the run.
      child.kill('SIGKILL');
      reject(new Error(`local runtime did not start:\n${output}`));
    }, 60_000);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`local runtime exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}
