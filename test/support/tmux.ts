import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A real terminal for the CLI's tests: a tmux (Debian's package) session on a socket of its own,
 * running bash in the project folder with `node bin/libra` on hand; what the terminal shows is read
 * back with capture-pane.
 */
export class TmuxPane {
  readonly #socket = join(mkdtempSync(join(tmpdir(), 'libra-tmux-')), 'tmux.sock');

  /** Starts the session with these environment variables (besides PATH, which finds this node). */
  constructor(env: Readonly<Record<string, string>>) {
    try {
      execFileSync('tmux', ['-V'], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(
        `tmux is needed to test the CLI in a terminal (apt-get install tmux): ${(error as Error).message}`,
      );
    }
    const variables = { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, ...env, PS1: '$ ' };
    this.tmux(
      'new-session',
      '-d',
      '-s',
      'cli',
      '-x',
      '160',
      '-y',
      '40',
      ...Object.entries(variables).flatMap(([name, value]) => ['-e', `${name}=${value}`]),
      '-c',
      process.cwd(),
      'bash --norc --noprofile',
    );
  }

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.#socket, ...args], { encoding: 'utf8' });
  }

  /** The pane's lines, blank ones left out. */
  screen(): string[] {
    return this.tmux('capture-pane', '-p', '-t', 'cli')
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line !== '');
  }

  /** Types a libra command at the pane's shell; the screen is cleared first, and its exit code printed after. */
  type(args: string): void {
    this.tmux('send-keys', '-t', 'cli', `clear; node bin/libra ${args}; echo EXIT=$?`, 'Enter');
  }

  async until(predicate: (lines: string[]) => boolean, timeoutMs = 30_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.screen();
      if (predicate(lines)) return lines;
      if (Date.now() > deadline) throw new Error(`the terminal never showed it:\n${lines.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  close(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // Already gone.
    }
  }
}
