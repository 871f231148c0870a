import { afterEach, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.ts';
import {
  PROGRESS_SCRIPT,
  PROGRESS_STEP,
  type ScriptedApi,
  startScriptedApi,
} from '../support/scripted-api.ts';
import { openTerminal, SPINNER, type Terminal } from '../support/tmux.ts';

/**
 * A run's progress in `libra wait` (and `submit --wait`, which waits the same way): the CLI reads
 * a job whose answers carry `progress`, from a scripted API whose every answer the OpenAPI
 * document allows. No progress: no bar; a fraction: a bar and a percentage; none: the stage and
 * task counts alone. In a pipe a line comes only when the values change; on a terminal the live
 * line shows them in place.
 */

const STEPS = PROGRESS_SCRIPT;

/** What a wait prints in a pipe as it plays STEPS: the moves, and a line per change of progress. */
const PIPED = [
  '   0.0s  QUEUED',
  '   1.0s  SCHEDULED',
  '   2.0s  RUNNING',
  `   3.0s  RUNNING  ${'░'.repeat(24)}   0%  stages 0/3, tasks 0/10`,
  `   5.0s  RUNNING  ${'█'.repeat(10)}${'░'.repeat(14)}  40%  stages 1/3, tasks 4/10`,
  '   6.0s  RUNNING  stages 2/3, tasks 7/10',
  '   8.0s  SUCCEEDED',
];

/**
 * Serves each step until the CLI has read it `reads` times, then the next; the last (final) one
 * is left for the CLI to read and end on.
 */
async function playThrough(api: ScriptedApi, reads: number, onStep?: (step: number) => Promise<void>) {
  while (api.step < STEPS.length - 1) {
    const deadline = Date.now() + 20_000;
    while (api.readsAtStep() < reads) {
      if (Date.now() > deadline) throw new Error(`step ${api.step} was never read ${reads} times`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await onStep?.(api.step);
    api.advance();
  }
}

let api: ScriptedApi | undefined;
let terminal: Terminal | undefined;
afterEach(async () => {
  terminal?.close();
  await api?.close();
  expect(api?.violations).toEqual([]);
});

describe('libra wait shows the progress of a run', () => {
  it('in a pipe: a plain line each time the values change, with a bar only when the fraction is known', async () => {
    api = await startScriptedApi(STEPS);
    const waiting = startCli(['wait', api.jobId, '--interval', '0.05'], { LIBRA_ENDPOINT: api.url });
    await playThrough(api, 3);
    const run = await waiting.done;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual([...PIPED, '']);
  });

  it('submit --wait follows its job the same way, after the job id', async () => {
    api = await startScriptedApi(STEPS);
    const waiting = startCli(['submit', '--sql', 'SELECT 1', '--wait', '--interval', '0.05'], {
      LIBRA_ENDPOINT: api.url,
    });
    await playThrough(api, 3);
    const run = await waiting.done;
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual([api.jobId, ...PIPED, '']);
  });

  it('--json prints the final status, progress and all, and no progress lines', async () => {
    api = await startScriptedApi(STEPS);
    const waiting = startCli(['wait', api.jobId, '--interval', '0.05', '--json'], {
      LIBRA_ENDPOINT: api.url,
    });
    await playThrough(api, 2);
    const run = await waiting.done;
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      status: 'SUCCEEDED',
      progress: { stagesDone: 3, stagesTotal: 3, tasksDone: 10, tasksTotal: 10, fraction: 1 },
    });
  });

  it('status shows the progress the job carries', async () => {
    api = await startScriptedApi(STEPS);
    while (api.step < PROGRESS_STEP.fraction) api.advance();
    const waiting = startCli(['status', api.jobId], { LIBRA_ENDPOINT: api.url });
    const run = await waiting.done;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(
        `^progress   ${'█'.repeat(10)}${'░'.repeat(14)}  40%  stages 1/3, tasks 4/10 \\(at \\d{4}-\\d\\d-\\d\\dT[\\d:]+\\.000Z\\)$`,
        'm',
      ),
    );
  });

  it('on a terminal: the live line shows the bar and counts in place, then the one summary line', async () => {
    api = await startScriptedApi(STEPS);
    const scripted = api;
    const shell = openTerminal({ LIBRA_ENDPOINT: scripted.url });
    terminal = shell;
    shell.type(`wait ${scripted.jobId} --interval 0.05`);
    const live = (lines: string[]) => lines.filter((line) => SPINNER.test(line));
    const seen: Record<number, string> = {};
    await playThrough(scripted, 3, async (step) => {
      const expected: Record<number, RegExp> = {
        [PROGRESS_STEP.noProgress]: /^. RUNNING \d+\.\ds {2}job-/,
        [PROGRESS_STEP.fraction]:
          /^. RUNNING \d+\.\ds {2}█{10}░{14} {2}40% {2}stages 1\/3, tasks 4\/10 {2}job-/,
        [PROGRESS_STEP.countsOnly]: /^. RUNNING \d+\.\ds {2}stages 2\/3, tasks 7\/10 {2}job-/,
      };
      const pattern = expected[step];
      if (!pattern) return;
      const lines = await shell.until((shown) => live(shown).some((line) => pattern.test(line)));
      // One line, redrawn in place: nothing scrolls.
      expect(live(lines), lines.join('\n')).toHaveLength(1);
      expect(lines).toHaveLength(1);
      seen[step] = live(lines)[0] ?? '';
    });
    expect(seen[PROGRESS_STEP.noProgress]).not.toMatch(/[█░%]|stages/);
    expect(seen[PROGRESS_STEP.countsOnly]).not.toContain('%');
    const done = await shell.until((lines) => lines.some((line) => line.startsWith('EXIT=')));
    expect(done.slice(0, 2)).toEqual([
      'SUCCEEDED after 8.0s: QUEUED 0.0s → SCHEDULED 1.0s → RUNNING 2.0s → SUCCEEDED 8.0s',
      'EXIT=0',
    ]);
  });
});
