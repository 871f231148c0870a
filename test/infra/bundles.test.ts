import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { describe, expect, it } from 'vitest';
import { provideRuntimeModules, standIn } from '../support/lambda-bundle.ts';
import { libraStack, logicalId, testApp } from './app.ts';

/** Imports a bundle as the Lambda runtime would and prints what `handler` is. */
const LOAD_BUNDLE = 'const module = await import(process.argv[1]); console.log(typeof module.handler);';

/**
 * The AWS SDK packages each function loads at init, by its entry: those it uses on every
 * invocation or nearly (the reasons are in each lambdas/entry file; lambdas/adapters/sdk.ts).
 * Any other client a function calls is imported on first use; one it never calls, not at all.
 */
const DYNAMODB = ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'];
const SDK_AT_INIT: Record<string, string[]> = {
  'admission.ts': [...DYNAMODB, '@aws-sdk/client-sfn'],
  'cancel-job.ts': [...DYNAMODB, '@aws-sdk/client-sfn'],
  'finalizer.ts': [...DYNAMODB, '@aws-sdk/client-lambda', '@aws-sdk/client-sqs'],
  'get-job.ts': DYNAMODB,
  'list-job-events.ts': DYNAMODB,
  'list-jobs.ts': DYNAMODB,
  'list-pools.ts': DYNAMODB,
  'notifier.ts': [...DYNAMODB, '@aws-sdk/client-secrets-manager'],
  'run-recorder.ts': DYNAMODB,
  'submit-job.ts': [...DYNAMODB, '@aws-sdk/client-sqs'],
  'tick.ts': [...DYNAMODB, '@aws-sdk/client-sfn'],
  'workflow-ended.ts': [],
  'webhook-secret-handler.ts': ['@aws-sdk/client-secrets-manager'],
};

/** The SDK packages a minified bundle imports statically (loaded at init), sorted. */
function sdkImportedAtInit(code: string): string[] {
  const packages = [...code.matchAll(/\bfrom\s*["'](@aws-sdk\/[^"']+)["']/g)].map((match) => match[1] ?? '');
  return [...new Set(packages)].sort();
}

// The one test that pays for esbuild: every other infra test skips bundling.
describe('function bundles', () => {
  // Twelve esbuild runs and twelve Node processes on two cores, beside the other test files.
  it('are built locally with esbuild and load on Node 24 with the environment the stack sets', {
    timeout: 120_000,
  }, () => {
    // Prepare
    const app = testApp({ bundle: true });
    const stack = libraStack({}, app);

    // Act
    const assembly = app.synth();
    // The bundles import the AWS SDK that the runtime ships: give them one the same way.
    provideRuntimeModules(assembly.directory);

    // Assess
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    const libraFunctions = stack.node.findAll().filter((child) => child instanceof NodejsFunction);
    // Six routes, admission, tick, finalizer, notifier, the run recorder, the secret writer and the
    // counter of the workflow's job ends.
    expect(libraFunctions).toHaveLength(13);
    for (const fn of libraFunctions) {
      const name = fn.node.path;
      const properties = functions[logicalId(stack, fn)]?.Properties;
      const directory = join(
        assembly.directory,
        `asset.${String(properties.Code.S3Key).replace(/\.zip$/, '')}`,
      );
      expect(readdirSync(directory).sort(), name).toEqual(['index.mjs', 'index.mjs.map']);
      // Issue 5's budget; the AWS SDK is not in it (lib/libra-function.ts, RUNTIME_PROVIDED_MODULES).
      expect(statSync(join(directory, 'index.mjs')).size, name).toBeLessThanOrEqual(300 * 1024);
      // The bundle's entry, from its source map: a file of lambdas/entry, or of lib (the custom resource).
      const sources: string[] = JSON.parse(readFileSync(join(directory, 'index.mjs.map'), 'utf8')).sources;
      const entry = sources.find(
        (source) => !source.includes('node_modules') && /(^|\/)(lambdas\/entry|lib)\/[^/]+\.ts$/.test(source),
      );
      expect(sdkImportedAtInit(readFileSync(join(directory, 'index.mjs'), 'utf8')), name).toEqual(
        [...(SDK_AT_INIT[basename(entry ?? '?')] ?? ['an entry of SDK_AT_INIT'])].sort(),
      );

      const environment = Object.fromEntries(
        Object.entries(properties.Environment?.Variables ?? {}).map(([key, value]) => [key, standIn(value)]),
      );
      const loaded = spawnSync(
        process.execPath,
        ['--input-type=module', '--eval', LOAD_BUNDLE, join(directory, 'index.mjs')],
        { encoding: 'utf8', env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', ...environment } },
      );
      expect(loaded.stderr, name).toBe('');
      expect(loaded.stdout.trim(), name).toBe('function');
    }
  });
});
