import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { PROTO_KEY_MESSAGE } from '#core/keyed-record.ts';
import { s3ArtifactLocations, workflowInput } from '#core/workflow-input.ts';
import {
  type Api,
  composedApi,
  getEvent,
  iamCaller,
  itemCount,
  listEvent,
  type Reply,
  sqlJob,
  submitEvent,
  testConfig,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

/**
 * Request edges over the deployed wiring on dynalite: blank code, arguments inline code would
 * ignore, and keys that are also names on JavaScript's Object.prototype, in every map a request
 * carries, followed from the request to the DynamoDB item, the workflow input and the answers.
 */

const CALLER = iamCaller('edges');
/** Names every plain object inherits; each must be an ordinary tag key. `__proto__` is refused. */
const INHERITED_NAMES = Object.getOwnPropertyNames(Object.prototype).filter((name) => name !== '__proto__');

let db: TestDatabase;
let api: Api;
let itemsBefore: number;

beforeAll(async () => {
  db = await startTestDatabase();
  api = composedApi(db, testConfig({ pools: { etl: {} } }));
});
beforeEach(async () => {
  itemsBefore = await itemCount(db);
});
afterAll(async () => {
  await db?.stop();
});

/** Submits a raw JSON body (so `__proto__` stays an own key, as JSON.parse makes it). */
const submitRaw = (body: string) => api.submit(submitEvent(CALLER, undefined, { rawBody: body }));

async function expectRefused(reply: Reply, field: string, message: string | RegExp): Promise<void> {
  expect(reply.status, JSON.stringify(reply.body)).toBe(400);
  expect(reply.headers['content-type']).toBe('application/problem+json');
  expect(reply.body.errors).toContainEqual({
    field,
    message: typeof message === 'string' ? message : expect.stringMatching(message),
  });
  expect(await itemCount(db)).toBe(itemsBefore);
}

describe('submit refuses what would only fail or be ignored', () => {
  it.each([
    ['empty', ''],
    ['spaces', '   '],
    ['tabs and line breaks', '\t\n\r\n'],
    ['no-break and ideographic spaces', '\u00a0\u3000'],
    ['a byte order mark and zero-width characters', '\ufeff\u200b\u200d'],
  ])('refuses code that is %s with 400 naming code', async (_what, code) => {
    await expectRefused(
      await api.submit(submitEvent(CALLER, sqlJob({ code }))),
      'code',
      'must not be empty or only whitespace',
    );
  });

  it('takes code with whitespace around it', async () => {
    expect((await api.submit(submitEvent(CALLER, sqlJob({ code: '\n  SELECT 1\n' })))).status).toBe(202);
  });

  it.each([
    ['one argument', ['--date', '2025-01-01']],
    ['an empty list', []],
  ])('refuses entryPointArguments (%s) with inline code, which would ignore them', async (_what, args) => {
    await expectRefused(
      await api.submit(submitEvent(CALLER, sqlJob({ entryPointArguments: args }))),
      'entryPointArguments',
      /^only with an entryPoint: inline code takes no arguments/,
    );
  });

  it('takes entryPointArguments with an entryPoint', async () => {
    const reply = await api.submit(
      submitEvent(CALLER, { entryPoint: 's3://libra-test-bucket/jobs/etl.py', entryPointArguments: ['--x'] }),
    );
    expect(reply.status).toBe(202);
  });
});

describe('__proto__ and constructor in every map a request carries', () => {
  it('refuses __proto__ as a tag key or a Spark conf key, naming it, where it was dropped silently', async () => {
    await expectRefused(
      await submitRaw('{"code":"SELECT 1","kind":"sql","tags":{"__proto__":"x","team":"data"}}'),
      'tags.__proto__',
      PROTO_KEY_MESSAGE,
    );
    // An object value, which would have become the prototype of the tags, too.
    await expectRefused(
      await submitRaw('{"code":"SELECT 1","kind":"sql","tags":{"__proto__":{"polluted":"yes"}}}'),
      'tags.__proto__',
      PROTO_KEY_MESSAGE,
    );
    await expectRefused(
      await submitRaw('{"code":"SELECT 1","kind":"sql","sparkConf":{"__proto__":"1"}}'),
      'sparkConf.__proto__',
      PROTO_KEY_MESSAGE,
    );
  });

  it('refuses constructor as a Spark conf key with the allow-list reason', async () => {
    await expectRefused(
      await submitRaw('{"code":"SELECT 1","kind":"sql","sparkConf":{"constructor":"1"}}'),
      'sparkConf.constructor',
      /^constructor is not allowed: it is in none of the allowed families/,
    );
  });

  it.each([
    ['notifications', '"notifications":{"webhook":"https://example.com/hook",%KEY%:"x"}', 'notifications.'],
    ['retryPolicy', '"retryPolicy":{"maxRetries":1,%KEY%:"x"}', 'retryPolicy.'],
    ['the body itself', '%KEY%:"x"', ''],
  ])('refuses __proto__ and constructor in %s as unknown fields', async (_where, member, prefix) => {
    for (const key of ['__proto__', 'constructor']) {
      const body = `{"code":"SELECT 1","kind":"sql",${member.replace('%KEY%', JSON.stringify(key))}}`;
      await expectRefused(await submitRaw(body), `${prefix}${key}`, 'unknown field');
    }
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'answers a pool named %s with 400 unknown pool, not 500',
    async (pool) => {
      await expectRefused(
        await api.submit(submitEvent(CALLER, sqlJob({ pool }))),
        'pool',
        `no pool named '${pool}'; pools: default, etl`,
      );
    },
  );

  it.each(['constructor', 'toString', '__proto__'])(
    'refuses executionMode %s naming the modes',
    async (mode) => {
      await expectRefused(
        await api.submit(submitEvent(CALLER, sqlJob({ executionMode: mode }))),
        'executionMode',
        'must be one of auto, emr-serverless, eks',
      );
    },
  );

  it('keeps constructor and every other inherited name as tag keys: in DynamoDB, the workflow input, status and list', async () => {
    // Prepare
    const tags = Object.fromEntries(INHERITED_NAMES.map((name, i) => [name, `v${i}`]));
    expect(INHERITED_NAMES).toContain('constructor');

    // Act
    const reply = await api.submit(submitEvent(CALLER, sqlJob({ tags })));

    // Assess: the answer
    expect(reply.status, JSON.stringify(reply.body)).toBe(202);
    const jobId: string = reply.body.jobId;

    // The item as DynamoDB holds it, read without the document client's unmarshalling.
    const raw = await db.client.send(
      new GetItemCommand({
        TableName: db.tableName,
        Key: { pk: { S: `JOB#${jobId}` }, sk: { S: 'META' } },
        ConsistentRead: true,
      }),
    );
    const storedTags = raw.Item?.tags?.M ?? {};
    expect(Object.fromEntries(Object.entries(storedTags).map(([k, v]) => [k, v.S]))).toEqual(tags);

    // The workflow input admission builds from the stored record, as Step Functions receives it.
    const store = new DynamoJobStore({
      client: db.documentClient,
      tableName: db.tableName,
      retentionDays: 1,
    });
    const record = await store.getJob(jobId);
    expect(record?.tags).toEqual(tags);
    const input = workflowInput(
      record ?? expect.fail('job not stored'),
      { emrServerless: { applicationId: 'app', executionRoleArn: 'arn:aws:iam::123456789012:role/run' } },
      s3ArtifactLocations('libra-artifacts'),
      1,
    );
    const sent = JSON.parse(JSON.stringify(input));
    expect(sent.request.emrServerless.Tags).toEqual({
      ...tags,
      'libra:job-id': jobId,
      'libra:pool': 'default',
    });

    // The status view and the listing, and a tag filter on such a key.
    const status = await api.get(getEvent(CALLER, jobId));
    expect(status.body.tags).toEqual(tags);
    const listed = await api.list(listEvent(CALLER, { tag: `constructor=${tags.constructor}` }));
    expect(listed.body.jobs.map((job: { jobId: string }) => job.jobId)).toEqual([jobId]);
    expect(listed.body.jobs[0].tags).toEqual(tags);
    for (const name of ['toString', 'valueOf', 'hasOwnProperty']) {
      const byKey = await api.list(listEvent(CALLER, { tag: name }));
      expect(byKey.body.jobs.map((job: { jobId: string }) => job.jobId)).toEqual([jobId]);
    }
  });
});
