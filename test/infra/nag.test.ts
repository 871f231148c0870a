import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import type { LibraStackProps } from '../../lib/libra-stack-props.ts';
import { libraStack, logicalId, MULTI_BACKEND_CONFIG, STACK_VARIANTS, testApp } from './app.ts';

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

const ROUTES = [
  'SubmitJob',
  'ListJobs',
  'GetJob',
  'ListJobEvents',
  'CancelJob',
  'RerunJob',
  'ListPools',
  'GetUsage',
  'GetOpenApi',
];
const FUNCTION_ROLES = [
  ...ROUTES.map((route) => `JobApi/${route}`),
  'Admission/Admission',
  'Admission/Tick',
  'Workflow/Finalizer',
  'Notifier/Notifier',
  'Notifier/SecretWriter',
  'RunRecorder/RunRecorder',
  'Observability/WorkflowEnds',
].map((path) => `${path}/Role`);

/** What each kind of acknowledgement must say, so that none is acknowledged without its reason. */
const REASONS: [RegExp, RegExp][] = [
  [/^AwsSolutions-IAM5\[Resource::\*\] .*Workflow\/Role/, /logs:CreateLogDelivery.*xray:PutTraceSegments/s],
  [/^AwsSolutions-IAM5\[Resource::\*\]/, /xray:PutTraceSegments.*resource-level/],
  [/jobruns\/\*\]/, /assigns a job run its id when the run starts/],
  [/:execution:.*:\*\]/, /execution named after the job id/],
  [/\/(jobs|runners|logs)\/\*\]/, /jobs\/|runners\/|logs\//],
  [/Artifacts\/Runners\/Role/, /BucketDeployment.*Deny on jobs\/ and logs\//s],
  [/SecretWriterProviderRole/, /Provider grants its framework function the invocation of the secret writer/],
  [/^AwsSolutions-SMG4/, /rotating it on a schedule would break every receiver/],
  [/^AwsSolutions-L1/, /aws-cdk-lib/],
];

function acknowledgements(report: PluginReport) {
  return (report.suppressedViolations ?? []).flatMap((violation) =>
    violation.violatingConstructs.map((construct) => ({
      line: `${violation.ruleName} ${construct.constructPath.replace(/^Libra\/Libra\//, '')}`,
      reason: violation.reason,
    })),
  );
}

describe('cdk-nag AwsSolutions on LibraStack', () => {
  it.each(STACK_VARIANTS)('has no unacknowledged finding with %s', (_, props) => {
    const report = awsSolutionsReport(props);

    expect(report.violations).toEqual([]);
    expect(report.conclusion).toBe('success');
  });

  it('acknowledges only the findings it must, each named exactly and with its reason', () => {
    const stack = libraStack();
    const application = `<${logicalId(stack, stack.libra.backends.createdApplications[0] ?? stack)}.Arn>`;
    const bucket = `<${logicalId(stack, stack.libra.artifacts.bucket)}.Arn>`;
    const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stack.libra.workflow.stateMachineName}:*`;
    // aws-cdk-lib puts BucketDeployment's function at the top of the stack, named after a hash of its settings.
    const deploymentHandler = stack.node.children
      .map((child) => child.node.id)
      .find((id) => id.startsWith('Custom::CDKBucketDeployment'));
    const iam5 = (resource: string, ...roles: string[]) =>
      roles.map((role) => `AwsSolutions-IAM5[Resource::${resource}] ${role}/DefaultPolicy/Resource`);

    const acknowledged = acknowledgements(awsSolutionsReport());

    expect(acknowledged.map(({ line }) => line).sort()).toEqual(
      [
        ...iam5('*', ...FUNCTION_ROLES, 'Workflow/Role'),
        ...iam5(`${application}/jobruns/*`, 'Admission/Tick/Role'),
        ...iam5(`${application}/jobruns/*`, 'Workflow/Finalizer/Role', 'Workflow/Role'),
        ...iam5(`${application}/jobruns/*`, 'RunRecorder/RunRecorder/Role', 'JobApi/CancelJob/Role'),
        ...iam5(executions, 'Admission/Tick/Role', 'JobApi/CancelJob/Role'),
        ...iam5(
          `${bucket}/jobs/*`,
          'Admission/Admission/Role',
          'Admission/Tick/Role',
          'SparkBackends/ExecutionRole',
        ),
        ...iam5(`${bucket}/runners/*`, 'SparkBackends/ExecutionRole'),
        ...iam5(`${bucket}/logs/*`, 'SparkBackends/ExecutionRole'),
        ...iam5(`${bucket}/*`, 'Artifacts/Runners/Role'),
        ...iam5(
          'arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*',
          'Artifacts/Runners/Role',
        ),
        ...['s3:GetBucket*', 's3:GetObject*', 's3:List*', 's3:Abort*', 's3:DeleteObject*'].map(
          (action) => `AwsSolutions-IAM5[Action::${action}] Artifacts/Runners/Role/DefaultPolicy/Resource`,
        ),
        ...iam5(
          `<${logicalId(stack, stack.libra.notifier.secretWriter)}.Arn>:*`,
          'Notifier/SecretWriterProviderRole',
        ),
        'AwsSolutions-SMG4 Notifier/Secret-default/Resource',
        `AwsSolutions-L1 Libra/${deploymentHandler}/Resource`,
      ].sort(),
    );
    for (const { line, reason } of acknowledged) {
      const expected = REASONS.find(([pattern]) => pattern.test(line));
      expect(expected, line).toBeDefined();
      expect(reason, line).toMatch(expected?.[1] ?? /./);
    }
  });

  it('acknowledges the runs of every application and virtual cluster it uses, and no more', () => {
    const acknowledged = acknowledgements(awsSolutionsReport({ config: MULTI_BACKEND_CONFIG }))
      .map(({ line }) => line)
      .filter((line) => line.includes('/jobruns/*') && line.includes('Workflow/Role'));

    expect(acknowledged).toHaveLength(4);
    expect(acknowledged).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/\[Resource::<LibraSparkBackendsApplicationemr750\w+\.Arn>\/jobruns\/\*\]/),
        expect.stringMatching(/\[Resource::<LibraSparkBackendsApplicationemr720\w+\.Arn>\/jobruns\/\*\]/),
        expect.stringContaining(
          ':emr-serverless:<AWS::Region>:<AWS::AccountId>:/applications/00fexisting/jobruns/*]',
        ),
        expect.stringContaining(
          ':emr-containers:<AWS::Region>:<AWS::AccountId>:/virtualclusters/vc0123456789/jobruns/*]',
        ),
      ]),
    );
  });
});
