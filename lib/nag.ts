import { Stack, Validations } from 'aws-cdk-lib';
import type { IGrantable, Policy, Role } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * Acknowledges the AwsSolutions-IAM5 finding for one wildcard resource of a role's policy, and
 * only that one. cdk-nag names each finding after the resource as the template will read it,
 * with references written `<LogicalId.Attribute>` or `<Ref>`; the same rendering here keeps an
 * acknowledgement from covering any other wildcard the role may get later.
 */
export function acknowledgeWildcardResource(grantee: IGrantable, resource: string, reason: string): void {
  const role = grantee.grantPrincipal;
  // Only a role this app defines carries a policy cdk-nag reads.
  if (!Construct.isConstruct(role)) return;
  const rendered = renderReference(Stack.of(role).resolve(resource));
  Validations.of(role).acknowledge({ id: `AwsSolutions::AwsSolutions-IAM5[Resource::${rendered}]`, reason });
}

/**
 * Acknowledges, with one reason, the AwsSolutions-IAM5 findings of every wildcard action and
 * resource a role's policy allows at this point: for a role whose statements a library
 * construct wrote. A wildcard added to the role later is not covered.
 */
export function acknowledgeWildcardsSoFar(role: Role, reason: string): void {
  const policy = role.node.tryFindChild('DefaultPolicy') as Policy | undefined;
  if (!policy) return;
  const document = Stack.of(role).resolve(policy.document) as {
    Statement?: { Effect: string; Action?: unknown; Resource?: unknown }[];
  };
  const ids = new Set<string>();
  for (const statement of document.Statement ?? []) {
    if (statement.Effect !== 'Allow') continue;
    for (const action of [statement.Action ?? []].flat() as string[]) {
      if (action.includes('*')) ids.add(`Action::${action}`);
    }
    for (const resource of [statement.Resource ?? []].flat()) {
      const rendered = renderReference(resource);
      if (rendered.includes('*')) ids.add(`Resource::${rendered}`);
    }
  }
  Validations.of(role).acknowledge(
    ...[...ids].map((id) => ({ id: `AwsSolutions::AwsSolutions-IAM5[${id}]`, reason })),
  );
}

/**
 * Acknowledges AwsSolutions-L1 on the functions aws-cdk-lib puts at the top of a stack for its
 * BucketDeployments (one per distinct role), whose runtime is aws-cdk-lib's to choose.
 */
export function acknowledgeBucketDeploymentRuntimes(stack: Stack): void {
  for (const handler of stack.node.children) {
    if (!handler.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
    Validations.of(handler).acknowledge({
      id: 'AwsSolutions::AwsSolutions-L1',
      reason:
        'The runtime of the function behind BucketDeployment is chosen and kept current by aws-cdk-lib, ' +
        'which ships its code; it runs only while CloudFormation deploys the stack and is invoked by nothing else.',
    });
  }
}

/** A resolved CloudFormation value as cdk-nag renders it in finding ids. */
function renderReference(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replaceAll('${', '<').replaceAll('}', '>');
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const intrinsic = value as Record<string, unknown>;
  if ('Fn::Join' in intrinsic) {
    const [separator, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
    return parts.map(renderReference).join(separator);
  }
  if ('Fn::Sub' in intrinsic) return renderReference(intrinsic['Fn::Sub']);
  if ('Fn::GetAtt' in intrinsic) {
    const [logicalId, attribute] = intrinsic['Fn::GetAtt'] as [unknown, unknown];
    return `<${renderReference(logicalId)}.${renderReference(attribute)}>`;
  }
  if ('Fn::ImportValue' in intrinsic) return renderReference(intrinsic['Fn::ImportValue']);
  if ('Ref' in intrinsic) return `<${renderReference(intrinsic.Ref)}>`;
  return JSON.stringify(value);
}
