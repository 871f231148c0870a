import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHECKS, type CheckResult } from '../../bin/smoke/checks.ts';
import { parseSmokeArgs, type SmokeCommand, USAGE, UsageError } from '../../bin/smoke/options.ts';
import { formatTable } from '../../bin/smoke/table.ts';

/** The smoke's command line: what each option means, its defaults, and a one-line error for every bad one. */

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const API = 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/';

function parse(args: string[], env: NodeJS.ProcessEnv = {}): SmokeCommand {
  const command = parseSmokeArgs(args, env);
  if (command === 'help') throw new Error('help');
  return command;
}

function refused(args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parse(args, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`accepted: ${args.join(' ')}`);
}

describe('smoke options', () => {
  it('defaults to IAM with the region of an API Gateway endpoint, and 15 minutes per wait', () => {
    expect(parse(['--endpoint', API])).toEqual({
      endpoint: new URL(API),
      auth: { mode: 'iam', region: 'eu-west-1' },
      timeoutMs: 900_000,
    });
  });

  it('defaults to the local header on a loopback endpoint, as user libra-smoke unless --user says', () => {
    expect(parse(['--endpoint', 'http://127.0.0.1:8080']).auth).toEqual({
      mode: 'local',
      user: 'libra-smoke',
    });
    expect(parse(['--endpoint', 'http://localhost:8080', '--user', 'alice']).auth).toEqual({
      mode: 'local',
      user: 'alice',
    });
  });

  it('takes the region from --region, else AWS_REGION, for an endpoint that does not name one', () => {
    const custom = ['--endpoint', 'https://libra.example.com/', '--auth', 'iam'];
    expect(parse([...custom, '--region', 'us-east-2']).auth).toEqual({ mode: 'iam', region: 'us-east-2' });
    expect(parse(custom, { AWS_REGION: 'ap-south-1' }).auth).toEqual({ mode: 'iam', region: 'ap-south-1' });
    expect(refused(custom)).toBe(
      "--auth iam needs the API's region: libra.example.com does not name one; give --region R",
    );
  });

  it('takes a JWT from --token, else LIBRA_TOKEN, and refuses jwt without one', () => {
    expect(parse(['--endpoint', API, '--auth', 'jwt', '--token', 'abc']).auth).toEqual({
      mode: 'jwt',
      token: 'abc',
    });
    expect(parse(['--endpoint', API, '--auth', 'jwt'], { LIBRA_TOKEN: 'def' }).auth).toEqual({
      mode: 'jwt',
      token: 'def',
    });
    expect(refused(['--endpoint', API, '--auth', 'jwt'])).toBe(
      '--auth jwt needs a token: --token T or LIBRA_TOKEN',
    );
  });

  it('reads durations in seconds, minutes or hours', () => {
    expect(parse(['--endpoint', API, '--timeout', '90']).timeoutMs).toBe(90_000);
    expect(parse(['--endpoint', API, '--timeout', '45s']).timeoutMs).toBe(45_000);
    expect(parse(['--endpoint', API, '--timeout', '20m']).timeoutMs).toBe(1_200_000);
    expect(parse(['--endpoint', API, '--timeout', '1h']).timeoutMs).toBe(3_600_000);
    expect(refused(['--endpoint', API, '--timeout', 'soon'])).toMatch(/^--timeout must be a duration/);
    expect(refused(['--endpoint', API, '--timeout', '0'])).toMatch(/^--timeout must be a duration/);
  });

  it('a local receiver listens on a free loopback port; a public URL needs the address it forwards to', () => {
    expect(
      parse(['--endpoint', API, '--webhook-receiver', 'local', '--webhook-secret', SECRET]),
    ).toMatchObject({
      receiver: { host: '127.0.0.1', port: 0, secret: SECRET },
    });
    expect(
      parse(
        [
          '--endpoint',
          API,
          '--webhook-receiver',
          'https://hooks.example.com/libra',
          '--webhook-listen',
          '0.0.0.0:8443',
        ],
        { LIBRA_WEBHOOK_SECRET: SECRET },
      ),
    ).toMatchObject({
      receiver: { host: '0.0.0.0', port: 8443, publicUrl: 'https://hooks.example.com/libra', secret: SECRET },
    });
    expect(
      parse(['--endpoint', API, '--webhook-receiver', 'https://h.example.com/', '--webhook-listen', '9000'], {
        LIBRA_WEBHOOK_SECRET: SECRET,
      }).receiver,
    ).toMatchObject({ host: '127.0.0.1', port: 9000 });
    expect(
      refused([
        '--endpoint',
        API,
        '--webhook-receiver',
        'https://h.example.com/',
        '--webhook-secret',
        SECRET,
      ]),
    ).toBe(
      '--webhook-receiver https://h.example.com/ needs --webhook-listen [HOST:]PORT: where the smoke listens for what that URL forwards',
    );
    expect(refused(['--endpoint', API, '--webhook-receiver', 'local'])).toMatch(
      /^--webhook-receiver needs the pool's signing secret/,
    );
    expect(
      refused(['--endpoint', API, '--webhook-receiver', 'local', '--webhook-secret', 'hunter2']),
    ).toMatch(/^--webhook-secret must be a Standard Webhooks secret/);
    expect(refused(['--endpoint', API, '--webhook-listen', '8443'])).toBe(
      '--webhook-listen goes with --webhook-receiver',
    );
  });

  it('refuses a missing or malformed endpoint, an unknown auth or option, in one line each', () => {
    expect(refused([])).toBe("--endpoint is required: the stack's ApiUrl output");
    expect(refused(['--endpoint', 'not a url'])).toBe('--endpoint must be a URL, got "not a url"');
    expect(refused(['--endpoint', 'ftp://x/'])).toBe('--endpoint must be an http(s) URL, got "ftp://x/"');
    expect(refused(['--endpoint', `${API}?x=1`])).toMatch(/without a query/);
    expect(refused(['--endpoint', API, '--auth', 'basic'])).toBe(
      '--auth must be iam, jwt or local, got "basic"',
    );
    expect(refused(['--endpoint', API, '--pool', 'Bad_Pool'])).toBe(
      '--pool must be a pool name, got "Bad_Pool"',
    );
    expect(refused(['--endpoint', API, '--colour'])).toMatch(/--colour/);
    expect(parseSmokeArgs(['--help'], {})).toBe('help');
  });
});

describe('the pass/fail table', () => {
  it('has one row per check with its result, duration and detail, and a count', () => {
    const rows: CheckResult[] = [
      { check: CHECKS.api, outcome: 'PASS', durationMs: 120, detail: 'pools: default' },
      { check: CHECKS.sql, outcome: 'FAIL', durationMs: 61_049, detail: 'job-1 ended FAILED' },
      { check: CHECKS.webhook, outcome: 'SKIP', durationMs: 0, detail: 'no --webhook-receiver given' },
    ];
    expect(formatTable(rows).split('\n')).toEqual([
      'check                     result  time    detail',
      'api: list pools           PASS    0.1 s   pools: default',
      'sql: SELECT 1             FAIL    61.0 s  job-1 ended FAILED',
      'webhook: signed delivery  SKIP    0.0 s   no --webhook-receiver given',
      '',
      '1 passed, 1 failed, 1 skipped',
    ]);
  });
});

describe("docs/deploy.md's smoke section", () => {
  const doc = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8');
  const section = doc.split('## Smoke test after `cdk deploy`')[1]?.split('\n## ')[0] ?? '';

  it('lists every check by the name the table gives it, and no other', () => {
    const documented = section.split('\n').flatMap((line) => /^\| `([^`]+)` \|/.exec(line)?.[1] ?? []);
    expect(documented).toEqual(Object.values(CHECKS));
  });

  it('names only options the smoke takes', () => {
    // The smoke's own command lines (with their continuations), and the prose's code spans.
    const commands = [...section.matchAll(/\.\/npmw run smoke --((?:[^\n]*\\\n)*[^\n]*)/g)].map((m) => m[1]);
    const spans = [...section.matchAll(/`(--[^`]+)`/g)].map((m) => m[1]);
    const named = new Set(
      [...commands, ...spans].flatMap((text) =>
        [...(text ?? '').matchAll(/(?<![\w-])--([a-z][a-z-]+)/g)].map((m) => m[1]),
      ),
    );
    expect(named.size).toBeGreaterThan(5);
    const taken = new Set([...USAGE.matchAll(/--([a-z][a-z-]+)/g)].map((match) => match[1]));
    expect([...named].filter((option) => !taken.has(option))).toEqual([]);
  });
});
