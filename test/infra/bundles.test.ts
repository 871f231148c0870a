import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { basename, dirname } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEvent, iamCaller } from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import {
  deployedFunction,
  lambdaRuntimeEnvironment,
  provideRuntimeModules,
} from '../support/lambda-bundle.ts';
import { libraStack, testApp } from './app.ts';

/** Imports a bundle as the Lambda runtime would and prints what `handler` is. */
const LOAD_BUNDLE = 'const module = await import(process.argv[1]); console.log(typeof module.handler);';

/**
 * The AWS SDK packages each function loads at init, by its entry: those it uses on every
 * invocation or nearly (the reasons are in each lambdas/entry file; lambdas/adapters/sdk.ts).
 * Any other client a function calls is imported on first use; one it never calls, not at all.
 */
// lib-dynamodb loads util-dynamodb itself; the stores import its unmarshall for a refused write's item.
const DYNAMODB = ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/util-dynamodb'];
const SDK_AT_INIT: Record<string, string[]> = {
  'admission.ts': [...DYNAMODB, '@aws-sdk/client-sfn'],
  'cancel-job.ts': [...DYNAMODB, '@aws-sdk/client-sfn'],
  'finalizer.ts': DYNAMODB,
  'get-job.ts': DYNAMODB,
  'get-openapi.ts': [],
  'get-usage.ts': DYNAMODB,
  'list-job-events.ts': DYNAMODB,
  'list-jobs.ts': DYNAMODB,
  'list-pools.ts': DYNAMODB,
  'notifier.ts': [...DYNAMODB, '@aws-sdk/client-secrets-manager'],
  'rerun-job.ts': [...DYNAMODB, '@aws-sdk/client-sqs'],
  'run-recorder.ts': DYNAMODB,
  'submit-job.ts': [...DYNAMODB, '@aws-sdk/client-sqs'],
  'tick.ts': [...DYNAMODB, '@aws-sdk/client-sfn'],
  'workflow-ended.ts': [],
  'webhook-secret-handler.ts': ['@aws-sdk/client-secrets-manager'],
};

/** The SDK packages a minified CommonJS bundle requires (loaded at init), sorted. */
function sdkImportedAtInit(code: string): string[] {
  const packages = [...code.matchAll(/\brequire\(\s*["'](@aws-sdk\/[^"']+)["']\s*\)/g)].map(
    (match) => match[1] ?? '',
  );
  return [...new Set(packages)].sort();
}

// The one test file that pays for esbuild: every other infra test skips bundling.
describe('function bundles', () => {
  let app: App;
  let stack: ReturnType<typeof libraStack>;
  let assembly: CloudAssembly;

  // Thirteen esbuild runs on two cores, beside the other test files.
  beforeAll(() => {
    app = testApp({ bundle: true });
    stack = libraStack({}, app);
    assembly = app.synth();
    // The bundles import the AWS SDK that the runtime ships: give them one the same way.
    provideRuntimeModules(assembly.directory);
  }, 120_000);

  const libraFunctions = () => stack.node.findAll().filter((child) => child instanceof NodejsFunction);

  it('are built locally with esbuild and load on Node 24 with the environment the stack sets', {
    timeout: 120_000,
  }, () => {
    const functions = libraFunctions();
    // Seven routes and the OpenAPI document, admission, tick, finalizer, notifier, the run recorder,
    // the secret writer and the counter of the workflow's job ends.
    expect(functions).toHaveLength(16);
    for (const fn of functions) {
      const name = fn.node.path;
      const { file, environment, sources, entry } = deployedFunction(assembly, stack, fn);
      const directory = dirname(file);
      expect(readdirSync(directory).sort(), name).toEqual(['index.js', 'index.js.map']);
      // Issue 5's budget; the AWS SDK is not in it (lib/libra-function.ts, RUNTIME_PROVIDED_MODULES).
      expect(statSync(file).size, name).toBeLessThanOrEqual(300 * 1024);
      expect(sdkImportedAtInit(readFileSync(file, 'utf8')), name).toEqual(
        [...(SDK_AT_INIT[basename(entry)] ?? ['an entry of SDK_AT_INIT'])].sort(),
      );
      // Every function of Libra's traces with the Powertools Tracer; the secret writer, a
      // CloudFormation custom resource that runs at deployment only, has X-Ray's own tracing.
      const tracer = sources.some((source) => source.includes('@aws-lambda-powertools/tracer/'));
      expect(tracer, name).toBe(basename(entry) !== 'webhook-secret-handler.ts');

      const loaded = spawnSync(process.execPath, ['--input-type=module', '--eval', LOAD_BUNDLE, file], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...lambdaRuntimeEnvironment(directory), ...environment },
      });
      expect(loaded.stderr, name).toBe('');
      expect(loaded.stdout.trim(), name).toBe('function');
    }
  });

  describe('traced to X-Ray', () => {
    let db: TestDatabase | undefined;
    const daemon = createSocket('udp4');

    afterAll(async () => {
      daemon.close();
      await db?.stop();
    });

    it('an invocation is a subsegment of its Lambda trace, with each AWS call a subsegment of it', {
      timeout: 60_000,
    }, async () => {
      // Prepare: the get-job bundle in a Node process set up as Lambda sets one up for an
      // invocation with active tracing (trace header, daemon address), its table in dynalite, and
      // a UDP socket standing in for the X-Ray daemon, as the X-Ray SDK sends it what it records.
      const getJob = libraFunctions()
        .map((fn) => deployedFunction(assembly, stack, fn))
        .find((deployed) => deployed.entry === 'lambdas/entry/get-job.ts');
      if (!getJob) throw new Error('no get-job function in the stack');
      const { file, environment } = getJob;
      const directory = dirname(file);
      db = await startTestDatabase(environment.TABLE_NAME);
      const documents: Record<string, unknown>[] = [];
      daemon.on('message', (message) => {
        // A header line ({"format":"json","version":1}), then the segment document.
        const [, document] = message.toString('utf8').split('\n');
        documents.push(JSON.parse(document ?? 'null'));
      });
      await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
      const traceId = '1-6740a1b2-0123456789abcdef01234567';
      const parentId = '53995c3f42cd8ad8';

      // Act
      const reply = await invoke(
        file,
        getEvent(iamCaller('tracer'), 'job-00000000-0000-4000-8000-000000000000'),
        {
          ...environment,
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
          ...lambdaRuntimeEnvironment(directory),
          _X_AMZN_TRACE_ID: `Root=${traceId};Parent=${parentId};Sampled=1`,
          AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}`,
        },
      );
      for (let i = 0; i < 100 && documents.length < 2; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));

      // Assess: the job does not exist, so one GetItem and a 404.
      expect(reply.statusCode).toBe(404);
      const handler = documents.find((d) => d.name === '## index.handler');
      expect(handler).toMatchObject({
        type: 'subsegment',
        trace_id: traceId,
        parent_id: parentId,
        annotations: { ColdStart: true, Service: 'libra' },
      });
      expect(handler?.metadata).toBeUndefined();
      const getItem = documents.find((d) => d.name === 'DynamoDB');
      expect(getItem).toMatchObject({
        type: 'subsegment',
        trace_id: traceId,
        parent_id: handler?.id,
        namespace: 'aws',
        aws: { operation: 'GetItem', table_name: environment.TABLE_NAME },
      });
    });
  });
});

/** Runs a bundle's handler once, in a Node process of its own with `environment`, and gives back its answer. */
async function invoke(
  bundle: string,
  event: unknown,
  environment: Record<string, string>,
): Promise<{ statusCode: number }> {
  const script = [
    'const { handler } = await import(process.argv[1]);',
    "const context = { functionName: 'libra-get-job', functionVersion: '$LATEST', awsRequestId: 'request-1',",
    "  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:libra-get-job', memoryLimitInMB: '512',",
    '  getRemainingTimeInMillis: () => 10_000 };',
    'const reply = await handler(JSON.parse(process.argv[2]), context);',
    // The X-Ray SDK sends each subsegment by UDP as it closes; let the last one leave.
    'await new Promise((resolve) => setTimeout(resolve, 100));',
    "console.log('REPLY ' + JSON.stringify({ statusCode: reply.statusCode }));",
  ].join(' ');
  const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>(
    (resolve, reject) => {
      // Not spawnSync: the bundle calls dynalite, which answers from this process's event loop.
      const child = spawn(
        process.execPath,
        ['--input-type=module', '--eval', script, bundle, JSON.stringify(event)],
        {
          env: { PATH: process.env.PATH, ...environment },
        },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
      });
      child.stderr.on('data', (chunk) => {
        err += chunk;
      });
      child.once('error', reject);
      child.once('close', (exitCode) => resolve({ stdout: out, stderr: err, code: exitCode }));
    },
  );
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const line = stdout.split('\n').find((l) => l.startsWith('REPLY '));
  if (!line) throw new Error(`no reply from the handler: ${stdout}`);
  return JSON.parse(line.slice('REPLY '.length));
}
