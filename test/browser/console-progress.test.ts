import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, launchChromium } from '../support/browser.ts';
import {
  PROGRESS_SCRIPT,
  PROGRESS_STEP,
  type ScriptedApi,
  startScriptedApi,
} from '../support/scripted-api.ts';

/**
 * A run's progress in the console (Debian's headless Chromium): the job's page and its line in
 * the list show a bar while the job's answers carry `progress`. The answers come from a scripted
 * API (the runtime does not report progress yet) whose every answer the OpenAPI document allows;
 * it serves the console's built files too.
 */

const SHOTS = 'docs/console';

describe('the console shows a run’s progress', () => {
  let api: ScriptedApi;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    api = await startScriptedApi(PROGRESS_SCRIPT);
    page = await browser.context.newPage();
    page.setDefaultTimeout(20_000);
    mkdirSync(SHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    expect(api?.violations).toEqual([]);
  });

  const progress = () => page.locator('[data-progress]');
  const bar = () => page.locator('[data-progress] [role="progressbar"]');
  const advanceTo = (step: number) => {
    while (api.step < step) api.advance();
  };

  it('job page: no bar without progress; a bar and percentage with a fraction; the counts alone without', async () => {
    advanceTo(PROGRESS_STEP.noProgress);
    await page.goto(`${api.url}/#/jobs/${api.jobId}`);
    await page.locator('h1 .badge', { hasText: 'RUNNING' }).waitFor();
    expect(await progress().count()).toBe(0);

    advanceTo(PROGRESS_STEP.fraction);
    await bar().waitFor();
    expect(await bar().getAttribute('aria-valuenow')).toBe('40');
    expect(await bar().getAttribute('aria-valuetext')).toBe('40% · stages 1/3 · tasks 4/10');
    expect(await progress().locator('.bar-value').textContent()).toBe('40% · stages 1/3 · tasks 4/10');
    expect(await bar().locator('.fill').getAttribute('style')).toMatch(/width: 40%/);
    await page.screenshot({ path: `${SHOTS}/progress.png`, fullPage: true });

    advanceTo(PROGRESS_STEP.countsOnly);
    await expect.poll(() => progress().locator('.bar-value').textContent()).toBe('stages 2/3 · tasks 7/10');
    expect(await bar().getAttribute('aria-valuenow')).toBeNull();
    expect(await bar().locator('.fill').count()).toBe(0);
    expect(await bar().getAttribute('class')).toContain('unknown');
  }, 60_000);

  it('jobs list: the running job’s line carries its bar', async () => {
    await page.goto(`${api.url}/#/jobs`);
    const row = page.locator(`tr[data-job="${api.jobId}"]`);
    await row.waitFor();
    await expect
      .poll(() => row.locator('[data-progress] .bar-value').textContent())
      .toBe('stages 2/3 · tasks 7/10');
    advanceTo(PROGRESS_STEP.succeeded);
    await expect
      .poll(() => row.locator('[data-progress] [role="progressbar"]').getAttribute('aria-valuenow'), {
        timeout: 20_000,
      })
      .toBe('100');
    expect(await row.locator('.badge').textContent()).toBe('SUCCEEDED');
  }, 60_000);
});
