import { spawnSync } from 'node:child_process';
import * as s3 from '@aws-sdk/client-s3';
import * as sfn from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { PUT_CODE_ERRORS, S3ArtifactStore } from '#adapters/aws-backends.ts';
import { isPermanent } from '#adapters/aws-errors.ts';
import { atInit } from '#adapters/sdk.ts';
import { START_EXECUTION_ERRORS, StepFunctionsExecutions } from '#adapters/sfn-workflow-starter.ts';
import { StartRefused } from '#core/errors.ts';
import { MOTO_ACCOUNT, MOTO_REGION, motoClientConfig, motoName } from '../support/moto.ts';

/**
 * The adapters' sorting of start errors into refused for good (StartRefused: the job ends
 * START_FAILED) and transient (tried again, a bounded number of times): against Step Functions'
 * own model of StartExecution, against the SDK's exception classes, and against moto's answers.
 */

/** StartExecution's errors as Step Functions' model (botocore, installed on every machine here) lists them. */
function startExecutionErrorsInModel(): string[] {
  const script = [
    'import botocore, glob, gzip, json, os',
    "root = os.path.join(os.path.dirname(botocore.__file__), 'data', 'stepfunctions')",
    "path = sorted(glob.glob(os.path.join(root, '*', 'service-2.json.gz')))[-1]",
    'model = json.load(gzip.open(path))',
    "print(json.dumps([e['shape'] for e in model['operations']['StartExecution']['errors']]))",
  ].join('\n');
  const run = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
  if (run.error || run.status !== 0) {
    throw new Error(
      `this test needs python3 with botocore (its Step Functions model): ${run.error?.message ?? run.stderr.trim().split('\n').at(-1)}`,
    );
  }
  return JSON.parse(run.stdout) as string[];
}

/** An SDK service error as the SDK builds one from an answer it has no class for. */
function serviceError(name: string, status: number | undefined, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), {
    name,
    ...(status !== undefined && {
      $fault: status >= 500 ? 'server' : 'client',
      $metadata: { httpStatusCode: status },
    }),
    ...extra,
  });
}

describe("StartExecution's errors, sorted as Step Functions' model lists them", () => {
  const inModel = startExecutionErrorsInModel();

  it('every error the model lists is sorted: refused for good, transient, or a start already made', () => {
    const sorted = [
      ...START_EXECUTION_ERRORS.permanent,
      ...START_EXECUTION_ERRORS.transient,
      'ExecutionAlreadyExists',
    ];
    for (const name of inModel) expect(sorted, `${name} is not sorted`).toContain(name);
  });

  it('names no StartExecution error the model does not have, but the access denial every API answers', () => {
    for (const name of [...START_EXECUTION_ERRORS.permanent, ...START_EXECUTION_ERRORS.transient]) {
      if (name === 'AccessDeniedException') continue;
      expect(inModel, `${name} is not in the model`).toContain(name);
    }
  });

  it.each(inModel.filter((name) => name !== 'ExecutionAlreadyExists'))(
    'the SDK’s %s is sorted by its list',
    (name) => {
      const ErrorClass = (sfn as unknown as Record<string, new (options: unknown) => Error>)[name];
      expect(ErrorClass, `@aws-sdk/client-sfn has no ${name}`).toBeDefined();
      const error = new (ErrorClass as new (options: unknown) => Error)({
        message: 'm',
        $metadata: { httpStatusCode: 400 },
      });
      expect(isPermanent(error, START_EXECUTION_ERRORS)).toBe(
        START_EXECUTION_ERRORS.permanent.includes(name),
      );
    },
  );
});

describe('errors no model lists, by the SDK’s metadata', () => {
  it.each([
    ['throttling (ThrottlingException, 400)', serviceError('ThrottlingException', 400), false],
    ['any 429', serviceError('SomethingNew', 429), false],
    ['a server fault (500)', serviceError('InternalServerError', 500), false],
    ['unavailable (503)', serviceError('ServiceUnavailable', 503), false],
    ['a retryable trait', serviceError('SomethingNew', 400, { $retryable: {} }), false],
    ['expired credentials', serviceError('ExpiredTokenException', 400), false],
    [
      'a reset connection (no answer)',
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      false,
    ],
    ['a timeout (no answer)', serviceError('TimeoutError', undefined), false],
    ['access denied (403)', serviceError('AccessDeniedException', 403), true],
    ['an unlisted client fault (400)', serviceError('UnrecognizedClientException', 400), true],
    ['not an Error at all', 'boom', false],
  ])('%s: permanent %s', (_what, error, permanent) => {
    expect(isPermanent(error, START_EXECUTION_ERRORS)).toBe(permanent);
  });

  it.each([
    ['AccessDenied', 403, true],
    ['NoSuchBucket', 404, true],
    ['EntityTooLarge', 400, true],
    ['KMS.DisabledException', 400, true],
    ['SlowDown', 503, false],
    ['RequestTimeout', 400, false],
    ['OperationAborted', 409, false],
    ['RequestTimeTooSkewed', 403, false],
  ])('S3 PutObject %s (%i): permanent %s', (name, status, permanent) => {
    expect(isPermanent(serviceError(name, status), PUT_CODE_ERRORS)).toBe(permanent);
  });
});

describe('the adapters against moto', () => {
  it('a start of a state machine that does not exist is refused for good, with AWS’s name and message', async () => {
    const client = new sfn.SFNClient(motoClientConfig());
    const missing = `arn:aws:states:${MOTO_REGION}:${MOTO_ACCOUNT}:stateMachine:${motoName('gone')}`;
    const executions = new StepFunctionsExecutions(
      atInit(sfn, () => client),
      missing,
    );

    const error = await executions.startExecution('job-1', { a: 1 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StartRefused);
    expect((error as StartRefused).code).toBe('StateMachineDoesNotExist');
    expect((error as StartRefused).message).toMatch(
      /^Step Functions StartExecution refused it \(StateMachineDoesNotExist\): .*does not exist/i,
    );
    client.destroy();
  });

  it('a second start of the same name is the start already made, not an error', async () => {
    const client = new sfn.SFNClient(motoClientConfig());
    const { stateMachineArn } = await client.send(
      new sfn.CreateStateMachineCommand({
        name: motoName('starts'),
        roleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/libra-test`,
        definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
      }),
    );
    const executions = new StepFunctionsExecutions(
      atInit(sfn, () => client),
      stateMachineArn as string,
    );

    expect(await executions.startExecution('job-2', { a: 1 })).toBe('started');
    expect(await executions.startExecution('job-2', { a: 2 })).toBe('already-started');
    client.destroy();
  });

  it('inline code put to a bucket that does not exist is refused for good (NoSuchBucket)', async () => {
    const client = new s3.S3Client({ ...motoClientConfig(), forcePathStyle: true });
    const store = new S3ArtifactStore(
      atInit(s3, () => client),
      motoName('no-such-bucket'),
    );

    const error = await store.putCode('job-3', 'sql', 'SELECT 1').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StartRefused);
    expect((error as StartRefused).code).toBe('NoSuchBucket');
    expect((error as StartRefused).message).toMatch(
      /^S3 PutObject of the inline code refused it \(NoSuchBucket\): /,
    );
    client.destroy();
  });

  it('an answer that never comes (nothing listening) is transient: thrown as it came', async () => {
    const client = new sfn.SFNClient({
      ...motoClientConfig(),
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 1,
    });
    const executions = new StepFunctionsExecutions(
      atInit(sfn, () => client),
      `arn:aws:states:${MOTO_REGION}:${MOTO_ACCOUNT}:stateMachine:any`,
    );

    const error = await executions.startExecution('job-4', {}).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(StartRefused);
    client.destroy();
  });
});
