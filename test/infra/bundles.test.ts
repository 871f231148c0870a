import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { libraStack, logicalId, testApp } from './app.ts';

/** Imports a bundle as the Lambda runtime would and prints what `handler` is. */
const LOAD_BUNDLE = 'const module = await import(process.argv[1]); console.log(typeof module.handler);';

/** The function's environment with each deploy-time value (a table name, a queue URL) stood in for. */
function environmentOf(variables: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [
      name,
      typeof value === 'string' ? value : `deploy-time-${name.toLowerCase()}`,
    ]),
  );
}

// The one test that pays for esbuild: every other infra test skips bundling.
describe('function bundles', () => {
  it('are built locally with esbuild and load on Node 24 with the environment the stack sets', () => {
    // Prepare
    const app = testApp({ bundle: true });
    const stack = libraStack({}, app);

    // Act
    const assembly = app.synth();

    // Assess
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    for (const [name, fn] of Object.entries(stack.libra.jobApi.functions)) {
      const properties = functions[logicalId(stack, fn)]?.Properties;
      const directory = join(
        assembly.directory,
        `asset.${String(properties.Code.S3Key).replace(/\.zip$/, '')}`,
      );
      expect(readdirSync(directory).sort(), name).toEqual(['index.mjs', 'index.mjs.map']);

      const loaded = spawnSync(
        process.execPath,
        ['--input-type=module', '--eval', LOAD_BUNDLE, join(directory, 'index.mjs')],
        {
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'eu-west-1',
            ...environmentOf(properties.Environment.Variables),
          },
        },
      );
      expect(loaded.stderr, name).toBe('');
      expect(loaded.stdout.trim(), name).toBe('function');
    }
  });
});
