import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, outputMatches, runCli, startCli } from '../support/cli.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { type LocalProcess, startLocalProcess } from '../support/local-process.ts';
import { freePort } from '../support/processes.ts';

/**
 * The `libra` CLI run as a process (bin/libra, the package's bin) against the local runtime:
 * every command, every exit code, --json, and how endpoint and auth are found.
 */

const JOB_ID = /^job-[0-9a-f-]{36}$/;
const dir = mkdtempSync(join(tmpdir(), 'libra-cli-'));

/**
 * The statuses a wait printed, one per timed line. A line of the run's progress (DuckDB reports
 * it) is shown when it changes and is not a move: it must be a RUNNING line of a one-statement run.
 */
function movesOf(stdout: string): string[] {
  const timed = stdout.split('\n').filter((line) => /^\s+\d+\.\ds {2}[A-Z]+/.test(line));
  for (const line of timed.filter((line) => line.includes(' stages '))) {
    expect(line).toMatch(/^\s+\d+\.\ds {2}RUNNING {2}.*stages \d+\/1, tasks \d+\/\d+$/);
  }
  return timed.filter((line) => !line.includes(' stages ')).map((line) => line.trim().split(/\s+/)[1] ?? '');
}

describe('the libra CLI against the local runtime', () => {
  let runtime: LocalProcess;
  let env: NodeJS.ProcessEnv;
  const cli = (args: readonly string[], extra: NodeJS.ProcessEnv = {}) =>
    runCli(['--interval', '0.1', ...args], { ...env, ...extra });
  /** A wait on a run that only its time limit ends (one minute, the least a job may ask for). */
  let timingOut: CliProcess;

  beforeAll(async () => {
    // A pool that runs one job at a time, for a job to wait in whatever else runs meanwhile.
    const config = join(dir, 'libra-config.json');
    writeFileSync(config, JSON.stringify({ pools: { solo: { maxConcurrentJobs: 1 } } }));
    runtime = await startLocalProcess([], { LIBRA_CONFIG: config });
    env = { LIBRA_ENDPOINT: runtime.url };
    timingOut = startCli(
      ['submit', '--python', 'import time; time.sleep(600)', '--timeout', '1', '--wait', '--interval', '0.5'],
      env,
    );
  });

  afterAll(async () => {
    timingOut?.child.kill();
    await runtime?.stop();
  });

  it('submit FILE.sql --wait prints each move with its elapsed time, the output links and, with --logs, the output; exit 0', async () => {
    const file = join(dir, 'answer.sql');
    writeFileSync(file, 'SELECT 42 AS answer');
    const run = await cli(['submit', file, '--wait', '--logs', '--name', 'cli-answer']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(JOB_ID);
    expect(movesOf(run.stdout)).toEqual(['QUEUED', 'SCHEDULED', 'RUNNING', 'SUCCEEDED']);
    expect(run.stdout).toContain('  RUNNING (attempt 1)');
    expect(run.stdout).toMatch(/^stdout: http:\/\/127\.0\.0\.1:\d+\/local\/jobs\/job-.*\/stdout\.txt$/m);
    expect(run.stdout).toContain(
      '--- stdout ---\nStatement 1:\n+------+\n|answer|\n+------+\n|    42|\n+------+\n--- stderr ---\n',
    );
  });

  it('a FAILED job exits 1 with its reason; a .py file is inline Python', async () => {
    const file = join(dir, 'fails.py');
    writeFileSync(file, 'import sys\nprint("going down", file=sys.stderr)\nsys.exit(3)\n');
    const run = await cli(['submit', file, '--retries', '0', '--wait']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^\s+\d+\.\ds {2}FAILED$/m);
    expect(run.stdout).toMatch(/^reason: SPARK_JOB_FAILED: .*Exited with code 3/m);
    const jobId = run.stdout.split('\n')[0] ?? '';
    expect(await cli(['logs', jobId, '--stderr'])).toMatchObject({ code: 0, stdout: 'going down\n' });
    expect(await cli(['logs', jobId])).toMatchObject({ code: 0, stdout: '' });
  });

  it('rerun JOB --wait runs a finished job again with the fields given changed; status shows both links', async () => {
    const first = await cli([
      'submit',
      '--sql',
      'SELECT 41 + 1 AS answer',
      '--name',
      'first',
      '--wait',
      '--logs',
    ]);
    expect(first.code).toBe(0);
    const firstId = first.stdout.split('\n')[0] ?? '';
    const rerun = await cli([
      'rerun',
      firstId,
      '--name',
      'second',
      '--priority',
      '8',
      '--tag',
      'try=2',
      '--wait',
      '--logs',
    ]);
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    const rerunId = rerun.stdout.split('\n')[0] ?? '';
    expect(rerunId).toMatch(JOB_ID);
    expect(rerunId).not.toBe(firstId);
    expect(movesOf(rerun.stdout)).toEqual(['QUEUED', 'SCHEDULED', 'RUNNING', 'SUCCEEDED']);
    // The same code ran again.
    expect(rerun.stdout).toContain('|answer|\n+------+\n|    42|');

    const status = JSON.parse((await cli(['status', rerunId, '--json'])).stdout);
    expect(status).toMatchObject({ name: 'second', priority: 8, tags: { try: '2' }, rerunOf: firstId });
    const original = await cli(['status', firstId]);
    expect(original.stdout).toMatch(new RegExp(`^reruns +1: ${rerunId}$`, 'm'));
    expect(original.stdout).toMatch(/^name +first$/m);
    const again = await cli(['rerun', firstId, '--json', '--idempotency-key', 'cli-rerun-1']);
    expect(JSON.parse(again.stdout)).toEqual({
      jobId: expect.stringMatching(JOB_ID),
      status: 'QUEUED',
      submittedAt: expect.any(String),
      rerunOf: firstId,
    });
    const replayed = await cli(['rerun', firstId, '--json', '--idempotency-key', 'cli-rerun-1']);
    expect(JSON.parse(replayed.stdout).jobId).toBe(JSON.parse(again.stdout).jobId);
    expect((await cli(['rerun', firstId, '--pool', 'solo'])).stderr).toBe('libra: rerun takes no --pool\n');
    await cli(['wait', JSON.parse(again.stdout).jobId]);
  });

  it("rerun of a job not finished exits 2 with the API's reason", async () => {
    const { waiting, jobId } = await waitingOnRunningJob();
    const refused = await cli(['rerun', jobId]);
    expect(refused).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `libra: POST /api/v1/spark/jobs/${jobId}/rerun: HTTP 409 Conflict: job ${jobId} is RUNNING: only a finished job can be re-run: status: RUNNING is not final; wait for it to end, or cancel it\n`,
    });
    expect((await cli(['cancel', jobId])).code).toBe(0);
    await waiting.done;
  });

  /** `libra submit --wait` on a job that runs for ten minutes, once the job is RUNNING. */
  async function waitingOnRunningJob(): Promise<{ waiting: CliProcess; jobId: string }> {
    const waiting = startCli(
      ['submit', '--python', 'import time; time.sleep(600)', '--wait', '--interval', '0.1'],
      env,
    );
    await outputMatches(waiting, (out) => out.includes('RUNNING'));
    return { waiting, jobId: waiting.stdout().split('\n')[0] ?? '' };
  }

  it('a CANCELLED job exits 5; cancel prints the answer; wait on a finished job ends at once', async () => {
    const { waiting, jobId } = await waitingOnRunningJob();
    const cancel = await cli(['cancel', jobId]);
    expect(cancel).toMatchObject({ code: 0, stdout: `${jobId} CANCELLING: Cancellation in progress\n` });
    const ended = await waiting.done;
    expect(ended.code).toBe(5);
    expect(ended.stdout).toMatch(/^\s+\d+\.\ds {2}CANCELLED$/m);
    expect(ended.stdout).toContain('reason: CANCELLED_BY_USER: cancelled by local-user');
    const again = await cli(['wait', jobId]);
    expect(again.code).toBe(5);
    const refused = await cli(['cancel', jobId]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `libra: DELETE /api/v1/spark/jobs/${jobId}: HTTP 409 Conflict: job ${jobId} is already CANCELLED: status: CANCELLED is final\n`,
    );
  });

  it('Ctrl-C while waiting leaves the job running, says how to cancel it, and exits 130', async () => {
    const { waiting, jobId } = await waitingOnRunningJob();
    waiting.child.kill('SIGINT');
    const ended = await waiting.done;
    expect(ended.code).toBe(130);
    expect(ended.stderr).toBe(
      `libra: stopped waiting; ${jobId} is left as it is RUNNING.\n` +
        `  follow it again: libra wait ${jobId}\n  cancel it:       libra cancel ${jobId}\n`,
    );
    const status = await cli(['status', jobId, '--json']);
    expect(JSON.parse(status.stdout).status).toBe('RUNNING');
    expect((await cli(['cancel', jobId])).code).toBe(0);
  });

  it('while a job waits for capacity, wait shows its queue position and status shows it too', async () => {
    const long = await cli(['submit', '--python', 'import time; time.sleep(600)', '--pool', 'solo']);
    const longId = long.stdout.trim();
    try {
      await outputMatches(startCli(['wait', longId, '--interval', '0.1'], env), (out) =>
        out.includes('RUNNING'),
      );
      const next = startCli(
        ['submit', '--sql', 'SELECT 42 AS answer', '--pool', 'solo', '--wait', '--interval', '0.1'],
        env,
      );
      await outputMatches(next, (out) => /^ +\d+\.\ds {2}QUEUED \(position 1\)$/m.test(out));
      const nextId = next.stdout().split('\n')[0] ?? '';
      const status = await cli(['status', nextId]);
      expect(status.stdout).toMatch(/^queue +position 1$/m);
      await cli(['cancel', longId]);
      const ended = await next.done;
      expect(ended.code).toBe(0);
      expect(ended.stdout).toMatch(/^ +\d+\.\ds {2}SUCCEEDED$/m);
    } finally {
      await cli(['cancel', longId]);
    }
  });

  it('a TIMEOUT exits 4', async () => {
    const ended = await timingOut.done;
    expect(ended.stdout).toMatch(/^reason: RUN_TIMEOUT: /m);
    expect(ended.code).toBe(4);
  }, 120_000);

  it('--json prints the API answer unchanged, on every command', async () => {
    const submitted = await cli(['submit', '--sql', 'SELECT 1', '--json', '--wait']);
    expect(submitted.code).toBe(0);
    const job = JSON.parse(submitted.stdout);
    expect(job.status).toBe('SUCCEEDED');
    const raw = async (path: string) =>
      (await fetch(`${runtime.url}${path}`, { headers: { accept: 'application/json' } })).text();
    const status = await cli(['status', job.jobId, '--json']);
    expect(status.stdout).toBe(`${await raw(`/api/v1/spark/jobs/${job.jobId}`)}\n`);
    expect(submitted.stdout).toBe(status.stdout);
    const events = await cli(['events', job.jobId, '--json']);
    expect(events.stdout).toBe(`${await raw(`/api/v1/spark/jobs/${job.jobId}/events`)}\n`);
    const pools = await cli(['pools', '--json']);
    expect(pools.stdout).toBe(`${await raw('/api/v1/spark/pools')}\n`);
    const list = await cli(['list', '--json', '--limit', '1']);
    expect(JSON.parse(list.stdout)).toEqual({
      jobs: [expect.objectContaining({ jobId: expect.stringMatching(JOB_ID) })],
      nextToken: expect.any(String),
    });
    const plain = await cli(['submit', '--sql', 'SELECT 2', '--json']);
    expect(JSON.parse(plain.stdout)).toEqual({
      jobId: expect.stringMatching(JOB_ID),
      status: 'QUEUED',
      submittedAt: expect.any(String),
    });
    const cancelled = await cli(['cancel', JSON.parse(plain.stdout).jobId, '--json']);
    expect([0, 2]).toContain(cancelled.code);
    if (cancelled.code === 0) expect(JSON.parse(cancelled.stdout).jobId).toBe(JSON.parse(plain.stdout).jobId);
  });

  it('status, events, list (a table, filtered, --all follows pages) and pools (bars)', async () => {
    const tag = `t${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await cli(['submit', '--sql', `SELECT ${i}`, '--tag', `batch=${tag}`, '--name', `n${i}`]);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      ids.push(run.stdout.trim());
    }
    const [first] = ids;
    const done = await cli(['wait', first as string]);
    expect(done.code).toBe(0);

    const status = await cli(['status', first as string]);
    expect(status.stdout).toMatch(new RegExp(`^job +${first} {2}SUCCEEDED$`, 'm'));
    expect(status.stdout).toMatch(/^name +n0$/m);
    expect(status.stdout).toMatch(/^tags +batch=t/m);
    expect(status.stdout).toMatch(
      /^resources +3 cores, 4224 MiB: driver 1 core\/1408 MiB, 2 × executor 1 core\/1408 MiB$/m,
    );

    const events = await cli(['events', first as string]);
    expect(events.stdout.split('\n')[0]).toMatch(/^AT +ELAPSED +EVENT +DETAIL$/);
    expect(events.stdout).toMatch(/ RUNNING +from SCHEDULED, attempt 1$/m);

    const page = await cli(['list', '--tag', `batch=${tag}`, '--limit', '2']);
    expect(page.code).toBe(0);
    expect(page.stdout.split('\n')[0]).toMatch(/^JOB +STATUS +POOL +PRI +SUBMITTED +NAME +TAGS$/);
    expect(page.stdout.trim().split('\n')).toHaveLength(3);
    expect(page.stderr).toMatch(/^more: libra list --all, or --next-token \S+\n$/);
    const all = await cli(['list', '--tag', `batch=${tag}`, '--limit', '2', '--all']);
    const rows = all.stdout.trim().split('\n').slice(1);
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual([...ids].reverse());
    const allJson = await cli(['list', '--tag', `batch=${tag}`, '--limit', '2', '--all', '--json']);
    expect(
      allJson.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).jobs.length),
    ).toEqual([2, 1]);
    const succeeded = await cli([
      'list',
      '--tag',
      `batch=${tag}`,
      '--status',
      'succeeded',
      '--pool',
      'default',
    ]);
    expect(succeeded.stdout).toContain(first);

    const pools = await cli(['pools']);
    expect(pools.stdout).toMatch(/^default {2}\(emr-serverless; waits at most 30 min\)$/m);
    expect(pools.stdout).toMatch(/^ {2}cores {3}[█░]{24} {2}\d+\/16$/m);
    expect(pools.stdout).toMatch(/^ {2}jobs {4}[█░]{24} {2}\d+\/10 running$/m);
    // The caller's own admitted jobs, against the pool's slots (no per-owner cap set), and its weight.
    expect(pools.stdout).toMatch(/^ {2}yours {3}[█░]{24} {2}\d+\/10 running, weight 1$/m);
  });

  it('submit sends every request option as its flag says, with one Idempotency-Key', async () => {
    const proxy = await startFaultProxy(runtime.url, () => ({ kind: 'forward' }));
    try {
      const run = await cli(
        [
          'submit',
          's3://my-bucket/jobs/etl.jar',
          '--arg',
          'a b',
          '--arg=--flag',
          '--main-class',
          'com.example.Etl',
          '--conf',
          'spark.executor.instances=1',
          '--conf',
          'spark.sql.shuffle.partitions=8',
          '--priority',
          '7',
          '--pool',
          'default',
          '--tag',
          'team=data',
          '--tag',
          'env=dev',
          '--name',
          'etl',
          '--timeout',
          '2h',
          '--warn-after',
          '90m',
          '--retries',
          '1',
          '--backoff',
          '3',
          '--retry-delay',
          '2',
          '--max-retry-delay',
          '30',
          '--retry-on-timeout',
          '--webhook',
          'http://127.0.0.1:9/hook',
          '--events',
          'succeeded,FAILED,duration_warning',
          '--mode',
          'emr-serverless',
          '--idempotency-key',
          'cli-options-1',
        ],
        { LIBRA_ENDPOINT: proxy.url },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const [post] = proxy.requests;
      expect(post?.headers['idempotency-key']).toBe('cli-options-1');
      expect(JSON.parse(post?.body ?? '')).toEqual({
        entryPoint: 's3://my-bucket/jobs/etl.jar',
        entryPointArguments: ['a b', '--flag'],
        mainClass: 'com.example.Etl',
        sparkConf: { 'spark.executor.instances': '1', 'spark.sql.shuffle.partitions': '8' },
        tags: { team: 'data', env: 'dev' },
        priority: 7,
        pool: 'default',
        name: 'etl',
        executionMode: 'emr-serverless',
        timeoutMinutes: 120,
        warnAfterMinutes: 90,
        retryOnTimeout: true,
        retryPolicy: { maxRetries: 1, backoffMultiplier: 3, initialDelaySeconds: 2, maxDelaySeconds: 30 },
        notifications: {
          webhook: 'http://127.0.0.1:9/hook',
          events: ['SUCCEEDED', 'FAILED', 'DURATION_WARNING'],
        },
      });
      const again = await cli(['submit', 's3://my-bucket/jobs/etl.jar', '--name', 'x'], {
        LIBRA_ENDPOINT: proxy.url,
      });
      expect(proxy.requests[1]?.headers['idempotency-key']).toMatch(/^libra-[0-9a-f-]{36}$/);
      expect(again.code).toBe(0);
      await cli(['cancel', run.stdout.trim()]);
      await cli(['cancel', again.stdout.trim()]);
    } finally {
      await proxy.close();
    }
  });

  it('usage errors exit 2 in one line, never a stack', async () => {
    const cases: [string[], string][] = [
      [
        ['bogus'],
        "libra: unknown command 'bogus'; commands: submit, wait, status, list, events, logs, cancel, rerun, pools, usage, openapi\n",
      ],
      [['status'], 'libra: status needs a job id: libra status JOB\n'],
      [['status', 'a', 'b'], "libra: status: unexpected argument 'b'\n"],
      [['pools', '--sql', 'x'], 'libra: pools takes no --sql\n'],
      [
        ['submit'],
        'libra: submit needs what to run: FILE.sql, FILE.py, s3://…, --sql TEXT or --python TEXT\n',
      ],
      [['submit', 'job.txt'], 'libra: job.txt: a .sql or .py file, or an s3:// URI\n'],
      [['submit', join(dir, 'missing.sql')], `libra: cannot read ${join(dir, 'missing.sql')}: ENOENT\n`],
      [['submit', '--sql', 'SELECT 1', '--conf', 'novalue'], 'libra: --conf novalue: write KEY=VALUE\n'],
      [['submit', '--sql', 'SELECT 1', '--priority', 'high'], "libra: --priority: 'high' is not a number\n"],
      [['submit', '--sql', 'SELECT 1', '--events', 'FAILED'], 'libra: --events goes with --webhook URL\n'],
      [
        ['submit', '--sql', 'SELECT 1', '--arg', 'x'],
        'libra: --arg and --main-class go with an s3:// entry point\n',
      ],
      [
        ['list', '--wat'],
        "libra: Unknown option '--wat'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--wat\"\n",
      ],
      [['pools', '--auth', 'kerberos'], "libra: --auth must be local, iam or jwt, not 'kerberos'\n"],
      [['pools', '--auth', 'jwt'], 'libra: --auth jwt needs a token: --token T or LIBRA_TOKEN\n'],
      [['pools', '--endpoint', 'ftp://x'], "libra: --endpoint: 'ftp://x' is not an http(s) URL\n"],
    ];
    for (const [args, stderr] of cases) {
      const run = await runCli(args, env);
      expect({ args, code: run.code, stderr: run.stderr, stdout: run.stdout }).toEqual({
        args,
        code: 2,
        stderr,
        stdout: '',
      });
    }
    const refused = await cli(['submit', '--sql', 'SELECT 1', '--priority', '11']);
    expect(refused).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        'libra: POST /api/v1/spark/jobs/submit: HTTP 400 The request is not valid: the job request has invalid fields: priority: Too big: expected number to be <=10\n',
    });
    const help = await runCli(['--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('exit codes:');
  });

  it('connection errors exit 3 in one line', async () => {
    const port = await freePort();
    const run = await runCli(['pools'], { LIBRA_ENDPOINT: `http://127.0.0.1:${port}` });
    expect(run).toMatchObject({
      code: 3,
      stdout: '',
      stderr: `libra: GET /api/v1/spark/pools: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)\n`,
    });
    const failing = await startFaultProxy(runtime.url, () => ({
      kind: 'answer',
      status: 503,
      body: '{"message":"Service Unavailable"}',
    }));
    try {
      const unavailable = await runCli(['status', 'job-x'], { LIBRA_ENDPOINT: failing.url });
      expect(unavailable.code).toBe(3);
      expect(unavailable.stderr).toBe(
        'libra: GET /prod/api/v1/spark/jobs/job-x: HTTP 503 Service Unavailable\n',
      );
      // Reads are retried with backoff before giving up.
      expect(failing.requests.length).toBe(5);
    } finally {
      await failing.close();
    }
  }, 60_000);

  it('--auth iam signs with SigV4 from the default credential chain; with no credentials it says so in one line', async () => {
    const proxy = await startFaultProxy(runtime.url, () => ({ kind: 'forward' }));
    const noCredentials = {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_SESSION_TOKEN: '',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
      AWS_WEB_IDENTITY_TOKEN_FILE: '',
      AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PROFILE: '',
    };
    try {
      const signed = await runCli(['pools', '--auth', 'iam', '--region', 'eu-west-1', '--json'], {
        ...noCredentials,
        LIBRA_ENDPOINT: proxy.url,
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
        AWS_SESSION_TOKEN: 'session-token',
      });
      expect(signed).toMatchObject({ code: 0, stderr: '' });
      const [request] = proxy.requests;
      expect(request?.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=accept;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
      );
      expect(request?.headers['x-amz-security-token']).toBe('session-token');
      expect(request?.headers['x-libra-user']).toBeUndefined();
    } finally {
      await proxy.close();
    }
    const unsigned = await runCli(['pools', '--auth', 'iam', '--region', 'eu-west-1'], noCredentials);
    expect(unsigned.code).toBe(2);
    expect(unsigned.stdout).toBe('');
    expect(unsigned.stderr).toMatch(/^libra: no AWS credentials found \(.+\)\n$/);
    const noRegion = await runCli(['pools', '--auth', 'iam'], {
      ...noCredentials,
      AWS_REGION: '',
      AWS_DEFAULT_REGION: '',
    });
    expect(noRegion).toMatchObject({
      code: 2,
      stderr: 'libra: iam auth needs a region: 127.0.0.1:8080 names none; give one, or set AWS_REGION\n',
    });
  });

  it('endpoint and auth come from flags over the environment over the config file', async () => {
    const { stdout } = await cli(['submit', '--sql', 'SELECT 1']);
    const jobId = stdout.trim();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ endpoint: runtime.url, user: 'local-user' }));
    const fromFile = await runCli(['status', jobId, '--json'], { LIBRA_CLI_CONFIG: config });
    expect(fromFile.code).toBe(0);
    const asMallory = await runCli(['status', jobId], { LIBRA_CLI_CONFIG: config, LIBRA_USER: 'mallory' });
    expect(asMallory).toMatchObject({
      code: 2,
      stderr: `libra: GET /api/v1/spark/jobs/${jobId}: HTTP 404 Not found: no job ${jobId}\n`,
    });
    const flagWins = await runCli(['status', jobId, '--user', 'local-user', '--config', config], {
      LIBRA_USER: 'mallory',
    });
    expect(flagWins.code).toBe(0);
    const port = await freePort();
    const envOverFile = await runCli(['pools'], {
      LIBRA_CLI_CONFIG: config,
      LIBRA_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    expect(envOverFile.code).toBe(3);
    writeFileSync(config, JSON.stringify({ endpoint: runtime.url, colour: 'blue' }));
    const badFile = await runCli(['pools'], { LIBRA_CLI_CONFIG: config });
    expect(badFile).toMatchObject({
      code: 2,
      stderr: `libra: config file ${config}: unknown key 'colour'; keys: endpoint, auth, token, user, profile, region\n`,
    });
    const missing = await runCli(['pools', '--config', join(dir, 'none.json')]);
    expect(missing).toMatchObject({
      code: 2,
      stderr: `libra: config file ${join(dir, 'none.json')}: ENOENT\n`,
    });
  });

  it("npm exec libra runs the package's own bin, with no install (what ./npmw exec libra does)", async () => {
    // npm itself rather than ./npmw, which would first reinstall node_modules when the lock changed.
    const { stdout } = await promisify(execFile)('npm', ['exec', 'libra', '--', 'pools', '--json'], {
      env: { ...process.env, ...env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
    });
    expect(JSON.parse(stdout).pools.map((pool: { name: string }) => pool.name)).toContain('default');
  }, 60_000);

  it('openapi prints the committed document, or with --remote the one the endpoint serves', async () => {
    const local = await cli(['openapi']);
    const remote = await cli(['openapi', '--remote']);
    if (existsSync('docs/openapi.json')) {
      expect(local).toMatchObject({ code: 0, stdout: readFileSync('docs/openapi.json', 'utf8') });
    } else {
      expect(local).toEqual(remote);
    }
    const served = await fetch(`${runtime.url}/api/v1/openapi.json`);
    if (served.status === 200) {
      expect(remote.code).toBe(0);
      expect(JSON.parse(remote.stdout)).toEqual(await served.json());
    } else {
      expect(remote).toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/^libra: GET \/api\/v1\/openapi\.json: HTTP 404/),
      });
    }
  });
});
