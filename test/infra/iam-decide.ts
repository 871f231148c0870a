import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { Template } from 'aws-cdk-lib/assertions';

/** The account and region the synthesized templates are resolved in. */
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

/**
 * CloudFormation values with the pseudo parameters of one account and region filled in, and each
 * `Fn::GetAtt` as `attributes` gives it (`<logical id>.<attribute>`) or as a placeholder.
 */
export function resolve(value: unknown, attributes: Readonly<Record<string, string>> = {}): unknown {
  const inner = (part: unknown) => resolve(part, attributes);
  if (Array.isArray(value)) return value.map(inner);
  if (value === null || typeof value !== 'object') return value;
  const node = value as Record<string, unknown>;
  if ('Ref' in node) {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': REGION,
      'AWS::AccountId': ACCOUNT,
    };
    return pseudo[String(node.Ref)] ?? `ref-${String(node.Ref)}`;
  }
  if ('Fn::Join' in node) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(inner).join(separator);
  }
  if ('Fn::GetAtt' in node) {
    const path = node['Fn::GetAtt'] as string[];
    return attributes[path.join('.')] ?? `getatt-${path.join('-')}`;
  }
  return Object.fromEntries(Object.entries(node).map(([key, part]) => [key, inner(part)]));
}

/**
 * How IAM decides a role's request, with a real policy evaluator (@cloud-copilot/iam-simulate)
 * over the identity policies the template attaches to the role: named by its logical id (Ref)
 * or, for an imported role, its name.
 */
export function roleDecider(template: Template, attributes: Readonly<Record<string, string>> = {}) {
  const policiesOf = (role: string) =>
    Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([, policy]) =>
        (policy.Properties.Roles as unknown[]).some(
          (r) => r === role || JSON.stringify(r) === JSON.stringify({ Ref: role }),
        ),
      )
      .map(([name, policy]) => ({ name, policy: resolve(policy.Properties.PolicyDocument, attributes) }));
  return async (
    role: string,
    action: string,
    resource: string,
    context: Record<string, string | string[]> = {},
  ): Promise<string> => {
    const result = await runSimulation(
      {
        request: {
          principal: `arn:aws:iam::${ACCOUNT}:role/${role}`,
          action,
          resource: { resource, accountId: ACCOUNT },
          contextVariables: context,
        },
        identityPolicies: policiesOf(role),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: undefined,
      },
      {},
    );
    if (result.resultType !== 'single') throw new Error(`simulation did not run: ${JSON.stringify(result)}`);
    return result.overallResult;
  };
}
