import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A real terminal for the CLI: tmux (Debian's package) runs a shell in a pane of a server of its
 * own, and what the terminal shows is read back with capture-pane.
 */
export interface Terminal {
  /** The pane's lines as shown, trailing blanks and empty lines left out. */
  screen(): string[];
  /** Resolves with the screen once `predicate` holds of it; fails after `timeoutMs`, showing it. */
  until(predicate: (lines: string[]) => boolean, timeoutMs?: number): Promise<string[]>;
  /** Types a libra command at the pane's shell; the screen is cleared first, and its exit code printed after. */
  type(args: string): void;
  /** Sends keys as tmux names them, e.g. `C-c`. */
  keys(...keys: string[]): void;
  close(): void;
}

export const SPINNER = /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] /;

function tmuxAvailable(): void {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(
      `tmux is needed to test the CLI in a terminal (apt-get install tmux): ${(error as Error).message}`,
    );
  }
}

/** A 160×40 pane running bash in this directory, with this Node first on PATH and `env` set. */
export function openTerminal(env: Readonly<Record<string, string>>): Terminal {
  tmuxAvailable();
  const socket = join(mkdtempSync(join(tmpdir(), 'libra-tmux-')), 'tmux.sock');
  const tmux = (...args: string[]) => execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
  const variables = Object.entries({
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    ...env,
    PS1: '$ ',
  });
  tmux(
    'new-session',
    '-d',
    '-s',
    'cli',
    '-x',
    '160',
    '-y',
    '40',
    ...variables.flatMap(([name, value]) => ['-e', `${name}=${value}`]),
    '-c',
    process.cwd(),
    'bash --norc --noprofile',
  );
  const screen = () =>
    tmux('capture-pane', '-p', '-t', 'cli')
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line !== '');
  return {
    screen,
    async until(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const lines = screen();
        if (predicate(lines)) return lines;
        if (Date.now() > deadline) throw new Error(`the terminal never showed it:\n${lines.join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    type(args) {
      tmux('send-keys', '-t', 'cli', `clear; node bin/libra ${args}; echo EXIT=$?`, 'Enter');
    },
    keys(...keys) {
      tmux('send-keys', '-t', 'cli', ...keys);
    },
    close() {
      try {
        tmux('kill-server');
      } catch {
        // Already gone.
      }
    },
  };
}
