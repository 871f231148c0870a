import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError } from '#core/config.ts';
import { LibraStack } from '../lib/libra-stack.ts';

const app = new App();
try {
  // Environment-agnostic on purpose: synth needs no AWS credentials; deploy takes the CLI's account and region.
  new LibraStack(app, 'Libra', { config: app.node.tryGetContext('libra') });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`cdk.json context: ${error.message}`);
  process.exit(1);
}
// Every synth runs AwsSolutions: a finding nobody acknowledged with a reason fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
