import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactLocations } from '#adapters/aws-backends.ts';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import type { LibraError } from '#core/errors.ts';
import { type JobRecord, newJobId } from '#core/job-record.ts';
import { awsRefusals, prepareJob } from '#core/use-cases/submit-job.ts';
import { type BackendTargets, workflowInput } from '#core/workflow-input.ts';
import { type Api, composedApi, iamCaller, submitEvent, testConfig } from '../support/api.ts';
import {
  constraintCount,
  RUN_STATE,
  shapeViolations,
  startExecutionRequest,
  taskParameters,
} from '../support/aws-contract.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

/**
 * The contract with AWS: every request submit accepts makes calls AWS's API models accept, and
 * every request whose calls they would refuse is refused at submit. Requests run through the
 * real submit handler; the accepted job, read back from the table, through the launcher and the
 * Step Functions adapter (the StartExecution admission sends) and the workflow's Run state
 * (the StartJobRun it sends, Parameters applied by aws-local-stepfunctions, for the first
 * attempt and the last); the calls are validated against the models' shapes.
 */

const CALLER = iamCaller('contract');
const BUCKET = 'libra-test-bucket';
const ENTRY_PREFIX = `s3://${BUCKET}/`;
const config = testConfig({
  pools: {
    default: { maxQueueSize: 1_000_000, backends: { emrServerless: {} } },
    eks: {
      maxQueueSize: 1_000_000,
      backends: {
        eks: {
          virtualClusterId: 'x8pkq3aj4nd2b7c1v9m0h6f5e',
          executionRoleArn: 'arn:aws:iam::123456789012:role/libra-eks-jobs',
        },
      },
    },
  },
});

/** What the stack resolves for admission (LIBRA_BACKENDS): the application and role it creates. */
const DEPLOYED: Readonly<Record<string, BackendTargets>> = {
  default: {
    emrServerless: {
      applicationId: '00fkv3qbqc9ab12c',
      executionRoleArn: `arn:aws:iam::123456789012:role/${'LibraStack-SparkBackendsExecutionRole'.padEnd(64, 'A')}`,
    },
  },
  eks: {
    eks: {
      virtualClusterId: 'x8pkq3aj4nd2b7c1v9m0h6f5e',
      executionRoleArn: 'arn:aws:iam::123456789012:role/libra-eks-jobs',
      releaseLabel: 'emr-7.5.0-latest',
    },
  },
};
/**
 * The longest artifacts bucket name S3 allows, and where drivers report progress: the job table
 * as CloudFormation names it for the stack.
 */
const LOCATIONS = artifactLocations('librastack-artifactsbucket'.padEnd(63, '0'), {
  table: 'LibraStack-LibraJobStoreTable586724A3-1R2V3BQ4XYZ5A',
  region: 'eu-west-1',
});
const SFN_INPUT_MAX = 262_144;
const SPARK_SUBMIT_PARAMETERS_MAX = 102_400;

let db: TestDatabase;
let api: Api;
let store: DynamoJobStore;

beforeAll(async () => {
  db = await startTestDatabase();
  api = composedApi(db, config);
  store = new DynamoJobStore({
    client: db.documentClient,
    tableName: db.tableName,
    retentionDays: config.retention.days,
  });
});

type Outcome =
  | 'accepted'
  | 'refused: AWS would refuse'
  | 'refused: input bound'
  | 'refused by the schema'
  | 'refused: body over the limit';
const counts = new Map<string, number>();
const count = (pool: string, outcome: Outcome) => {
  const key = `${pool === 'eks' ? 'eks' : 'emr-serverless'}: ${outcome}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
};

afterAll(async () => {
  await db?.stop();
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  console.info(
    `AWS contract: ${total} requests, ${constraintCount()} model constraints\n${[...counts]
      .sort()
      .map(([k, v]) => `  ${k}: ${v}`)
      .join('\n')}`,
  );
});

/** Each way the calls made for this job break AWS's models. */
async function violationsOf(job: JobRecord): Promise<string[]> {
  const targets = DEPLOYED[job.pool] ?? {};
  const start = await startExecutionRequest(job, targets, LOCATIONS, config.retention.days);
  const violations = shapeViolations('stepFunctions', start).map((v) => `StartExecution ${v}`);
  const input = JSON.parse(start.input ?? '') as { lastAttempt: number };
  for (const attempt of new Set([0, input.lastAttempt])) {
    const sent = await taskParameters(RUN_STATE[job.backend], { ...input, try: { attempt, delay: 0 } });
    const api = job.backend === 'eks' ? 'eks' : 'emrServerless';
    violations.push(...shapeViolations(api, sent).map((v) => `StartJobRun (attempt ${attempt}) ${v}`));
  }
  return violations;
}

/** One request through submit and, when accepted, through the calls it makes. */
async function contract(body: Record<string, unknown>): Promise<Outcome> {
  const pool = String(body.pool ?? 'default');
  const reply = await api.submit(submitEvent(CALLER, body));
  if (reply.status === 413) {
    // Libra's body limit, before anything is parsed.
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(config.limits.maxBodyBytes);
    count(pool, 'refused: body over the limit');
    return 'refused: body over the limit';
  }
  let wouldBe: JobRecord;
  try {
    wouldBe = prepareJob(config, CALLER, body, {
      allowInsecureWebhooks: false,
      now: new Date().toISOString(),
    }).jobWithId(newJobId());
  } catch (error) {
    // Libra's own rules, and AWS's limits the schema applies to both backends.
    expect(reply.status).toBe((error as LibraError).status);
    count(pool, 'refused by the schema');
    return 'refused by the schema';
  }
  if (reply.status === 202) {
    const stored = await store.getJob(reply.body.jobId);
    expect(stored).toBeDefined();
    expect(await violationsOf(stored as JobRecord)).toEqual([]);
    count(pool, 'accepted');
    return 'accepted';
  }
  expect(reply.status, JSON.stringify(reply.body).slice(0, 500)).toBe(400);
  expect(reply.body.detail).toBe('AWS would refuse to run this job');
  for (const problem of reply.body.errors) expect(problem.message).toMatch(/\(AWS: [a-z-]+ [A-Za-z]+ .+\)/);
  const violations = await violationsOf(wouldBe);
  if (violations.length > 0) {
    count(pool, 'refused: AWS would refuse');
    return 'refused: AWS would refuse';
  }
  // AWS would take it: only the measures made with the longest targets submit does not know (the
  // bucket, the job table's name in the driver's progress variable) may refuse it: the execution
  // input, and the spark-submit parameters that carry that variable.
  expect(reply.body.errors).toEqual([
    expect.objectContaining({
      message: expect.stringMatching(
        /(stepfunctions StartExecution input, max 262144|StartJobRun jobDriver\.spark[A-Za-z]+\.sparkSubmitParameters, max 102400.*)\)$/,
      ),
    }),
  ]);
  const deployed = workflowInput(wouldBe, DEPLOYED[pool] ?? {}, LOCATIONS, config.retention.days);
  if (reply.body.errors[0]?.field === '') {
    const actual = Buffer.byteLength(JSON.stringify(deployed));
    expect(actual).toBeLessThanOrEqual(SFN_INPUT_MAX);
    expect(actual).toBeGreaterThan(SFN_INPUT_MAX - 4096);
  } else {
    const run =
      deployed.request.emrServerless?.JobDriver.SparkSubmit ??
      deployed.request.eks?.JobDriver.SparkSubmitJobDriver;
    const actual = run?.SparkSubmitParameters.length ?? 0;
    expect(actual).toBeLessThanOrEqual(SPARK_SUBMIT_PARAMETERS_MAX);
    // Within what the longest table name and region add over the deployed ones.
    expect(actual).toBeGreaterThan(SPARK_SUBMIT_PARAMETERS_MAX - 512);
  }
  count(pool, 'refused: input bound');
  return 'refused: input bound';
}

// Generators: lengths at every AWS edge (one below, at, one above) and in between; text of one
// repeated character with one other character placed anywhere, so patterns are met and broken.
// Most requests keep most fields plain, so that one field at its edge decides the outcome.
const around = (edges: readonly number[], plain: fc.Arbitrary<number> = fc.integer({ min: 1, max: 3 })) =>
  fc.oneof(
    { weight: 2, arbitrary: plain },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        ...edges.flatMap((edge) => [edge - 1, edge, edge + 1]).filter((n) => n >= 0),
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: Math.max(...edges) + 1 }) },
  );
const ODD = [',', 'é', ' ', '\t', '\u00a0', '\u2028', '+', '@', '/', ':', '<'];
const textAround = (edges: readonly number[], fillers = ['a', 'Z', '9', '.', '_', '-', ' '], odd = ODD) =>
  fc
    .record({
      n: around(edges),
      fill: fc.constantFrom(...fillers),
      odd: fc.oneof(
        { weight: 3, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: fc.constantFrom(...odd) },
      ),
      at: fc.nat(),
    })
    .map(({ n, fill, odd, at }) => {
      if (n === 0) return '';
      const base = fill.repeat(n);
      if (odd === '') return base;
      const i = at % n;
      return base.slice(0, i) + odd + base.slice(i + 1);
    });
const keyed = (prefix: string, n: number, value: string) =>
  Object.fromEntries(Array.from({ length: Math.max(0, n) }, (_, i) => [`${prefix}${i}`, value]));

const entryArb = fc.oneof(
  fc.record({ code: fc.constant('SELECT 1'), kind: fc.constantFrom('sql', 'python') }),
  fc
    .record({
      // The whole entry point around EMR on EKS's 256 and EMR Serverless's 4096.
      key: textAround(
        [256 - ENTRY_PREFIX.length - 3, 4096 - ENTRY_PREFIX.length - 3],
        ['a', 'Z', '9', '_'],
        ['é', ' '],
      ),
      ext: fc.constantFrom('.py', '.jar'),
      argument: fc.option(textAround([1, 10_240, 10_280])),
      moreArguments: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 20, max: 26 }),
      ),
      mainClass: fc.option(
        fc.oneof(fc.constant('com.example.Main'), fc.integer({ min: 101_800, max: 102_400 })),
      ),
    })
    .map(({ key, ext, argument, moreArguments, mainClass }) => ({
      entryPoint: `${ENTRY_PREFIX}${key}${ext}`,
      // Many long arguments take the execution input to Step Functions' limit.
      entryPointArguments: [
        ...(argument === null ? [] : [argument]),
        ...Array(moreArguments).fill('a'.repeat(10_240)),
      ],
      ...(ext === '.jar' &&
        mainClass !== null && {
          mainClass: typeof mainClass === 'number' ? `M${'a'.repeat(mainClass)}` : mainClass,
        }),
    })),
);

const requestArb = fc
  .record({
    pool: fc.constantFrom('default', 'eks'),
    entry: entryArb,
    properties: around([1, 100]),
    value: textAround([1, 1024]),
    propertyKey: textAround([1, 256], ['a', '.', '_', '-'], ['a']),
    sizing: fc.boolean(),
    tags: around([1, 48, 50, 198, 200]),
    tagKey: textAround([1, 128], ['a', 'Z', '9', ' ', '_'], [',', 'é']),
    tagValue: textAround([0, 1, 256]),
    maxRetries: fc.constantFrom(0, 3, 10),
    timeoutMinutes: fc.option(fc.constantFrom(1, 60, 10_080)),
  })
  .map((r) => ({
    pool: r.pool,
    ...r.entry,
    sparkConf: {
      ...keyed('spark.sql.custom.k', r.properties - 1, 'v'),
      ...(r.properties > 0 && { [`spark.sql.x.${r.propertyKey}`]: r.value }),
      ...(r.sizing && { 'spark.executor.instances': '3', 'spark.executor.memory': '2g' }),
    },
    tags: { ...keyed('t', r.tags - 1, 'v'), ...(r.tags > 0 && { [`k${r.tagKey}`]: r.tagValue }) },
    retryPolicy: { maxRetries: r.maxRetries },
    ...(r.timeoutMinutes !== null && { timeoutMinutes: r.timeoutMinutes }),
  }));

describe('the AWS contract: what submit accepts, AWS accepts', () => {
  it('holds at the edges the issue names, on both backends', async () => {
    const job = (pool: string, overrides: Record<string, unknown>) => ({
      pool,
      entryPoint: `${ENTRY_PREFIX}jobs/etl.py`,
      ...overrides,
    });
    const cases: [Record<string, unknown>, Outcome][] = [];
    for (const pool of ['default', 'eks']) {
      cases.push(
        [job(pool, { sparkConf: keyed('spark.sql.custom.k', 100, 'v') }), 'accepted'],
        [job(pool, { sparkConf: keyed('spark.sql.custom.k', 101, 'v') }), 'refused: AWS would refuse'],
        [job(pool, { sparkConf: { 'spark.sql.custom.v': 'x'.repeat(1024) } }), 'accepted'],
        [job(pool, { sparkConf: { 'spark.sql.custom.v': '' } }), 'refused: AWS would refuse'],
        [job(pool, { sparkConf: { 'spark.sql.custom.v': '   ' } }), 'refused: AWS would refuse'],
        [job(pool, { entryPointArguments: ['--day', '2026-01-01'] }), 'accepted'],
        [job(pool, { entryPointArguments: ['--day', ''] }), 'refused: AWS would refuse'],
        [job(pool, { entryPointArguments: ['  '] }), 'refused: AWS would refuse'],
        [job(pool, { tags: keyed('t', 48, 'v') }), 'accepted'],
        [
          job(pool, { entryPoint: `${ENTRY_PREFIX}${'a'.repeat(256 - ENTRY_PREFIX.length - 3)}.py` }),
          'accepted',
        ],
        [job(pool, { entryPointArguments: Array(25).fill('a'.repeat(10_240)) }), 'accepted'],
        [
          job(pool, { entryPointArguments: Array(26).fill('a'.repeat(10_240)) }),
          'refused: body over the limit',
        ],
        [
          job(pool, { entryPointArguments: [...Array(25).fill('a'.repeat(10_240)), 'p'.repeat(5_000)] }),
          'refused: AWS would refuse',
        ],
      );
    }
    cases.push(
      [job('eks', { tags: keyed('t', 49, 'v') }), 'refused: AWS would refuse'],
      [job('default', { tags: keyed('t', 198, 'v') }), 'accepted'],
      [
        job('eks', { entryPoint: `${ENTRY_PREFIX}${'a'.repeat(256 - ENTRY_PREFIX.length - 2)}.py` }),
        'refused: AWS would refuse',
      ],
      [
        job('default', { entryPoint: `${ENTRY_PREFIX}${'a'.repeat(4096 - ENTRY_PREFIX.length - 3)}.py` }),
        'accepted',
      ],
      [job('default', { tags: { team: 'data,eng' } }), 'refused: AWS would refuse'],
      [job('default', { tags: { owner: 'José' } }), 'refused: AWS would refuse'],
      [job('eks', { tags: { team: 'data,eng', owner: 'José' } }), 'accepted'],
      [job('eks', { tags: { team: '' } }), 'refused: AWS would refuse'],
      [job('default', { tags: { team: '' } }), 'accepted'],
    );
    for (const [body, expected] of cases) {
      expect(await contract(body), JSON.stringify(body).slice(0, 300)).toBe(expected);
    }
  });

  it('refuses at the execution input bound, which errs by the targets and bucket submit does not know', async () => {
    const padded = (pool: string, n: number) => ({
      pool,
      entryPoint: `${ENTRY_PREFIX}jobs/etl.py`,
      entryPointArguments: [...Array(25).fill('a'.repeat(10_240)), 'p'.repeat(n)],
    });
    for (const pool of ['default', 'eks']) {
      // The longest padding submit takes, found with the submit check alone.
      let [low, high] = [1, 10_240];
      while (low < high) {
        const mid = Math.ceil((low + high) / 2);
        const prepared = prepareJob(config, CALLER, padded(pool, mid), {
          allowInsecureWebhooks: false,
          now: '2026-01-01T00:00:00.000Z',
        });
        if (awsRefusals(prepared, newJobId(), config).length === 0) low = mid;
        else high = mid - 1;
      }
      expect(await contract(padded(pool, low))).toBe('accepted');
      // One byte more is refused although, with the targets the stack deploys, AWS would take it:
      // submit counts the bucket's name and the job table's at their longest, on both backends.
      expect(await contract(padded(pool, low + 1))).toBe('refused: input bound');
    }
  });

  it('holds for generated requests, valid, at every edge and just past it', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (body) => {
        await contract(body);
      }),
      { numRuns: 500 },
    );
    // The generators reach both sides of AWS's limits on both backends.
    for (const backend of ['emr-serverless', 'eks']) {
      expect(counts.get(`${backend}: accepted`) ?? 0).toBeGreaterThan(20);
      expect(counts.get(`${backend}: refused: AWS would refuse`) ?? 0).toBeGreaterThan(20);
    }
  });
});
