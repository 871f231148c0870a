import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '#core/config.ts';
import { Libra } from '../../lib/libra.ts';
import type { LibraConfigInput } from '../../lib/libra-props.ts';
import { CDK_JSON_CONTEXT, CONFIGURED_BACKEND_POOLS, libraStack, logicalId, testApp } from './app.ts';

const BIN = new URL('../../bin/libra.ts', import.meta.url).pathname;

const CONFIGURATIONS: [string, LibraConfigInput][] = [
  ['the cdk.json configuration', CDK_JSON_CONTEXT.libra as LibraConfigInput],
  [
    'two release labels, an existing application and an EMR on EKS pool',
    {
      pools: {
        etl: { backends: { emrServerless: { releaseLabel: 'emr-7.2.0' } } },
        ...CONFIGURED_BACKEND_POOLS,
      },
    },
  ],
];

/** The resources that depend on themselves through Ref, Fn::GetAtt and DependsOn, if any. */
function dependencyCycle(
  resources: Record<string, { Properties?: unknown; DependsOn?: string[] }>,
): string[] {
  const references = (value: unknown, found: Set<string>): Set<string> => {
    if (Array.isArray(value)) for (const item of value) references(item, found);
    else if (typeof value === 'object' && value !== null) {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'Ref' && typeof inner === 'string' && inner in resources) found.add(inner);
        else if (key === 'Fn::GetAtt') found.add((inner as [string])[0]);
        else references(inner, found);
      }
    }
    return found;
  };
  const edges = new Map(
    Object.entries(resources).map(([id, resource]) => [
      id,
      new Set([...references(resource.Properties, new Set()), ...(resource.DependsOn ?? [])]),
    ]),
  );
  const done = new Set<string>();
  const visit = (id: string, path: string[]): string[] => {
    if (path.includes(id)) return [...path.slice(path.indexOf(id)), id];
    if (done.has(id)) return [];
    for (const next of edges.get(id) ?? []) {
      const cycle = visit(next, [...path, id]);
      if (cycle.length > 0) return cycle;
    }
    done.add(id);
    return [];
  };
  for (const id of edges.keys()) {
    const cycle = visit(id, []);
    if (cycle.length > 0) return cycle;
  }
  return [];
}

describe('LibraStack', () => {
  it('is environment-agnostic and outputs the API URL, the table, the state machine, the alarm topic and the bucket', () => {
    const stack = libraStack();
    const template = Template.fromStack(stack);

    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
    template.hasOutput('ApiUrl', {
      Value: {
        'Fn::Join': [
          '',
          [
            'https://',
            { Ref: logicalId(stack, stack.libra.jobApi.httpApi) },
            '.execute-api.',
            { Ref: 'AWS::Region' },
            '.',
            { Ref: 'AWS::URLSuffix' },
            '/',
          ],
        ],
      },
    });
    template.hasOutput('TableName', { Value: { Ref: logicalId(stack, stack.libra.jobStore.table) } });
    template.hasOutput('StateMachineArn', {
      Value: { Ref: logicalId(stack, stack.libra.workflow.stateMachine) },
    });
    template.hasOutput('AlarmTopicArn', {
      Value: { Ref: logicalId(stack, stack.libra.observability.topic) },
    });
    template.hasOutput('ArtifactsBucketName', {
      Value: { Ref: logicalId(stack, stack.libra.artifacts.bucket) },
    });
  });

  it.each(CONFIGURATIONS)(
    'has no dependency cycle, which only CloudFormation would find, with %s',
    (_, config) => {
      const template = Template.fromStack(libraStack({ config })).toJSON();

      expect(dependencyCycle(template.Resources)).toEqual([]);
    },
  );

  it('fails synthesis on bad configuration, naming the offending key', () => {
    const bad = {
      pools: { etl: { cpuCores: -4 } },
      auth: { mode: 'jwt', issuer: 'not a url', audience: ['a'] },
    };

    expect(() => libraStack({ config: bad as never })).toThrow(ConfigError);
    expect(() => libraStack({ config: bad as never })).toThrow(/libra\.pools\.etl\.cpuCores/);
    expect(() => libraStack({ config: bad as never })).toThrow(/libra\.auth\.issuer/);
  });
});

describe('Libra', () => {
  it('embeds in another app with every default, `default` pool and IAM included', () => {
    const stack = new Stack(testApp(), 'SomeoneElses');
    const libra = new Libra(stack, 'Libra');
    const template = Template.fromStack(stack);

    expect(Object.keys(libra.config.pools)).toEqual(['default']);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.resourceCountIs('AWS::EMRServerless::Application', 1);
    // Seven routes and the OpenAPI document, admission, tick, finalizer, notifier, run recorder, the
    // secret writer and its custom resource provider's framework function, the counter of the
    // workflow's job ends and BucketDeployment's.
    template.resourceCountIs('AWS::Lambda::Function', 18);
    template.allResourcesProperties('AWS::ApiGatewayV2::Route', { AuthorizationType: 'AWS_IAM' });
  });
});

describe('bin/libra.ts', () => {
  // Each case runs the whole app in a child process; on two busy cores one synthesis can take
  // most of the default 30 s, so they get a bound fit for that machine.
  const SYNTH_TIMEOUT = 120_000;

  let outdir: string | undefined;
  afterEach(() => {
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  /** Runs the app as the CDK CLI does: context in CDK_CONTEXT_JSON, output in CDK_OUTDIR. */
  function runApp(libra: unknown) {
    outdir = mkdtempSync(join(tmpdir(), 'libra-synth-'));
    const context = { ...CDK_JSON_CONTEXT, libra, 'aws:cdk:bundling-stacks': [] };
    return spawnSync(process.execPath, [BIN], {
      encoding: 'utf8',
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
    });
  }

  it('synthesizes the cdk.json configuration with AwsSolutions checks passing', {
    timeout: SYNTH_TIMEOUT,
  }, () => {
    const result = runApp(CDK_JSON_CONTEXT.libra);

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(existsSync(join(outdir ?? '', 'Libra.template.json'))).toBe(true);
    const report = JSON.parse(readFileSync(join(outdir ?? '', 'validation-report.json'), 'utf8'));
    expect(report.pluginReports).toContainEqual(
      expect.objectContaining({ pluginName: 'AwsSolutions', conclusion: 'success', violations: [] }),
    );
  });

  it('exits 1 naming the offending cdk.json key when the configuration is bad', {
    timeout: SYNTH_TIMEOUT,
  }, () => {
    const result = runApp({ pools: { etl: { maxConcurrentJobs: 0 } }, retention: { days: 'long' } });

    expect(result.status).toBe(1);
    expect(result.stderr).toContain('libra.pools.etl.maxConcurrentJobs');
    expect(result.stderr).toContain('libra.retention.days');
    expect(result.stderr).not.toContain('    at ');
    expect(existsSync(join(outdir ?? '', 'Libra.template.json'))).toBe(false);
  });

  it(
    'takes --context libra as the JSON string the CLI passes',
    () => {
      const good = runApp(JSON.stringify({ pools: { etl: { cpuCores: 32 } } }));
      expect(good.status).toBe(0);
      const template = JSON.parse(readFileSync(join(outdir ?? '', 'Libra.template.json'), 'utf8'));
      expect(JSON.stringify(template)).toContain('etl');
    },
    SYNTH_TIMEOUT,
  );

  it(
    'names a --context libra that is not JSON',
    () => {
      const bad = runApp('{not json');
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('--context libra is not JSON');
    },
    SYNTH_TIMEOUT,
  );
});
