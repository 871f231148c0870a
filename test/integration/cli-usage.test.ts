import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibraClient } from '../../client/index.ts';
import { runCli } from '../support/cli.ts';
import { type LocalProcess, startLocalProcess } from '../support/local-process.ts';
import { openTerminal, type Terminal } from '../support/tmux.ts';
import { until } from '../support/workflow.ts';

/**
 * `libra usage` and the cost line of `libra status`, against the local runtime: in a real terminal
 * (tmux, read back with capture-pane) and as JSON for scripts, through the typed client.
 */

const USER = 'usage-ana';

describe('libra usage', () => {
  let runtime: LocalProcess;
  let client: LibraClient;
  let jobId: string;
  let pane: Terminal;

  async function shown(args: string): Promise<string[]> {
    pane.type(args);
    return pane.until((lines) => lines.some((line) => line.startsWith('EXIT=')));
  }

  beforeAll(async () => {
    runtime = await startLocalProcess();
    client = new LibraClient({ endpoint: runtime.url, auth: { mode: 'local', user: USER } });
    ({ jobId } = await client.submit({ kind: 'sql', code: 'SELECT 42', tags: { team: 'ana-team' } }));
    await until(
      'the job to end with its cost',
      async () => (await client.status(jobId)).cost !== undefined,
      30_000,
      100,
    );
    pane = openTerminal({ LIBRA_ENDPOINT: runtime.url, LIBRA_USER: USER });
  });

  afterAll(async () => {
    pane?.close();
    await runtime?.stop();
  });

  it('shows the caller’s own totals by tag in a terminal, as a table with its total', async () => {
    const lines = await shown('usage --group-by tag');

    const today = new Date().toISOString().slice(0, 10);
    expect(lines[0]).toBe(`${today.slice(0, 7)}-01 to ${today}, by tag (your own runs)`);
    expect(lines[1]).toMatch(/^TAG\s+RUNS\s+ESTIMATED\s+VCPU-H\s+MEM GB-H\s+COMPUTE\s+ORCH\s+USD$/);
    expect(lines[2]).toMatch(
      /^team=ana-team\s+1\s+1\s+[\d.e-]+\s+[\d.e-]+\s+\$[\d.e-]+\s+\$0\.00025\s+\$0\.000\d+$/,
    );
    expect(lines[3]).toMatch(/^total\s+1\s+1\s/);
    expect(lines.find((line) => line.startsWith('EXIT='))).toBe('EXIT=0');
  });

  it('prints the cost in a job’s status: USD, estimate, the usage measured', async () => {
    const lines = await shown(`status ${jobId}`);

    expect(lines).toContainEqual(
      expect.stringMatching(
        /^cost\s+\$0\.000\d+ \(estimate\): [\d.e-]+ vCPU-h, [\d.e-]+ GB-h memory, [\d.e-]+ s CPU, peak [\d.e-]+ MB over 1 run; orchestration \$0\.00025$/,
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
