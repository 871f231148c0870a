import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError } from '#core/config.ts';
import { LibraStack } from '../lib/libra-stack.ts';
import type { LibraStackProps } from '../lib/libra-stack-props.ts';

const app = new App();

/** `--context libra='{…}'` arrives as a string; cdk.json's key as an object. */
function libraContext(): LibraStackProps['config'] {
  const raw: unknown = app.node.tryGetContext('libra');
  // The construct validates whatever arrives, naming the offending key.
  if (typeof raw !== 'string') return raw as LibraStackProps['config'];
  try {
    return JSON.parse(raw) as LibraStackProps['config'];
  } catch (error) {
    throw new ConfigError(`libra: --context libra is not JSON: ${(error as Error).message}`);
  }
}

/** `--context libraConsole=true` (or `"libraConsole": true` in cdk.json) publishes the jobs console. */
function consoleContext(): boolean {
  const raw: unknown = app.node.tryGetContext('libraConsole');
  return raw === true || raw === 'true';
}

try {
  // Environment-agnostic on purpose: synth needs no AWS credentials; deploy takes the CLI's account and region.
  new LibraStack(app, 'Libra', { config: libraContext(), console: consoleContext() });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`cdk.json context: ${error.message}`);
  process.exit(1);
}
// Every synth runs AwsSolutions: a finding nobody acknowledged with a reason fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
