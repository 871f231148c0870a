import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibraClient } from '../../client/index.ts';
import { type Browser, launchChromium } from '../support/browser.ts';
import { type LocalProcess, startLocalProcess } from '../support/local-process.ts';

/**
 * The console in a real browser (Debian's headless Chromium) against the local runtime, as
 * `./npmw start` serves it at `/`: every page, driven as a user would, with a screenshot of each
 * written to docs/console/.
 */

const SHOTS = 'docs/console';

/** A request whose path goes on the wire exactly as given. */
function rawGet(base: string, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(new URL(base), { method, path }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
}
const dir = mkdtempSync(join(tmpdir(), 'libra-console-browser-'));
const LONG_PYTHON = 'import time; time.sleep(600)';

describe('the console in Chromium', () => {
  let runtime: LocalProcess;
  let browser: Browser;
  let page: Page;
  let api: LibraClient;
  /** Holds the one-job pool's only slot until the test cancels it from the console. */
  let blockerId: string;
  let queuedId: string;

  beforeAll(async () => {
    browser = await launchChromium();
    // A pool that runs one job at a time, for a job to wait behind another.
    const config = join(dir, 'libra-config.json');
    writeFileSync(config, JSON.stringify({ pools: { solo: { maxConcurrentJobs: 1 } } }));
    runtime = await startLocalProcess([], { LIBRA_CONFIG: config });
    api = new LibraClient({ endpoint: runtime.url, auth: { mode: 'local', user: 'console-user' } });
    page = await browser.context.newPage();
    page.setDefaultTimeout(20_000);
    mkdirSync(SHOTS, { recursive: true });
    await page.goto(`${runtime.url}/`);
    // The user the console calls the API as is the user's to set.
    await page.getByLabel('User').fill('console-user');
    await page.getByLabel('User').press('Enter');
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
  });

  const badge = (status: string) => page.locator('h1 .badge', { hasText: status });
  const bar = (pool: string, label: string) =>
    page.locator(`[data-pool="${pool}"] [role="meter"][aria-label="${label}"]`);

  it('is served at / by the runtime: the page and its script with their content types', async () => {
    const root = await fetch(`${runtime.url}/`);
    expect(root.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(await root.text())?.[1];
    const js = await fetch(`${runtime.url}/${script}`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(
      (await fetch(`${runtime.url}/api/v1/spark/jobs`, { headers: { 'x-libra-user': 'x' } })).status,
    ).toBe(200);
    // Paths sent as written (fetch would normalize them): nothing outside the console is served.
    for (const path of [
      '/../package.json',
      '/assets/../../package.json',
      '/%2e%2e/package.json',
      '/..%2fREADME.md',
    ]) {
      expect(await rawGet(runtime.url, path), path).toMatchObject({ status: 404 });
    }
    expect(await rawGet(runtime.url, '/', 'HEAD')).toMatchObject({ status: 200, body: '' });
    expect((await fetch(`${runtime.url}/`, { method: 'POST' })).status).toBe(404);
    await page.goto(`${runtime.url}/#/jobs/job-00000000-0000-4000-8000-000000000000`);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/Could not load job .*HTTP 404/);
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    expect(await page.locator('h1').textContent()).toBe('Jobs');
    await expect.poll(() => page.locator('.empty').textContent()).toContain('No jobs yet');
  });

  it('pools: the bars of a pool move when a job runs in it', async () => {
    await page.getByRole('link', { name: 'Pools' }).click();
    await expect.poll(() => bar('solo', 'Job slots').getAttribute('data-used')).toBe('0');
    expect(await bar('solo', 'Cores').getAttribute('data-used')).toBe('0');
    blockerId = (await api.submit({ kind: 'python', code: LONG_PYTHON, pool: 'solo', name: 'blocker' }))
      .jobId;
    await expect
      .poll(() => bar('solo', 'Job slots').getAttribute('data-used'), { timeout: 20_000 })
      .toBe('1');
    expect(Number(await bar('solo', 'Cores').getAttribute('data-used'))).toBeGreaterThan(0);
    expect(Number(await bar('solo', 'Memory').getAttribute('data-used'))).toBeGreaterThan(0);
    expect(await page.locator('[data-pool="solo"] [data-count="running"]').textContent()).toBe('1');
    expect(await page.locator('[data-pool="solo"] [data-count="yours"]').textContent()).toBe('1');
    // The one slot is full: its bar is drawn full, and in the colour of a full pool.
    expect(await bar('solo', 'Job slots').locator('.fill').getAttribute('style')).toMatch(
      /width: 100(\.0)?%/,
    );
    expect(await bar('solo', 'Job slots').getAttribute('class')).toContain('full');
    await page.screenshot({ path: `${SHOTS}/pools.png`, fullPage: true });
  }, 60_000);

  it('jobs: a queued job shows its place in the queue, in the list and on its page', async () => {
    queuedId = (await api.submit({ kind: 'sql', code: 'SELECT 1 AS waited', pool: 'solo', name: 'waiting' }))
      .jobId;
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    const row = page.locator(`tr[data-job="${queuedId}"]`);
    await expect.poll(() => row.locator('.badge').textContent()).toBe('QUEUED');
    await expect.poll(() => row.locator('.queue').textContent()).toBe('#1');
    expect(await page.locator('tbody tr').first().getAttribute('data-job')).toBe(queuedId);
    await page.screenshot({ path: `${SHOTS}/jobs.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 800 });
    await page.screenshot({ path: `${SHOTS}/jobs-narrow.png`, fullPage: true });
    await page.setViewportSize({ width: 1200, height: 800 });
    await row.getByRole('link', { name: 'waiting' }).click();
    await expect.poll(() => page.locator('.queue-position').textContent()).toContain('#1');
  }, 60_000);

  it('job: Cancel, once confirmed, stops a running job; the queued one then runs', async () => {
    await page.goto(`${runtime.url}/#/jobs/${blockerId}`);
    await badge('RUNNING').waitFor();
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await badge('CANCELLED').waitFor({ timeout: 30_000 });
    expect(asked).toContain('Cancel job blocker?');
    expect(await page.locator('.reason').textContent()).toContain('CANCELLED_BY_USER');
    expect(await page.getByRole('button', { name: 'Cancel job' }).count()).toBe(0);
    expect((await api.status(blockerId)).status).toBe('CANCELLED');
    await expect.poll(async () => (await api.status(queuedId)).status, { timeout: 30_000 }).toBe('SUCCEEDED');
  }, 90_000);

  it('submit: a SQL job from the form runs to SUCCEEDED, its timeline and output on its page', async () => {
    await page.getByRole('link', { name: 'Submit' }).click();
    await page.getByRole('textbox', { name: 'SQL' }).fill('SELECT 42 AS answer');
    await page.getByLabel('Name').fill('browser-answer');
    await page.getByLabel('Tags').fill('team=data');
    await page.getByRole('button', { name: 'Submit' }).click();
    await page.waitForURL(/#\/jobs\/job-/);
    const jobId = decodeURIComponent(page.url().split('#/jobs/')[1] ?? '');
    await badge('SUCCEEDED').waitFor({ timeout: 30_000 });
    await expect.poll(() => page.locator('pre[data-log="stdout"]').textContent()).toContain('|    42|');
    const moves = await page.locator('.timeline li.move .badge').allTextContents();
    expect(moves).toEqual(['QUEUED', 'SCHEDULED', 'RUNNING', 'SUCCEEDED']);
    // The third move, to RUNNING, started the first attempt.
    expect(await page.locator('.timeline li.move').nth(2).locator('.attempt').textContent()).toBe(
      'attempt 1',
    );
    const job = await api.status(jobId);
    expect(job).toMatchObject({ name: 'browser-answer', status: 'SUCCEEDED', tags: { team: 'data' } });
    await page.screenshot({ path: `${SHOTS}/job.png`, fullPage: true });
  }, 60_000);

  it('job: the timeline shows each attempt, the delay before a retry and the reason it failed', async () => {
    const { jobId } = await api.submit({
      kind: 'python',
      code: 'import sys\nprint("no luck", file=sys.stderr)\nsys.exit(3)',
      name: 'flaky',
      retryPolicy: { maxRetries: 1, initialDelaySeconds: 1 },
    });
    await page.goto(`${runtime.url}/#/jobs/${jobId}`);
    await badge('FAILED').waitFor({ timeout: 40_000 });
    const moves = await page.locator('.timeline li.move .badge').allTextContents();
    expect(moves).toEqual(['QUEUED', 'SCHEDULED', 'RUNNING', 'RETRYING', 'RUNNING', 'FAILED']);
    expect(await page.locator('.timeline .attempt').allTextContents()).toEqual(
      expect.arrayContaining(['attempt 1', 'attempt 2']),
    );
    expect(await page.locator('.timeline .delay').first().textContent()).toBe('retry in 1s');
    expect(await page.locator('.timeline li.move').nth(3).textContent()).toContain('Exited with code 3');
    expect(await page.locator('.reason').textContent()).toContain('SPARK_JOB_FAILED');
    await expect.poll(() => page.locator('pre[data-log="stderr"]').textContent()).toContain('no luck');
  }, 60_000);

  it('jobs: filters by status, pool and tag, and pages back and forth', async () => {
    const batch = await Promise.all(
      Array.from({ length: 21 }, (_, i) =>
        api.submit({ kind: 'sql', code: `SELECT ${i} AS n`, name: `batch-${i}`, tags: { batch: 'paging' } }),
      ),
    );
    await page.goto(`${runtime.url}/#/jobs?tag=batch%3Dpaging`);
    const rows = page.locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(20);
    const firstPage = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-job')));
    await page.getByRole('button', { name: 'Older' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    const all = [...firstPage, await rows.first().getAttribute('data-job')];
    expect(new Set(all)).toEqual(new Set(batch.map((job) => job.jobId)));
    expect(await page.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Newer' }).click();
    await expect.poll(() => rows.count()).toBe(20);

    await page.goto(`${runtime.url}/#/jobs`);
    await page.getByLabel('Pool').selectOption('solo');
    await expect.poll(() => page.url()).toContain('pool=solo');
    await expect
      .poll(async () => new Set(await page.locator('tbody tr td:nth-child(3)').allTextContents()))
      .toEqual(new Set(['solo']));
    await page.getByLabel('Status').selectOption('CANCELLED');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-job')).toBe(blockerId);
    await page.getByLabel('Status').selectOption('SUCCEEDED');
    await page.getByLabel('Pool').selectOption('');
    await page.getByLabel('Tag').fill('team=data');
    await page.getByLabel('Tag').press('Enter');
    await expect.poll(() => page.locator('tbody tr a').allTextContents()).toEqual(['browser-answer']);
  }, 60_000);

  it('submit: a field the API refuses is said beside that field, and nothing is submitted', async () => {
    const before = (await api.list({ limit: 100 })).jobs.length;
    await page.getByRole('link', { name: 'Submit' }).click();
    await page.getByRole('textbox', { name: 'SQL' }).fill('SELECT 1');
    await page.getByLabel('Priority').fill('11');
    await page.getByLabel('Max retries').fill('99');
    await page.getByRole('button', { name: 'Submit' }).click();
    const priority = page.locator('.field-error[data-field="priority"]');
    await priority.waitFor();
    expect(await priority.textContent()).toMatch(/10/);
    expect(await page.locator('.field-error[data-field="retryPolicy.maxRetries"]').textContent()).toMatch(
      /10/,
    );
    expect(await page.getByLabel('Priority').getAttribute('aria-invalid')).toBe('true');
    // The first field in error has the focus, for a keyboard user to fix it at once.
    expect(
      await page.getByLabel('Priority').evaluate((input) => input === input.ownerDocument.activeElement),
    ).toBe(true);
    expect(page.url()).toMatch(/#\/submit$/);
    expect((await api.list({ limit: 100 })).jobs.length).toBe(before);
    await page.screenshot({ path: `${SHOTS}/submit.png`, fullPage: true });
  }, 60_000);

  it('job: Re-run, once confirmed, makes a new job of the same request; the two pages link each other', async () => {
    const running = (await api.submit({ kind: 'python', code: LONG_PYTHON, name: 'still running' })).jobId;
    await page.goto(`${runtime.url}/#/jobs/${running}`);
    await badge('RUNNING').waitFor({ timeout: 30_000 });
    // Only a finished job can be re-run.
    expect(await page.getByRole('button', { name: 'Re-run' }).count()).toBe(0);
    await api.cancel(running);

    const { jobId } = await api.submit({
      kind: 'sql',
      code: 'SELECT 7 AS again',
      name: 'rerun-me',
      tags: { rerun: 'browser' },
    });
    await page.goto(`${runtime.url}/#/jobs/${jobId}`);
    await badge('SUCCEEDED').waitFor({ timeout: 30_000 });
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await page.getByRole('button', { name: 'Re-run' }).click();
    await page.waitForURL((url) => /#\/jobs\/job-/.test(url.href) && !url.href.includes(jobId));
    const rerunId = decodeURIComponent(page.url().split('#/jobs/')[1] ?? '');
    expect(asked).toBe('Re-run job rerun-me as a new job, with the same request?');
    await badge('SUCCEEDED').waitFor({ timeout: 30_000 });
    await expect.poll(() => page.locator('pre[data-log="stdout"]').textContent()).toContain('|    7|');
    expect(await page.locator('.rerun-of a').textContent()).toBe(jobId);
    expect(await api.status(rerunId)).toMatchObject({
      name: 'rerun-me',
      tags: { rerun: 'browser' },
      rerunOf: jobId,
    });

    await page.locator('.rerun-of a').click();
    await expect.poll(() => page.locator('.reruns a').allTextContents()).toEqual([rerunId]);
    expect(await page.locator('.reruns').textContent()).toMatch(/^Re-run 1 time: /);
  }, 90_000);
});
