import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibraClient } from '../../client/index.ts';
import { runCli } from '../support/cli.ts';
import { type LocalProcess, startLocalProcess } from '../support/local-process.ts';
import { until } from '../support/workflow.ts';

/**
 * `libra usage` and the cost line of `libra status`, against the local runtime: in a real terminal
 * (tmux, read back with capture-pane) and as JSON for scripts, through the typed client.
 */

function tmuxAvailable(): void {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(
      `tmux is needed to test the CLI in a terminal (apt-get install tmux): ${(error as Error).message}`,
    );
  }
}

const USER = 'usage-ana';

describe('libra usage', () => {
  let runtime: LocalProcess;
  let client: LibraClient;
  let jobId: string;
  const socket = join(mkdtempSync(join(tmpdir(), 'libra-tmux-usage-')), 'tmux.sock');
  const tmux = (...args: string[]) => execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
  const screen = () =>
    tmux('capture-pane', '-p', '-t', 'cli')
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line !== '');

  async function shown(args: string): Promise<string[]> {
    tmux('send-keys', '-t', 'cli', `clear; node bin/libra ${args}; echo EXIT=$?`, 'Enter');
    return until(
      `the terminal to show libra ${args}`,
      () => {
        const lines = screen();
        return lines.some((line) => line.startsWith('EXIT=')) && lines;
      },
      30_000,
      100,
    );
  }

  beforeAll(async () => {
    tmuxAvailable();
    runtime = await startLocalProcess();
    client = new LibraClient({ endpoint: runtime.url, auth: { mode: 'local', user: USER } });
    ({ jobId } = await client.submit({ kind: 'sql', code: 'SELECT 42', tags: { team: 'ana-team' } }));
    await until(
      'the job to end with its cost',
      async () => (await client.status(jobId)).cost !== undefined,
      30_000,
      100,
    );
    tmux(
      'new-session',
      '-d',
      '-s',
      'cli',
      '-x',
      '160',
      '-y',
      '40',
      '-e',
      `PATH=${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      '-e',
      `LIBRA_ENDPOINT=${runtime.url}`,
      '-e',
      `LIBRA_USER=${USER}`,
      '-e',
      'PS1=$ ',
      '-c',
      process.cwd(),
      'bash --norc --noprofile',
    );
  });

  afterAll(async () => {
    try {
      tmux('kill-server');
    } catch {
      // Already gone.
    }
    await runtime?.stop();
  });

  it('shows the caller’s own totals by tag in a terminal, as a table with its total', async () => {
    const lines = await shown('usage --group-by tag');

    const today = new Date().toISOString().slice(0, 10);
    expect(lines[0]).toBe(`${today.slice(0, 7)}-01 to ${today}, by tag (your own runs)`);
    expect(lines[1]).toMatch(/^TAG\s+RUNS\s+ESTIMATED\s+VCPU-H\s+MEM GB-H\s+COMPUTE\s+ORCH\s+USD$/);
    expect(lines[2]).toMatch(
      /^team=ana-team\s+1\s+1\s+[\d.e-]+\s+[\d.e-]+\s+\$[\d.e-]+\s+\$0\.000241\s+\$0\.000\d+$/,
    );
    expect(lines[3]).toMatch(/^total\s+1\s+1\s/);
    expect(lines.find((line) => line.startsWith('EXIT='))).toBe('EXIT=0');
  });

  it('prints the cost in a job’s status: USD, estimate, the usage measured', async () => {
    const lines = await shown(`status ${jobId}`);

    expect(lines).toContainEqual(
      expect.stringMatching(
        /^cost\s+\$0\.000\d+ \(estimate\): [\d.e-]+ vCPU-h, [\d.e-]+ GB-h memory, [\d.e-]+ s CPU, peak [\d.e-]+ MB over 1 run; orchestration \$0\.000241$/,
      ),
    );
  });

  it('--json prints the API’s answer unchanged; a bad --group-by is a usage error', async () => {
    const json = await runCli(['usage', '--json', '--group-by', 'pool'], {
      LIBRA_ENDPOINT: runtime.url,
      LIBRA_USER: USER,
    });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await client.usage({ groupBy: 'pool' }));

    const bad = await runCli(['usage', '--group-by', 'team'], { LIBRA_ENDPOINT: runtime.url });
    expect(bad).toMatchObject({ code: 2, stderr: "libra: --group-by is owner, pool or tag, not 'team'\n" });
  });
});
