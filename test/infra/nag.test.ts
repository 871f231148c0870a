import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import type { LibraStackProps } from '../../lib/libra-stack-props.ts';
import { libraStack, testApp } from './app.ts';

interface SuppressedViolation {
  readonly ruleName: string;
  readonly acknowledgedId: string;
  readonly reason: string;
  readonly violatingConstructs: { readonly constructPath: string }[];
}

interface PluginReport {
  readonly pluginName: string;
  readonly conclusion: string;
  readonly violations: unknown[];
  readonly suppressedViolations?: SuppressedViolation[];
}

/** Synthesizes LibraStack with AwsSolutions as bin/libra.ts does, and returns the AwsSolutions report. */
function awsSolutionsReport(props: LibraStackProps = {}): PluginReport {
  const app = testApp();
  libraStack(props, app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  // An unacknowledged finding makes synth throw with the report in the message.
  const assembly = app.synth();
  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'));
  const awsSolutions = report.pluginReports.find((r: PluginReport) => r.pluginName === 'AwsSolutions');
  expect(awsSolutions).toBeDefined();
  return awsSolutions;
}

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const VARIANTS: [string, LibraStackProps][] = [
  ['the cdk.json configuration', {}],
  [
    'JWT authorization',
    { config: { auth: { mode: 'jwt', issuer: 'https://issuer.example.com/', audience: ['libra'] } } },
  ],
  [
    'a customer managed table key',
    { jobStore: { encryptionKey: Key.fromKeyArn(new Stack(), 'Key', KEY_ARN) } },
  ],
];

const ROUTES = ['SubmitJob', 'ListJobs', 'GetJob', 'ListJobEvents', 'CancelJob'];

describe('cdk-nag AwsSolutions on LibraStack', () => {
  it.each(VARIANTS)('has no unacknowledged finding with %s', (_, props) => {
    const report = awsSolutionsReport(props);

    expect(report.violations).toEqual([]);
    expect(report.conclusion).toBe('success');
  });

  it('acknowledges only the X-Ray wildcard of each function role, with a reason', () => {
    const report = awsSolutionsReport();

    const acknowledged = (report.suppressedViolations ?? []).flatMap((violation) =>
      violation.violatingConstructs.map((construct) => ({
        rule: violation.ruleName,
        path: construct.constructPath,
        reason: violation.reason,
      })),
    );
    expect(acknowledged.map(({ rule, path }) => `${rule} ${path}`).sort()).toEqual(
      ROUTES.map(
        (route) => `AwsSolutions-IAM5[Resource::*] Libra/Libra/JobApi/${route}/Role/DefaultPolicy/Resource`,
      ).sort(),
    );
    for (const { reason } of acknowledged) expect(reason).toMatch(/xray:PutTraceSegments.*resource-level/);
  });
});
