import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FieldProblem } from '#core/errors.ts';
import { type JobRequest, jobTypeOf, parseJobRequest } from '#core/job-request.ts';

/** The original Libra's examples (libra-phase1-summary.md), byte for byte. */
const SEED_SQL_JOB = `{
    "code": "spark.sql(\\"SELECT COUNT(*) FROM users\\").show()",
    "kind": "sql",
    "executionMode": "auto",
    "priority": 5,
    "retryPolicy": {
      "maxRetries": 3,
      "backoffMultiplier": 2
    },
    "notifications": {
      "webhook": "https://my-app.com/spark-webhook",
      "events": ["SUCCEEDED", "FAILED"]
    }
  }`;
const SEED_PYTHON_JOB = `{
    "code": "print(\\"Hello from async Spark!\\")",
    "kind": "python"
  }`;

const sqlJob = (extra: Record<string, unknown> = {}) => ({ code: 'SELECT 1', kind: 'sql', ...extra });
const jarJob = (extra: Record<string, unknown> = {}) => ({
  entryPoint: 's3://my-bucket/jobs/app.jar',
  ...extra,
});

function accepted(body: unknown): JobRequest {
  const result = parseJobRequest(body);
  if (!result.ok) throw new Error(`expected the request to parse, got ${JSON.stringify(result.errors)}`);
  return result.request;
}

function refused(body: unknown): FieldProblem[] {
  const result = parseJobRequest(body);
  if (result.ok) throw new Error(`expected the request to be refused, got ${JSON.stringify(result.request)}`);
  return result.errors;
}

const fields = (errors: FieldProblem[]) => errors.map((e) => e.field);

describe('job request: the seed examples', () => {
  it('parses the seed SQL job verbatim, keeping its retry policy and notifications', () => {
    // Prepare
    const body: unknown = JSON.parse(SEED_SQL_JOB);

    // Act
    const request = accepted(body);

    // Assess
    expect(request).toEqual({
      code: 'spark.sql("SELECT COUNT(*) FROM users").show()',
      kind: 'sql',
      executionMode: 'auto',
      priority: 5,
      retryPolicy: { maxRetries: 3, backoffMultiplier: 2, initialDelaySeconds: 1, maxDelaySeconds: 60 },
      retryOnTimeout: false,
      notifications: { webhook: 'https://my-app.com/spark-webhook', events: ['SUCCEEDED', 'FAILED'] },
      sparkConf: {},
      tags: {},
    });
    expect(jobTypeOf(request)).toBe('sql');
  });

  it('parses the seed python hello job and fills every default', () => {
    // Prepare
    const body: unknown = JSON.parse(SEED_PYTHON_JOB);

    // Act
    const request = accepted(body);

    // Assess
    expect(request).toEqual({
      code: 'print("Hello from async Spark!")',
      kind: 'python',
      executionMode: 'auto',
      priority: 5,
      retryPolicy: { maxRetries: 3, backoffMultiplier: 2, initialDelaySeconds: 1, maxDelaySeconds: 60 },
      retryOnTimeout: false,
      sparkConf: {},
      tags: {},
    });
    expect(jobTypeOf(request)).toBe('python');
  });
});

describe('job request: defaults', () => {
  it('defaults priority to 5, executionMode to auto and the retry policy to 3 retries, ×2, 1 s, 60 s', () => {
    // Act
    const request = accepted(sqlJob());

    // Assess
    expect(request.priority).toBe(5);
    expect(request.executionMode).toBe('auto');
    expect(request.retryPolicy).toEqual({
      maxRetries: 3,
      backoffMultiplier: 2,
      initialDelaySeconds: 1,
      maxDelaySeconds: 60,
    });
    expect(request.retryOnTimeout).toBe(false);
    expect(request.timeoutMinutes).toBeUndefined();
    expect(request.pool).toBeUndefined();
  });

  it('fills the retry policy fields a caller leaves out', () => {
    // Act
    const request = accepted(sqlJob({ retryPolicy: { maxRetries: 0 } }));

    // Assess
    expect(request.retryPolicy).toEqual({
      maxRetries: 0,
      backoffMultiplier: 2,
      initialDelaySeconds: 1,
      maxDelaySeconds: 60,
    });
  });

  it('subscribes a webhook with no events to the terminal states', () => {
    // Act
    const request = accepted(sqlJob({ notifications: { webhook: 'https://example.com/hook' } }));

    // Assess
    expect(request.notifications?.events).toEqual(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
  });
});

describe('job request: executionMode', () => {
  it.each([
    ['auto', 'auto'],
    ['emr-serverless', 'emr-serverless'],
    ['eks', 'eks'],
    ['in-cluster', 'emr-serverless'],
    ['spark-submit', 'emr-serverless'],
    ['kubernetes', 'eks'],
  ])('reads %s as %s', (given, expected) => {
    // Act
    const request = accepted(sqlJob({ executionMode: given }));

    // Assess
    expect(request.executionMode).toBe(expected);
  });

  it.each(['yarn', 'AUTO', 'local', '', 'toString', 'constructor', '__proto__'])(
    'refuses %j, naming the field and the accepted modes',
    (mode) => {
      // Act
      const errors = refused(sqlJob({ executionMode: mode }));

      // Assess
      expect(errors).toEqual([
        { field: 'executionMode', message: 'must be one of auto, emr-serverless, eks' },
      ]);
    },
  );

  it('refuses a mode that is not a string', () => {
    expect(fields(refused(sqlJob({ executionMode: 3 })))).toEqual(['executionMode']);
  });
});

describe('job request: what runs', () => {
  it('refuses a body with neither code nor entryPoint, naming code', () => {
    // Act
    const errors = refused({ kind: 'sql' });

    // Assess
    expect(errors).toEqual([{ field: 'code', message: 'exactly one of code and entryPoint is required' }]);
  });

  it('refuses a body with both code and entryPoint', () => {
    // Act
    const errors = refused(sqlJob({ entryPoint: 's3://my-bucket/app.py' }));

    // Assess
    expect(errors).toEqual([{ field: 'code', message: 'exactly one of code and entryPoint is required' }]);
  });

  it('requires kind with code, naming the accepted kinds', () => {
    // Act
    const errors = refused({ code: 'SELECT 1' });

    // Assess
    expect(errors).toEqual([{ field: 'kind', message: 'required with code: one of sql, python' }]);
  });

  it.each(['scala', 'java', 'SQL', ''])('refuses kind %j', (kind) => {
    expect(fields(refused({ code: 'x', kind }))).toEqual(['kind']);
  });

  it('refuses empty code', () => {
    expect(fields(refused({ code: '', kind: 'sql' }))).toEqual(['code']);
  });

  it.each([
    ['s3://my-bucket/jobs/etl.py', 'python'],
    ['s3://my-bucket/jobs/report.sql', 'sql'],
    ['s3://my-bucket/jobs/app.jar', 'jar'],
    ['s3://my-bucket/jobs/app', 'jar'],
  ])('types the entryPoint %s as %s', (entryPoint, type) => {
    expect(jobTypeOf(accepted({ entryPoint }))).toBe(type);
  });

  it('types a JAR with a mainClass as jar and keeps the class', () => {
    // Act
    const request = accepted(
      jarJob({ mainClass: 'com.example.etl.Main', entryPointArguments: ['--day', '1'] }),
    );

    // Assess
    expect(jobTypeOf(request)).toBe('jar');
    expect(request.mainClass).toBe('com.example.etl.Main');
    expect(request.entryPointArguments).toEqual(['--day', '1']);
  });

  it('lets kind name the type of an entryPoint without an extension', () => {
    expect(jobTypeOf(accepted({ entryPoint: 's3://my-bucket/jobs/report', kind: 'sql' }))).toBe('sql');
  });

  it.each([
    sqlJob({ mainClass: 'com.example.Main' }),
    { entryPoint: 's3://my-bucket/jobs/etl.py', mainClass: 'com.example.Main' },
    { entryPoint: 's3://my-bucket/jobs/report.sql', mainClass: 'com.example.Main' },
    { entryPoint: 's3://my-bucket/jobs/app', kind: 'python', mainClass: 'com.example.Main' },
  ])('refuses a mainClass on anything but a JAR: %j', (body) => {
    expect(refused(body)).toEqual([{ field: 'mainClass', message: 'only with a JAR entryPoint' }]);
  });

  it.each(['1com.example.Main', 'com..Main', 'com.example.Main; rm -rf /', ''])(
    'refuses mainClass %j',
    (mainClass) => {
      expect(fields(refused(jarJob({ mainClass })))).toEqual(['mainClass']);
    },
  );

  it.each([
    'https://my-bucket.s3.amazonaws.com/app.py',
    's3a://my-bucket/app.py',
    'S3://my-bucket/app.py',
    's3://my-bucket',
    's3://my-bucket/',
    's3://MyBucket/app.py',
    's3://ab/app.py',
    'file:///etc/passwd',
    '/tmp/app.py',
  ])('refuses the entryPoint %s: it must be an s3:// URI', (entryPoint) => {
    expect(refused({ entryPoint })).toEqual([{ field: 'entryPoint', message: 'must be an s3:// URI' }]);
  });

  it('accepts any object key under a valid bucket', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/),
        fc.stringMatching(/^[\w/.-]{1,200}$/),
        (bucket, key) => {
          expect(parseJobRequest({ entryPoint: `s3://${bucket}/${key}` }).ok).toBe(true);
        },
      ),
    );
  });
});

describe('job request: bounds', () => {
  it.each([1, 5, 10])('accepts priority %i', (priority) => {
    expect(accepted(sqlJob({ priority })).priority).toBe(priority);
  });

  it.each([0, 11, -1, 5.5, '5', null])('refuses priority %j', (priority) => {
    expect(fields(refused(sqlJob({ priority })))).toEqual(['priority']);
  });

  it('accepts every retry policy inside the bounds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 3600 }),
        fc.integer({ min: 1, max: 3600 }),
        (maxRetries, backoffMultiplier, a, b) => {
          const retryPolicy = {
            maxRetries,
            backoffMultiplier,
            initialDelaySeconds: Math.min(a, b),
            maxDelaySeconds: Math.max(a, b),
          };
          expect(accepted(sqlJob({ retryPolicy })).retryPolicy).toEqual(retryPolicy);
        },
      ),
    );
  });

  it.each([
    [{ maxRetries: -1 }, 'retryPolicy.maxRetries'],
    [{ maxRetries: 11 }, 'retryPolicy.maxRetries'],
    [{ maxRetries: 1.5 }, 'retryPolicy.maxRetries'],
    [{ backoffMultiplier: 0.5 }, 'retryPolicy.backoffMultiplier'],
    [{ backoffMultiplier: 11 }, 'retryPolicy.backoffMultiplier'],
    [{ initialDelaySeconds: 0 }, 'retryPolicy.initialDelaySeconds'],
    [{ initialDelaySeconds: 1.5 }, 'retryPolicy.initialDelaySeconds'],
    [{ maxDelaySeconds: 3601 }, 'retryPolicy.maxDelaySeconds'],
    [{ initialDelaySeconds: 120, maxDelaySeconds: 60 }, 'retryPolicy.initialDelaySeconds'],
  ])('refuses the retry policy %j, naming %s', (retryPolicy, field) => {
    expect(fields(refused(sqlJob({ retryPolicy })))).toEqual([field]);
  });

  it.each([0, 10_081, 2.5])('refuses timeoutMinutes %j', (timeoutMinutes) => {
    expect(fields(refused(sqlJob({ timeoutMinutes })))).toEqual(['timeoutMinutes']);
  });

  it('accepts timeoutMinutes from 1 minute to a week', () => {
    expect(accepted(sqlJob({ timeoutMinutes: 1 })).timeoutMinutes).toBe(1);
    expect(accepted(sqlJob({ timeoutMinutes: 10_080 })).timeoutMinutes).toBe(10_080);
  });

  it('refuses a webhook that is not http(s) and events that are not storable states', () => {
    // Act
    const errors = refused(
      sqlJob({ notifications: { webhook: 'ftp://example.com/hook', events: ['SUBMITTED', 'DONE'] } }),
    );

    // Assess
    expect(fields(errors).sort()).toEqual([
      'notifications.events.0',
      'notifications.events.1',
      'notifications.webhook',
    ]);
  });

  it("refuses more tags and conf keys than either backend's StartJobRun could take, naming AWS's limits", () => {
    // Prepare: EMR Serverless takes 200 tags (Libra adds 2), each backend 100 properties (sizing keys go elsewhere).
    const tags = Object.fromEntries(Array.from({ length: 199 }, (_, i) => [`t${i}`, 'v']));
    const sparkConf = Object.fromEntries(
      Array.from({ length: 115 }, (_, i) => [`spark.sql.custom.k${i}`, 'v']),
    );

    // Act
    const errors = refused(sqlJob({ tags, sparkConf }));

    // Assess
    expect(fields(errors)).toEqual(['tags', 'sparkConf']);
    expect(errors[0]?.message).toMatch(
      /^at most 198 tags \(AWS: emr-serverless StartJobRun tags, max 200; emr-containers StartJobRun tags, max 50;/,
    );
    expect(errors[1]?.message).toMatch(/^at most 114 keys \(AWS: .*properties, max 100;/);
  });

  it("refuses a conf value longer than EMR's properties take (1024, not Libra's former 4096)", () => {
    const errors = refused(sqlJob({ sparkConf: { 'spark.sql.custom.v': 'x'.repeat(1025) } }));
    expect(errors).toEqual([
      {
        field: 'sparkConf.spark.sql.custom.v',
        message: expect.stringMatching(/^at most 1024 characters \(AWS: /),
      },
    ]);
    expect(parseJobRequest(sqlJob({ sparkConf: { 'spark.sql.custom.v': 'x'.repeat(1024) } })).ok).toBe(true);
  });

  it('refuses a tag key with characters AWS tags do not allow', () => {
    // Act
    const errors = refused(sqlJob({ tags: { 'team<script>': 'x' } }));

    // Assess
    expect(fields(errors)).toEqual(['tags.team<script>']);
  });
});

describe('job request: strictness and error paths', () => {
  it('refuses an unknown top-level field, naming it', () => {
    expect(refused(sqlJob({ executionRole: 'arn:aws:iam::1:role/admin' }))).toEqual([
      { field: 'executionRole', message: 'unknown field' },
    ]);
  });

  it('refuses unknown nested fields, naming each by its dotted path', () => {
    // Act
    const errors = refused(
      sqlJob({
        retryPolicy: { maxRetries: 1, jitter: true },
        notifications: { webhook: 'https://example.com/h', secret: 's', headers: {} },
      }),
    );

    // Assess
    expect(errors).toEqual(
      expect.arrayContaining([
        { field: 'retryPolicy.jitter', message: 'unknown field' },
        { field: 'notifications.secret', message: 'unknown field' },
        { field: 'notifications.headers', message: 'unknown field' },
      ]),
    );
    expect(errors).toHaveLength(3);
  });

  it('names any unknown field, whatever it is called', () => {
    const known = new Set([
      'code',
      'kind',
      'entryPoint',
      'entryPointArguments',
      'mainClass',
      'executionMode',
      'priority',
      'retryPolicy',
      'retryOnTimeout',
      'notifications',
      'timeoutMinutes',
      'sparkConf',
      'name',
      'tags',
      'pool',
    ]);
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((k) => !known.has(k) && k !== '__proto__'),
        (key) => {
          const body = sqlJob();
          Object.defineProperty(body, key, { value: 1, enumerable: true });
          expect(refused(body)).toEqual([{ field: key, message: 'unknown field' }]);
        },
      ),
    );
  });

  it('reports several problems at once, each with a dotted field', () => {
    // Act
    const errors = refused(sqlJob({ priority: 0, retryPolicy: { maxRetries: 20 }, sparkConf: { k: 1 } }));

    // Assess
    expect(fields(errors).sort()).toEqual(['priority', 'retryPolicy.maxRetries', 'sparkConf.k']);
    for (const error of errors) expect(error.message.length).toBeGreaterThan(0);
  });

  it('names a refused Spark conf key inside sparkConf', () => {
    // Act
    const errors = refused(
      sqlJob({ sparkConf: { 'spark.kubernetes.driver.podTemplateFile': 's3://x/pod.yaml' } }),
    );

    // Assess
    expect(errors).toEqual([
      {
        field: 'sparkConf.spark.kubernetes.driver.podTemplateFile',
        message: 'spark.kubernetes.driver.podTemplateFile is not allowed: it sets the pod spec',
      },
    ]);
  });

  it.each([
    [null, 'expected object'],
    [[], 'expected object'],
    ['{"code":"x"}', 'expected object'],
    [42, 'expected object'],
  ])('refuses a body that is not an object (%j) as a whole', (body, text) => {
    // Act
    const errors = refused(body);

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]?.field).toBe('');
    expect(errors[0]?.message).toContain(text);
  });

  it('refuses wrong types, naming the field', () => {
    // Act
    const errors = refused(
      sqlJob({ retryOnTimeout: 'yes', sparkConf: { 'spark.executor.cores': 4 }, tags: [], name: '' }),
    );

    // Assess
    expect(fields(errors).sort()).toEqual([
      'name',
      'retryOnTimeout',
      'sparkConf.spark.executor.cores',
      'tags',
    ]);
  });
});

describe('job request: maps are read without a prototype', () => {
  const inherited = Object.getOwnPropertyNames(Object.prototype).filter((name) => name !== '__proto__');
  const tagKeyChars = fc.constantFrom(...'abcXYZ019_.:/=+-@ ');

  it('keeps every tag key, inherited names among them, on an object with no prototype', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.oneof(
            fc.constantFrom(...inherited),
            fc.string({ unit: tagKeyChars, minLength: 1, maxLength: 20 }),
          ),
          fc.string({ maxLength: 8 }),
          { maxKeys: 20 },
        ),
        (tags) => {
          const request = accepted(sqlJob({ tags }));
          expect(Object.getPrototypeOf(request.tags)).toBeNull();
          expect(Object.entries(request.tags)).toEqual(Object.entries(tags));
        },
      ),
    );
  });

  it('reads sparkConf onto an object with no prototype, so no lookup finds an inherited name', () => {
    const request = accepted(sqlJob({ sparkConf: { 'spark.sql.shuffle.partitions': '8' } }));
    expect(Object.getPrototypeOf(request.sparkConf)).toBeNull();
    expect(request.sparkConf.toString).toBeUndefined();
  });

  it('refuses __proto__ in tags and sparkConf by name, beside the other problems of the map', () => {
    const errors = refused(
      JSON.parse(
        '{"code":"SELECT 1","kind":"sql","tags":{"__proto__":"x","bad<key>":"y","ok":"z"},"sparkConf":{"__proto__":"1"}}',
      ),
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        { field: 'tags.__proto__', message: expect.stringMatching(/^__proto__ cannot be a key/) },
        { field: 'tags.bad<key>', message: 'letters, digits, spaces and _.:/=+-@ only' },
        { field: 'sparkConf.__proto__', message: expect.stringMatching(/^__proto__ cannot be a key/) },
      ]),
    );
    expect(errors).toHaveLength(3);
  });

  it('names a map that is not an object', () => {
    expect(refused(sqlJob({ tags: 'team=data' }))).toEqual([
      { field: 'tags', message: 'expected an object, got string' },
    ]);
    expect(refused(sqlJob({ sparkConf: [['k', 'v']] }))).toEqual([
      { field: 'sparkConf', message: 'expected an object, got an array' },
    ]);
  });
});
