import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newWebhookSecret } from '#adapters/webhook-sender.ts';
import { type LocalProcess, startLocalProcess } from '../support/local-process.ts';

/**
 * `npm run smoke` as a platform team runs it, against the local runtime: a child process with the
 * arguments a user types, judged by its exit code and its table.
 */

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly rows: Map<string, { outcome: string; seconds: number; detail: string }>;
}

function smoke(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/smoke.ts', ...args],
      { env, timeout: 120_000 },
      (error, stdout, stderr) => {
        const rows = new Map<string, { outcome: string; seconds: number; detail: string }>();
        for (const line of stdout.split('\n')) {
          const row = /^(.+?) {2,}(PASS|FAIL|SKIP) {2,}(\d+\.\d) s {2,}(.*)$/.exec(line);
          if (row?.[1] && row[2] && row[3] && row[4] !== undefined)
            rows.set(row[1], { outcome: row[2], seconds: Number(row[3]), detail: row[4] });
        }
        const code = error ? Number((error as { code?: unknown }).code ?? -1) : 0;
        resolve({ code, stdout, stderr, rows });
      },
    );
  });
}

const JOB = 'job-[0-9a-f-]{36}';
const runtimes: LocalProcess[] = [];
let scratch: string | undefined;

afterAll(async () => {
  await Promise.all(runtimes.map((runtime) => runtime.stop()));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('npm run smoke against the local runtime', () => {
  it('passes every check, the signed webhook included, and exits 0', async () => {
    const secret = newWebhookSecret();
    const runtime = await startLocalProcess([], { LIBRA_WEBHOOK_SECRET: secret });
    runtimes.push(runtime);

    const run = await smoke([
      '--endpoint',
      runtime.url,
      '--auth',
      'local',
      '--webhook-receiver',
      'local',
      '--webhook-secret',
      secret,
      '--timeout',
      '60s',
    ]);

    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect([...run.rows.keys()]).toEqual([
      'api: list pools',
      'sql: SELECT 1',
      'python: hello',
      'cancel: long job',
      'webhook: signed delivery',
    ]);
    expect(Object.fromEntries([...run.rows].map(([check, row]) => [check, row.outcome]))).toEqual({
      'api: list pools': 'PASS',
      'sql: SELECT 1': 'PASS',
      'python: hello': 'PASS',
      'cancel: long job': 'PASS',
      'webhook: signed delivery': 'PASS',
    });
    expect(run.rows.get('api: list pools')?.detail).toBe('pools: default');
    expect(run.rows.get('sql: SELECT 1')?.detail).toMatch(new RegExp(`^${JOB} SUCCEEDED; result 1$`));
    expect(run.rows.get('python: hello')?.detail).toMatch(
      new RegExp(`^${JOB} SUCCEEDED; printed "Hello from async Spark!"$`),
    );
    expect(run.rows.get('cancel: long job')?.detail).toMatch(
      new RegExp(`^${JOB} CANCELLED; run \\S+ CANCELLED$`),
    );
    const sqlJob = run.rows.get('sql: SELECT 1')?.detail.split(' ')[0];
    expect(run.rows.get('webhook: signed delivery')?.detail).toBe(
      `job.succeeded for ${sqlJob}, signature verified, recorded delivered`,
    );
    for (const row of run.rows.values()) expect(row.seconds).toBeLessThan(60);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('5 passed, 0 failed, 0 skipped');

    // The jobs are the caller's own, tagged with the run, and the long one's history shows the user's cancel.
    const listed = await fetch(`${runtime.url}/api/v1/spark/jobs?tag=libra-smoke&limit=10`, {
      headers: { 'x-libra-user': 'libra-smoke' },
    }).then((response) => response.json() as Promise<{ jobs: { name: string; status: string }[] }>);
    expect(listed.jobs.map((job) => [job.name, job.status]).sort()).toEqual([
      ['libra-smoke-cancel', 'CANCELLED'],
      ['libra-smoke-python', 'SUCCEEDED'],
      ['libra-smoke-sql', 'SUCCEEDED'],
    ]);
  });

  it('fails the rows whose part is broken — no python3, a wrong signing secret — and exits 1', async () => {
    // A PATH with nothing on it: the runtime has no python3 to run Python jobs with.
    scratch = await mkdtemp(join(tmpdir(), 'libra-smoke-'));
    const runtime = await startLocalProcess([], { PATH: scratch, LIBRA_WEBHOOK_SECRET: newWebhookSecret() });
    runtimes.push(runtime);

    const run = await smoke([
      '--endpoint',
      runtime.url,
      '--webhook-receiver',
      'local',
      '--webhook-secret',
      newWebhookSecret(),
      '--timeout',
      '30s',
    ]);

    expect(run.code, run.stdout).toBe(1);
    expect(Object.fromEntries([...run.rows].map(([check, row]) => [check, row.outcome]))).toEqual({
      'api: list pools': 'PASS',
      'sql: SELECT 1': 'PASS',
      'python: hello': 'FAIL',
      'cancel: long job': 'FAIL',
      'webhook: signed delivery': 'FAIL',
    });
    expect(run.rows.get('python: hello')?.detail).toMatch(
      new RegExp(
        `^${JOB} ended FAILED \\(BACKEND_UNAVAILABLE: LOCAL_SPARK_UNAVAILABLE: python3 was not found`,
      ),
    );
    expect(run.rows.get('cancel: long job')?.detail).toMatch(/FAILED/);
    expect(run.rows.get('webhook: signed delivery')?.detail).toMatch(
      new RegExp(`^the delivery for ${JOB} did not verify with the secret: No matching signature found$`),
    );
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('2 passed, 3 failed, 0 skipped');
  });

  it('fails the api row when nothing listens at the endpoint, runs nothing else, and exits 1', async () => {
    const port = await closedPort();
    const run = await smoke(['--endpoint', `http://127.0.0.1:${port}`, '--timeout', '10s']);

    expect(run.code).toBe(1);
    expect(run.rows.get('api: list pools')).toMatchObject({
      outcome: 'FAIL',
      detail: `GET /api/v1/spark/pools: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`,
    });
    for (const check of ['sql: SELECT 1', 'python: hello', 'cancel: long job'])
      expect(run.rows.get(check)).toMatchObject({
        outcome: 'FAIL',
        detail: 'not run: api: list pools failed',
      });
    expect(run.rows.get('webhook: signed delivery')).toMatchObject({ outcome: 'SKIP' });
  });

  it('on Ctrl-C cancels the jobs it submitted and exits 130', async () => {
    const runtime = await startLocalProcess();
    runtimes.push(runtime);
    const child = spawn(process.execPath, ['bin/smoke.ts', '--endpoint', runtime.url, '--timeout', '60s'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const longJob = await new Promise<string>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const submitted = /libra-smoke-cancel: submitted (job-[0-9a-f-]+)/.exec(stderr)?.[1];
        if (submitted) resolve(submitted);
      });
    });
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];

    expect(code, stderr).toBe(130);
    expect(stdout).toBe('');
    expect(stderr).toContain('libra smoke: interrupted; cancelling the jobs it submitted');
    expect(stderr).toMatch(new RegExp(`  ${longJob}: (CANCELLING|CANCELLED|had already ended)`));
    let status = '';
    for (let i = 0; i < 50 && status !== 'CANCELLED'; i++) {
      const job = (await fetch(`${runtime.url}/api/v1/spark/jobs/${longJob}`, {
        headers: { 'x-libra-user': 'libra-smoke' },
      }).then((response) => response.json())) as { status: string };
      status = job.status;
      if (status !== 'CANCELLED') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe('CANCELLED');
  });

  it('cannot run without what it needs: one line, no stack trace, exit 2', async () => {
    const noCredentials = {
      PATH: process.env.PATH,
      HOME: scratch ?? tmpdir(),
      AWS_CONFIG_FILE: join(tmpdir(), 'libra-smoke-none', 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(tmpdir(), 'libra-smoke-none', 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const iam = await smoke(
      ['--endpoint', 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/', '--auth', 'iam'],
      noCredentials,
    );
    expect(iam.code).toBe(2);
    expect(iam.stdout).toBe('');
    expect(iam.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^libra smoke: --auth iam: no AWS credentials found \(.+\)$/),
    ]);

    const usage = await smoke(['--endpoint', 'https://example.com/', '--auth', 'jwt'], noCredentials);
    expect(usage.code).toBe(2);
    expect(usage.stderr.split('\n')[0]).toBe(
      'libra smoke: --auth jwt needs a token: --token T or LIBRA_TOKEN',
    );
    expect(usage.stderr).not.toMatch(/^\s+at /m);
  });
});
