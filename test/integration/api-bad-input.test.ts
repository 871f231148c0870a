import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Api,
  composedApi,
  iamCaller,
  itemCount,
  type Reply,
  type SubmitOptions,
  sqlJob,
  submitEvent,
  testConfig,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

const KIB = 1024;
const CALLER = iamCaller('careless');

let db: TestDatabase;
let api: Api;
let itemsBefore: number;

beforeAll(async () => {
  db = await startTestDatabase();
  api = composedApi(
    db,
    testConfig({
      pools: {
        tiny: { cpuCores: 4, memoryGb: 8 },
        private: { allowedPrincipals: [iamCaller('insider')] },
        eks: {
          backends: {
            eks: { virtualClusterId: 'abc123', executionRoleArn: 'arn:aws:iam::123456789012:role/etl' },
          },
        },
      },
    }),
  );
});
beforeEach(async () => {
  itemsBefore = await itemCount(db);
});
afterAll(async () => {
  await db?.stop();
});

/**
 * Submits a request that must be refused, with an Idempotency-Key so that not even the key
 * may be claimed, and checks the problem shape and that the table did not change.
 */
async function refused(status: number, body: unknown, options: SubmitOptions = {}): Promise<Reply> {
  const reply = await api.submit(submitEvent(CALLER, body, { idempotencyKey: 'careless-1', ...options }));
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(reply.headers['content-type']).toBe('application/problem+json');
  expect(reply.body).toMatchObject({
    status,
    type: expect.stringMatching(/^urn:libra:problem:/),
    title: expect.any(String),
    detail: expect.any(String),
    instance: '/api/v1/spark/jobs/submit',
  });
  expect(Array.isArray(reply.body.errors)).toBe(true);
  expect(await itemCount(db)).toBe(itemsBefore);
  return reply;
}

const fields = (reply: Reply) => reply.body.errors.map((e: { field: string }) => e.field);

/** An entryPoint job whose JSON body is exactly `bytes` long, padded in its arguments. */
function bodyOfBytes(bytes: number): string {
  const base = { entryPoint: 's3://libra-test-bucket/jobs/etl.py', entryPointArguments: [] as string[] };
  const empty = Buffer.byteLength(JSON.stringify(base));
  let left = bytes - empty;
  while (left > 0) {
    // Each further argument costs its length plus two quotes, plus a comma after the first.
    const overhead = base.entryPointArguments.length === 0 ? 2 : 3;
    const size = Math.min(10_000, left - overhead);
    base.entryPointArguments.push('a'.repeat(size));
    left -= size + overhead;
  }
  const text = JSON.stringify(base);
  expect(Buffer.byteLength(text)).toBe(bytes);
  return text;
}

describe('submit refuses bad bodies before any write', () => {
  it('400 for a body that is not JSON', async () => {
    for (const rawBody of ['{"code": "SELECT 1", "kind": "sql"', '', 'code=SELECT+1', '{code: 1}', 'nul']) {
      const reply = await refused(400, undefined, { rawBody });
      expect(fields(reply)).toEqual(['']);
    }
  });

  it('400 for JSON that is not an object', async () => {
    for (const body of [null, [], [sqlJob()], 'SELECT 1', 42, true]) {
      await refused(400, body);
    }
  });

  it('415 for a body of another media type, or of none', async () => {
    for (const contentType of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'application/jsonp',
      null,
    ]) {
      await refused(415, sqlJob(), { contentType });
    }
  });

  it('accepts JSON media types with parameters, in any case', async () => {
    for (const contentType of [
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/vnd.libra+json',
    ]) {
      const reply = await api.submit(submitEvent(CALLER, sqlJob(), { contentType }));
      expect(reply.status, contentType).toBe(202);
    }
  });

  it('413 for a body over 256 KiB, also when base64-encoded; 256 KiB exactly is read, then refused for its workflow input', async () => {
    await refused(413, undefined, { rawBody: bodyOfBytes(256 * KIB + 1) });
    await refused(413, undefined, { rawBody: bodyOfBytes(256 * KIB + 1), base64: true });
    await refused(413, undefined, { rawBody: 'x'.repeat(300 * KIB), contentType: 'text/plain' });

    // Taken by the body limit, but the execution input built from it would pass Step Functions' limit.
    const exact = await refused(400, undefined, { rawBody: bodyOfBytes(256 * KIB) });
    expect(exact.body.errors).toEqual([
      { field: '', message: expect.stringMatching(/stepfunctions StartExecution input, max 262144\)$/) },
    ]);
    const fits = await api.submit(submitEvent(CALLER, undefined, { rawBody: bodyOfBytes(250 * KIB) }));
    expect(fits.status).toBe(202);
  });

  it("400 naming the field and AWS's limit for what EMR would refuse", async () => {
    const job = (overrides: Readonly<Record<string, unknown>>) => ({
      entryPoint: 's3://libra-test-bucket/jobs/etl.py',
      ...overrides,
    });
    const manyProperties = Object.fromEntries(
      Array.from({ length: 101 }, (_, i) => [`spark.sql.custom.k${i}`, 'v']),
    );
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [
        job({ sparkConf: manyProperties }),
        'sparkConf',
        /at most 100 properties, got 101 .*properties, max 100/,
      ],
      [
        job({ sparkConf: { 'spark.sql.custom.a': 'x'.repeat(1025) } }),
        'sparkConf.spark.sql.custom.a',
        /max 1024/,
      ],
      [
        job({ sparkConf: { 'spark.sql.custom.a': '' } }),
        'sparkConf.spark.sql.custom.a',
        /properties\{value\}/,
      ],
      [
        job({ sparkConf: { 'spark.sql.custom.a': '   ' } }),
        'sparkConf.spark.sql.custom.a',
        /pattern \.\*\\S\.\*/,
      ],
      [job({ entryPointArguments: ['--day', ' '] }), 'entryPointArguments.1', /entryPointArguments\[\]/],
      [job({ entryPointArguments: [''] }), 'entryPointArguments.0', /must not be empty/],
      [job({ tags: { team: 'data,eng' } }), 'tags.team', /tags\{value\}, pattern/],
      [job({ tags: { owner: 'José' } }), 'tags.owner', /\[A-Za-z0-9 \/_.:=\+@-\]\*/],
      [
        job({ pool: 'eks', tags: Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`t${i}`, 'v'])) }),
        'tags',
        /at most 50 tags, got 51 \(AWS: emr-containers StartJobRun tags, max 50\); Libra adds its own/,
      ],
      [
        job({ pool: 'eks', entryPoint: `s3://libra-test-bucket/${'a'.repeat(240)}.py` }),
        'entryPoint',
        /emr-containers StartJobRun jobDriver\.sparkSubmitJobDriver\.entryPoint, max 256/,
      ],
      [
        job({ mainClass: `a${'b'.repeat(102_400)}`, entryPoint: 's3://libra-test-bucket/a.jar' }),
        'mainClass',
        /max 102400/,
      ],
    ];
    for (const [body, field, message] of cases) {
      const reply = await refused(400, body);
      expect(reply.body.errors, JSON.stringify(body).slice(0, 200)).toEqual([
        { field, message: expect.stringMatching(message) },
      ]);
    }
    // Just inside each limit is taken.
    const inside = [
      job({
        sparkConf: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`spark.sql.custom.k${i}`, 'v'])),
      }),
      job({ sparkConf: { 'spark.sql.custom.a': 'x'.repeat(1024) }, entryPointArguments: ['a b', '-'] }),
      job({ tags: { team: 'data eng/+=.:_@-' } }),
      job({ pool: 'eks', tags: Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`t${i}`, 'v'])) }),
      job({ pool: 'eks', tags: { team: 'data,eng José' } }),
      job({ pool: 'eks', entryPoint: `s3://libra-test-bucket/${'a'.repeat(230)}.py` }),
    ];
    for (const body of inside) {
      const reply = await api.submit(submitEvent(CALLER, body));
      expect(reply.status, JSON.stringify(reply.body).slice(0, 400)).toBe(202);
    }
  });

  it('413 for code over 128 KiB, counted in UTF-8 bytes; 128 KiB exactly is taken', async () => {
    const tooLong = await refused(413, sqlJob({ code: `SELECT '${'x'.repeat(128 * KIB)}'` }));
    expect(fields(tooLong)).toEqual(['code']);
    // 70,000 characters, 140,000 bytes.
    await refused(413, sqlJob({ code: 'é'.repeat(70_000) }));

    const exact = await api.submit(submitEvent(CALLER, sqlJob({ code: 's'.repeat(128 * KIB) })));
    expect(exact.status).toBe(202);
  });

  it('400 naming every field of the wrong type', async () => {
    const reply = await refused(
      400,
      sqlJob({
        priority: 'high',
        tags: ['a'],
        timeoutMinutes: 1.5,
        retryPolicy: { maxRetries: -1 },
        sparkConf: { 'spark.executor.instances': 4 },
        retryOnTimeout: 'yes',
      }),
    );
    expect(fields(reply).sort()).toEqual(
      [
        'priority',
        'retryOnTimeout',
        'retryPolicy.maxRetries',
        'sparkConf.spark.executor.instances',
        'tags',
        'timeoutMinutes',
      ].sort(),
    );

    expect(fields(await refused(400, sqlJob({ code: 42 })))).toEqual(['code']);
    expect(fields(await refused(400, sqlJob({ priority: 11 })))).toEqual(['priority']);
    expect(fields(await refused(400, sqlJob({ executionMode: 'yarn' })))).toEqual(['executionMode']);
    expect(fields(await refused(400, sqlJob({ kind: 'scala' })))).toEqual(['kind']);
  });

  it('400 naming unknown fields, nested ones too', async () => {
    expect(fields(await refused(400, sqlJob({ owner: 'someone-else' })))).toEqual(['owner']);
    expect(
      fields(await refused(400, sqlJob({ executionRoleArn: 'arn:aws:iam::123456789012:role/admin' }))),
    ).toEqual(['executionRoleArn']);
    expect(fields(await refused(400, sqlJob({ retryPolicy: { maxRetries: 1, jitter: true } })))).toEqual([
      'retryPolicy.jitter',
    ]);
  });

  it('400 naming missing fields', async () => {
    expect(fields(await refused(400, {}))).toContain('code');
    expect(fields(await refused(400, { code: 'SELECT 1' }))).toEqual(['kind']);
    expect(fields(await refused(400, { kind: 'sql' }))).toContain('code');
    expect(fields(await refused(400, { ...sqlJob(), entryPoint: 's3://libra-test-bucket/a.py' }))).toContain(
      'code',
    );
  });

  it('400 naming a forbidden Spark conf key', async () => {
    for (const key of [
      'spark.hadoop.fs.s3a.aws.credentials.provider',
      'spark.hadoop.fs.s3a.assumed.role.arn',
      'spark.kubernetes.driver.podTemplateFile',
      'spark.kubernetes.authenticate.driver.serviceAccountName',
      'spark.emr-serverless.executionRoleArn',
    ]) {
      const reply = await refused(400, sqlJob({ sparkConf: { [key]: 'x' } }));
      expect(fields(reply)).toEqual([`sparkConf.${key}`]);
      expect(reply.body.errors[0].message).toContain(key);
    }
  });

  it('400 for an unknown pool, naming the pools there are', async () => {
    const reply = await refused(400, sqlJob({ pool: 'nope' }));
    expect(fields(reply)).toEqual(['pool']);
    expect(reply.body.errors[0].message).toContain('default');
  });

  it('403 for a pool the caller may not use', async () => {
    const reply = await refused(403, sqlJob({ pool: 'private' }));
    expect(fields(reply)).toEqual(['pool']);
  });

  it('400 for a job bigger than its pool', async () => {
    const reply = await refused(
      400,
      sqlJob({ pool: 'tiny', sparkConf: { 'spark.executor.instances': '8', 'spark.executor.cores': '2' } }),
    );
    expect(fields(reply)).toContain('sparkConf');
    expect(reply.body.errors[0].message).toContain("pool 'tiny'");
    await refused(400, sqlJob({ sparkConf: { 'spark.executor.memory': '2t' } }));
  });

  it('400 for a duration warning the run would time out before, its own timeout or its pool default', async () => {
    const own = await refused(400, sqlJob({ timeoutMinutes: 10, warnAfterMinutes: 10 }));
    expect(own.body.errors).toEqual([
      {
        field: 'warnAfterMinutes',
        message: 'must be less than timeoutMinutes (10): the run times out first',
      },
    ]);
    const pooled = await refused(400, sqlJob({ pool: 'tiny', warnAfterMinutes: 720 }));
    expect(fields(pooled)).toEqual(['warnAfterMinutes']);
    expect(pooled.body.errors[0].message).toContain('720 minutes');
    expect(fields(await refused(400, sqlJob({ warnAfterMinutes: 0 })))).toEqual(['warnAfterMinutes']);
  });

  it('400 for a plain-http webhook', async () => {
    const reply = await refused(
      400,
      sqlJob({ notifications: { webhook: 'http://hooks.example.com/libra' } }),
    );
    expect(fields(reply)).toEqual(['notifications.webhook']);
  });
});
