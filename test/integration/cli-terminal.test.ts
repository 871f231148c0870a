import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibraClient } from '../../client/index.ts';
import { type LocalProcess, startLocalProcess } from '../support/local-process.ts';
import { TmuxPane } from '../support/tmux.ts';

/**
 * `libra submit --wait` in a real terminal: tmux (Debian's package) runs it in a pane, and what the
 * terminal shows is read back with capture-pane. On a TTY the progress is one live line redrawn in
 * place; at the end it becomes one summary line.
 */

const SPINNER = /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] /;

describe('libra submit --wait in a terminal (tmux)', () => {
  let runtime: LocalProcess;
  let pane: TmuxPane;
  const screen = () => pane.screen();
  const until = (predicate: (lines: string[]) => boolean) => pane.until(predicate);
  const type = (args: string) => pane.type(args);

  beforeAll(async () => {
    runtime = await startLocalProcess();
    pane = new TmuxPane({ LIBRA_ENDPOINT: runtime.url });
  });

  afterAll(async () => {
    pane?.close();
    await runtime?.stop();
  });

  it('shows one live line that moves in place while the job runs, then one summary line and the links', async () => {
    type(`submit --python 'import time; time.sleep(4); print("slept")' --wait --interval 0.2`);
    const running = await until((lines) =>
      lines.some((line) => SPINNER.test(line) && line.includes('RUNNING')),
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    const later = screen();
    for (const lines of [running, later]) {
      const live = lines.filter((line) => SPINNER.test(line));
      expect(live, lines.join('\n')).toHaveLength(1);
      expect(live[0]).toMatch(
        /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] RUNNING \d+\.\ds {2}job-[0-9a-f-]{36} {2}QUEUED \d+\.\ds → SCHEDULED \d+\.\ds → RUNNING \d+\.\ds$/,
      );
      // On the cleared screen: the job id, then the live line; nothing scrolls.
      expect(lines).toEqual([expect.stringMatching(/^job-[0-9a-f-]{36}$/), live[0]]);
    }
    const elapsed = (lines: string[]) =>
      Number(/RUNNING (\d+\.\d)s/.exec(lines.find((l) => SPINNER.test(l)) ?? '')?.[1]);
    expect(elapsed(later)).toBeGreaterThan(elapsed(running));

    const done = await until((lines) => lines.some((line) => line.startsWith('EXIT=')));
    expect(done.find((line) => line.startsWith('EXIT='))).toBe('EXIT=0');
    expect(done.filter((line) => SPINNER.test(line))).toEqual([]);
    expect(done[1]).toMatch(
      /^SUCCEEDED after \d+\.\ds: QUEUED \d+\.\ds → SCHEDULED \d+\.\ds → RUNNING \d+\.\ds → SUCCEEDED \d+\.\ds$/,
    );
    expect(done[2]).toMatch(
      /^stdout: http:\/\/127\.0\.0\.1:\d+\/local\/jobs\/job-[0-9a-f-]{36}\/runs\/\w+\/stdout\.txt$/,
    );
  });

  it('Ctrl-C takes the live line away, leaves the job running and says how to cancel it', async () => {
    type(`submit --python 'import time; time.sleep(600)' --wait --interval 0.2`);
    const running = await until((lines) =>
      lines.some((line) => SPINNER.test(line) && line.includes('RUNNING')),
    );
    const jobId = running[0] ?? '';
    expect(jobId).toMatch(/^job-[0-9a-f-]{36}$/);
    pane.tmux('send-keys', '-t', 'cli', 'C-c');
    const stopped = await until((lines) => lines.some((line) => line.startsWith('EXIT=')));
    expect(stopped.slice(1, 5)).toEqual([
      `libra: stopped waiting; ${jobId} is left as it is RUNNING.`,
      `  follow it again: libra wait ${jobId}`,
      `  cancel it:       libra cancel ${jobId}`,
      'EXIT=130',
    ]);
    const client = new LibraClient({ endpoint: runtime.url });
    expect((await client.status(jobId)).status).toBe('RUNNING');
    await client.cancel(jobId);
  });
});
