import { runSimulation } from '@cloud-copilot/iam-simulate';
import { describeValue, type IamStatement, rolePolicies, type TemplateValues } from './template-arns.ts';

/**
 * A role's policies from the synthesized template, resolved to one account and region, judged by
 * a real IAM policy evaluator (@cloud-copilot/iam-simulate): is each call a function made allowed,
 * and which granted action is used by no call.
 */

export interface Request {
  readonly action: string;
  readonly resource: string;
  /** Condition keys the request carries, e.g. `iam:PassedToService` for a PassRole. */
  readonly context?: Readonly<Record<string, string>>;
}

export interface Grant {
  readonly action: string;
  /** The resource pattern, resolved. */
  readonly resource: string;
  /** `action resource` with the template's references as `<LogicalId.Attribute>`: stable across runs. */
  readonly name: string;
}

export class RolePermissions {
  readonly roleArn: string;
  readonly grants: readonly Grant[];
  readonly #policies: { Version: string; Statement: IamStatement[] }[];

  /**
   * `aliases` names the literal values of the configuration that differ from run to run (ids an
   * emulator assigned) in the grants' names, e.g. `{ '00f1…': '<shared-application-id>' }`.
   */
  constructor(values: TemplateValues, roleLogicalId: string, aliases: Readonly<Record<string, string>> = {}) {
    this.roleArn = values.getAtt(roleLogicalId, 'Arn');
    const documents = rolePolicies(values.template, roleLogicalId);
    this.#policies = documents.map((document) => ({
      Version: '2012-10-17',
      Statement: values.resolve(document.Statement) as IamStatement[],
    }));
    this.grants = documents.flatMap((document) =>
      document.Statement.filter((statement) => statement.Effect === 'Allow').flatMap((statement) =>
        [statement.Action].flat().flatMap((action) =>
          [statement.Resource].flat().map((resource) => ({
            action,
            resource: values.resolve(resource) as string,
            name: Object.entries(aliases).reduce(
              (name, [literal, alias]) => name.replaceAll(literal, alias),
              `${action} ${describeValue(resource)}`,
            ),
          })),
        ),
      ),
    );
  }

  /** `Allowed`, `ImplicitlyDenied` or `ExplicitlyDenied`, or the evaluator's refusal of the request. */
  async decide(request: Request): Promise<string> {
    const result = await runSimulation(
      {
        identityPolicies: this.#policies.map((policy, index) => ({ name: `policy${index}`, policy })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: undefined,
        request: {
          principal: this.roleArn,
          action: request.action,
          resource: { resource: request.resource, accountId: this.roleArn.split(':')[4] as string },
          contextVariables: { ...request.context },
        },
      },
      {},
    );
    if (result.resultType === 'error') return `invalid request: ${JSON.stringify(result.errors)}`;
    return result.overallResult;
  }
}

/** IAM's wildcard match: `*` any run of characters, `?` one; actions compare case-insensitively. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split('')
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

/** The grants no request uses: no request of the grant's action on a resource its pattern matches. */
export function unusedGrants(grants: readonly Grant[], requests: readonly Request[]): Grant[] {
  return grants.filter(
    (grant) =>
      !requests.some(
        (request) =>
          wildcardMatch(grant.action, request.action, true) &&
          wildcardMatch(grant.resource, request.resource),
      ),
  );
}
