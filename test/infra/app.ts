import { readFileSync } from 'node:fs';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';
import type { LibraConfigInput } from '../../lib/libra-props.ts';
import { LibraStack } from '../../lib/libra-stack.ts';
import type { LibraStackProps } from '../../lib/libra-stack-props.ts';

/** The context the CDK CLI hands the app: cdk.json's feature flags and default `libra` configuration. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
).context;

/**
 * An app with cdk.json's context, as `cdk synth` builds it, but faster: bundling is skipped unless
 * asked for, since most tests read only the template, and so is CDK's built-in CloudFormation schema
 * validation, which bin/libra.ts runs and libra-stack.test.ts exercises through it.
 */
export function testApp(options: { bundle?: boolean } = {}): App {
  return new App({
    context: { ...CDK_JSON_CONTEXT, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
    builtinCloudFormationValidation: false,
  });
}

/**
 * Pools whose backends the configuration names instead of the stack creating them: an
 * existing EMR Serverless application and role, and an EMR on EKS virtual cluster.
 */
export const CONFIGURED_BACKEND_POOLS = {
  shared: {
    backends: {
      emrServerless: {
        applicationId: '00fexisting',
        executionRoleArn: 'arn:aws:iam::123456789012:role/shared-jobs',
      },
    },
  },
  k8s: {
    backends: {
      eks: {
        virtualClusterId: 'vc0123456789',
        executionRoleArn: 'arn:aws:iam::123456789012:role/eks-jobs',
      },
    },
  },
  k8stemplated: {
    backends: {
      eks: {
        virtualClusterId: 'vc0123456789',
        executionRoleArn: 'arn:aws:iam::123456789012:role/eks-platform-jobs',
        jobTemplateId: 'tpl0abc',
        podTemplate: { driver: 's3://platform-templates/spark/driver.yaml' },
      },
    },
  },
} as const satisfies NonNullable<LibraConfigInput['pools']>;

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** Created applications on two release labels, an existing application and an EMR on EKS pool. */
export const MULTI_BACKEND_CONFIG: LibraStackProps['config'] = {
  pools: {
    etl: { backends: { emrServerless: { releaseLabel: 'emr-7.2.0' } } },
    ...CONFIGURED_BACKEND_POOLS,
  },
};

/**
 * The stacks the template checks (cdk-nag, cfn-lint) cover: the default configuration and each
 * option that adds or changes resources.
 */
export const STACK_VARIANTS: [string, LibraStackProps][] = [
  ['the cdk.json configuration', {}],
  [
    'JWT authorization',
    { config: { auth: { mode: 'jwt', issuer: 'https://issuer.example.com/', audience: ['libra'] } } },
  ],
  [
    'JWT authorization with the console published',
    {
      config: { auth: { mode: 'jwt', issuer: 'https://issuer.example.com/', audience: ['libra'] } },
      console: true,
    },
  ],
  [
    'a customer managed table key',
    { jobStore: { encryptionKey: Key.fromKeyArn(new Stack(), 'Key', KEY_ARN) } },
  ],
  ['two release labels, an existing application and an EMR on EKS pool', { config: MULTI_BACKEND_CONFIG }],
];

/** LibraStack with cdk.json's configuration unless props name another. */
export function libraStack(props: LibraStackProps = {}, app: App = testApp()): LibraStack {
  return new LibraStack(app, 'Libra', {
    config: CDK_JSON_CONTEXT.libra as LibraStackProps['config'],
    ...props,
  });
}

/** The logical id of the resource a construct made, e.g. a function's role. */
export function logicalId(stack: Stack, construct: IConstruct): string {
  const element = CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild;
  return stack.getLogicalId(element as CfnElement);
}

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/**
 * What the inline policies of a role allow, one `action resource` line per pair, sorted, so
 * that assertions do not depend on how CDK merges statements.
 */
export function allowedPermissions(template: Template, roleLogicalId: string): string[] {
  const lines = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      (policy.Properties.Roles as unknown[]).some(
        (role) => JSON.stringify(role) === JSON.stringify({ Ref: roleLogicalId }),
      ),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((statement) => statement.Effect === 'Allow')
    .flatMap((statement) =>
      [statement.Action]
        .flat()
        .flatMap((action) => [statement.Resource].flat().map((resource) => permission(action, resource))),
    );
  return [...new Set(lines)].sort();
}

export function permission(action: string, resource: unknown): string {
  return `${action} ${JSON.stringify(resource)}`;
}

/** The logical id of a function's role. */
export function roleOf(stack: Stack, fn: { readonly role?: IConstruct | undefined }): string {
  if (fn.role === undefined) throw new Error('the function has no role');
  return logicalId(stack, fn.role);
}

/** The properties a construct's resource has in the template. */
export function propertiesOf(
  template: Template,
  stack: Stack,
  construct: IConstruct,
): ReturnType<Template['toJSON']> {
  const id = logicalId(stack, construct);
  const resource = template.toJSON().Resources[id];
  if (resource === undefined) throw new Error(`no resource ${id}`);
  return resource.Properties ?? {};
}

/** A function's environment variables as the template has them. */
export function environmentOf(template: Template, stack: Stack, fn: IConstruct): Record<string, unknown> {
  return propertiesOf(template, stack, fn).Environment?.Variables ?? {};
}

/** `{ 'Fn::GetAtt': [logical id, attribute] }` of a construct's resource. */
export function getAtt(stack: Stack, construct: IConstruct, attribute: string): unknown {
  return { 'Fn::GetAtt': [logicalId(stack, construct), attribute] };
}

/** `{ Ref: logical id }` of a construct's resource. */
export function ref(stack: Stack, construct: IConstruct): unknown {
  return { Ref: logicalId(stack, construct) };
}

/**
 * Every statement of every IAM policy in the template, Allow and Deny, with the logical ids of the
 * roles it is attached to.
 */
export function allStatements(
  template: Template,
): { roles: string[]; Effect: string; Action: string[]; Resource: unknown[]; Condition?: unknown }[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
    (policy.Properties.PolicyDocument.Statement as Statement[]).map((statement) => ({
      ...statement,
      roles: (policy.Properties.Roles as { Ref: string }[]).map((role) => role.Ref),
      Action: [statement.Action].flat(),
      Resource: [statement.Resource].flat(),
    })),
  );
}
