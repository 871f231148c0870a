/**
 * A synthesized template's values as they are once deployed in one account and region: every
 * Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and Fn::Split resolved to a concrete string, so that
 * a function's environment, its role's policies and the calls it makes all name the same resources.
 * A resource is named by its name property when the template sets one, else by its logical id
 * (with a suffix, so that several test runs can share one emulator); `overrides` gives what only
 * the emulator assigns (an application id, a queue URL, a secret's ARN).
 */

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface Template {
  readonly Resources: Record<string, TemplateResource>;
}

export interface Deployment {
  readonly account: string;
  readonly region: string;
  /** Appended to the names the template leaves to CloudFormation. */
  readonly suffix: string;
  /** `LogicalId` (Ref) or `LogicalId.Attribute` (Fn::GetAtt) → value. */
  readonly overrides?: Readonly<Record<string, string>>;
}

const NAME_PROPERTIES = [
  'TableName',
  'QueueName',
  'FunctionName',
  'StateMachineName',
  'BucketName',
  'RoleName',
  'LogGroupName',
  'Name',
];

export class TemplateValues {
  readonly template: Template;
  readonly deployment: Deployment;

  constructor(template: Template, deployment: Deployment) {
    this.template = template;
    this.deployment = deployment;
  }

  resource(logicalId: string): TemplateResource {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new Error(`the template has no resource ${logicalId}`);
    return resource;
  }

  /** The physical name CloudFormation would give the resource, or the name the template sets. */
  name(logicalId: string): string {
    const properties = this.resource(logicalId).Properties ?? {};
    for (const property of NAME_PROPERTIES) {
      const value = properties[property];
      if (value !== undefined) return this.resolve(value) as string;
    }
    const name = `${logicalId}-${this.deployment.suffix}`;
    return this.resource(logicalId).Type === 'AWS::S3::Bucket' ? name.toLowerCase() : name;
  }

  ref(logicalId: string): string {
    const { account, region, overrides } = this.deployment;
    const pseudo: Record<string, string> = {
      'AWS::AccountId': account,
      'AWS::Region': region,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
    };
    if (pseudo[logicalId] !== undefined) return pseudo[logicalId];
    const override = overrides?.[logicalId];
    if (override !== undefined) return override;
    const { Type } = this.resource(logicalId);
    switch (Type) {
      case 'AWS::SQS::Queue':
        return `https://sqs.${region}.amazonaws.com/${account}/${this.name(logicalId)}`;
      case 'AWS::StepFunctions::StateMachine':
      case 'AWS::SecretsManager::Secret':
      case 'AWS::SNS::Topic':
        return this.getAtt(logicalId, 'Arn');
      case 'AWS::EMRServerless::Application':
        return this.getAtt(logicalId, 'ApplicationId');
      default:
        return this.name(logicalId);
    }
  }

  getAtt(logicalId: string, attribute: string): string {
    const { account, region, overrides } = this.deployment;
    const override = overrides?.[`${logicalId}.${attribute}`];
    if (override !== undefined) return override;
    const { Type } = this.resource(logicalId);
    const name = () => this.name(logicalId);
    const arns: Record<string, () => string> = {
      'AWS::DynamoDB::Table': () => `arn:aws:dynamodb:${region}:${account}:table/${name()}`,
      'AWS::SQS::Queue': () => `arn:aws:sqs:${region}:${account}:${name()}`,
      'AWS::Lambda::Function': () => `arn:aws:lambda:${region}:${account}:function:${name()}`,
      'AWS::S3::Bucket': () => `arn:aws:s3:::${name()}`,
      'AWS::IAM::Role': () => `arn:aws:iam::${account}:role/${name()}`,
      'AWS::Logs::LogGroup': () => `arn:aws:logs:${region}:${account}:log-group:${name()}:*`,
      'AWS::StepFunctions::StateMachine': () => `arn:aws:states:${region}:${account}:stateMachine:${name()}`,
      'AWS::SecretsManager::Secret': () =>
        `arn:aws:secretsmanager:${region}:${account}:secret:${name()}-AbCdEf`,
      'AWS::SNS::Topic': () => `arn:aws:sns:${region}:${account}:${name()}`,
      'AWS::Events::Rule': () => `arn:aws:events:${region}:${account}:rule/${name()}`,
      'AWS::EMRServerless::Application': () =>
        `arn:aws:emr-serverless:${region}:${account}:/applications/${this.getAtt(logicalId, 'ApplicationId')}`,
    };
    if (attribute === 'Arn' && arns[Type]) return (arns[Type] as () => string)();
    if (Type === 'AWS::EMRServerless::Application' && attribute === 'ApplicationId') {
      return `app${logicalId.toLowerCase().slice(-12)}`;
    }
    if (Type === 'AWS::SQS::Queue' && attribute === 'QueueName') return name();
    if (Type === 'AWS::SQS::Queue' && attribute === 'QueueUrl') return this.ref(logicalId);
    throw new Error(`no value for Fn::GetAtt ${logicalId}.${attribute} (${Type})`);
  }

  /** The value with every intrinsic function resolved. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value);
    const [key, argument] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) {
      return this.#intrinsic(key, argument);
    }
    return Object.fromEntries(entries.map(([name, inner]) => [name, this.resolve(inner)]));
  }

  #intrinsic(name: string, argument: unknown): unknown {
    switch (name) {
      case 'Ref':
        return this.ref(argument as string);
      case 'Fn::GetAtt': {
        const [id, attribute] = Array.isArray(argument) ? argument : String(argument).split('.');
        return this.getAtt(id as string, attribute as string);
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown[]];
        return (this.resolve(parts) as unknown[]).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = argument as [number | string, unknown];
        return (this.resolve(list) as unknown[])[Number(index)];
      }
      case 'Fn::Split': {
        const [separator, source] = argument as [string, unknown];
        return String(this.resolve(source)).split(separator);
      }
      case 'Fn::Sub': {
        const [body, variables] = (typeof argument === 'string' ? [argument, {}] : argument) as [
          string,
          Record<string, unknown>,
        ];
        return body.replace(/\$\{([^}!][^}]*)\}/g, (_, variable: string) => {
          if (variables[variable] !== undefined) return String(this.resolve(variables[variable]));
          const [id, attribute] = variable.split('.');
          return attribute === undefined ? this.ref(variable) : this.getAtt(id as string, attribute);
        });
      }
      default:
        throw new Error(`cannot resolve ${name}`);
    }
  }
}

/**
 * A template value as a short stable text, intrinsics written `<LogicalId>` and
 * `<LogicalId.Attribute>` (as cdk-nag writes them): how a grant is named in a checked-in list.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(describeValue).join(',');
  const object = value as Record<string, unknown>;
  if ('Ref' in object) return `<${object.Ref}>`;
  if ('Fn::GetAtt' in object) return `<${(object['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map(describeValue).join(separator);
  }
  if ('Fn::Sub' in object) return describeValue([object['Fn::Sub']].flat()[0]);
  return JSON.stringify(value);
}

export interface IamStatement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** The policy documents that apply to a role: its own inline policies and every AWS::IAM::Policy attached to it. */
export function rolePolicies(template: Template, roleLogicalId: string): { Statement: IamStatement[] }[] {
  const role = template.Resources[roleLogicalId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleLogicalId} is not a role of the template`);
  if (role.Properties?.ManagedPolicyArns) {
    throw new Error(`${roleLogicalId} has managed policies, which the evaluation cannot read`);
  }
  const inline = (
    (role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: IamStatement[] } }[]
  ).map((policy) => policy.PolicyDocument);
  const attached = Object.values(template.Resources)
    .filter(
      (resource) =>
        resource.Type === 'AWS::IAM::Policy' &&
        ((resource.Properties?.Roles ?? []) as unknown[]).some(
          (ref) => JSON.stringify(ref) === JSON.stringify({ Ref: roleLogicalId }),
        ),
    )
    .map((policy) => policy.Properties?.PolicyDocument as { Statement: IamStatement[] });
  return [...inline, ...attached];
}
