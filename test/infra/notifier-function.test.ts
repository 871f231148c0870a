import { Template } from 'aws-cdk-lib/assertions';
import type { CdkCustomResourceEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { isWebhookSecret, newWebhookSecret } from '#adapters/webhook-sender.ts';
import { createWebhookSecretHandler } from '../../lib/webhook-secret-handler.ts';
import {
  allowedPermissions,
  environmentOf,
  getAtt,
  libraStack,
  logicalId,
  permission,
  propertiesOf,
  ref,
  roleOf,
} from './app.ts';

const stack = libraStack({ config: { pools: { etl: {} } } });
const template = Template.fromStack(stack);
const notifier = stack.libra.notifier;

describe('NotifierFunction', () => {
  it('keeps one signing secret per pool, named <prefix><pool>, each written once by the custom resource', () => {
    expect(Object.keys(notifier.secrets).sort()).toEqual(['default', 'etl']);
    for (const [pool, secret] of Object.entries(notifier.secrets)) {
      expect(propertiesOf(template, stack, secret)).toEqual({
        Name: `libra/webhooks/${pool}`,
        Description: `Libra: Standard Webhooks signing secret of pool ${pool}`,
        // A random placeholder until the custom resource, which the notifier waits for, writes the whsec_ value.
        GenerateSecretString: {},
      });
      // Through aws-cdk-lib's Provider: its framework function invokes the writer and answers CloudFormation.
      template.hasResourceProperties('Custom::LibraWebhookSecret', {
        ServiceToken: getAtt(stack, notifier.secretWriterProvider.node.findChild('framework-onEvent'), 'Arn'),
        SecretId: ref(stack, secret),
      });
    }
    template.resourceCountIs('Custom::LibraWebhookSecret', 2);
    const dependsOn: string[] = template.toJSON().Resources[logicalId(stack, notifier.function)].DependsOn;
    expect(dependsOn.filter((id) => id.startsWith('LibraNotifierSecretValue')).sort()).toEqual(
      Object.keys(template.findResources('Custom::LibraWebhookSecret')).sort(),
    );
  });

  it('names the secrets after another prefix when told', () => {
    const other = libraStack({ notifier: { webhookSecretPrefix: 'team-a/libra/' } });

    expect(
      propertiesOf(Template.fromStack(other), other, other.libra.notifier.secrets.default ?? other).Name,
    ).toBe('team-a/libra/default');
    expect(environmentOf(Template.fromStack(other), other, other.libra.notifier.function)).toMatchObject({
      WEBHOOK_SECRET_PREFIX: 'team-a/libra/',
    });
  });

  it('lets the notifier read the pools’ secrets by ARN, and the job table (no index), and nothing else', () => {
    const tableArn = getAtt(stack, stack.libra.jobStore.table, 'Arn');
    const logs = getAtt(stack, notifier.function.node.scope?.node.findChild('Logs') ?? notifier, 'Arn');

    expect(environmentOf(template, stack, notifier.function)).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'libra',
      LIBRA_CONFIG: expect.any(String),
      TABLE_NAME: ref(stack, stack.libra.jobStore.table),
      WEBHOOK_SECRET_PREFIX: 'libra/webhooks/',
    });
    expect(propertiesOf(template, stack, notifier.function)).toMatchObject({ Timeout: 30 });
    expect(allowedPermissions(template, roleOf(stack, notifier.function))).toEqual(
      [
        permission('dynamodb:GetItem', tableArn),
        permission('dynamodb:Query', tableArn),
        permission('dynamodb:PutItem', tableArn),
        permission('dynamodb:UpdateItem', tableArn),
        ...Object.values(notifier.secrets).map((secret) =>
          permission('secretsmanager:GetSecretValue', ref(stack, secret)),
        ),
        permission('logs:CreateLogStream', logs),
        permission('logs:PutLogEvents', logs),
        permission('xray:PutTelemetryRecords', '*'),
        permission('xray:PutTraceSegments', '*'),
      ].sort(),
    );
  });

  it('lets the secret writer put values into the pools’ secrets, and nothing else', () => {
    const logs = getAtt(stack, notifier.secretWriter.node.scope?.node.findChild('Logs') ?? notifier, 'Arn');

    expect(environmentOf(template, stack, notifier.secretWriter)).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(allowedPermissions(template, roleOf(stack, notifier.secretWriter))).toEqual(
      [
        ...Object.values(notifier.secrets).map((secret) =>
          permission('secretsmanager:PutSecretValue', ref(stack, secret)),
        ),
        permission('logs:CreateLogStream', logs),
        permission('logs:PutLogEvents', logs),
        permission('xray:PutTelemetryRecords', '*'),
        permission('xray:PutTraceSegments', '*'),
      ].sort(),
    );
  });

  it('is invoked by the workflow, and asynchronously by cancel, admission (START_FAILED), the tick and the finalizer', () => {
    const callers = [
      stack.libra.workflow.role,
      stack.libra.jobApi.functions.CancelJob.role,
      stack.libra.admission.admission.role,
      stack.libra.admission.tick.role,
      stack.libra.workflow.finalizer.role,
    ];
    const invoke = permission('lambda:InvokeFunction', getAtt(stack, notifier.function, 'Arn'));
    const allRoles = Object.keys(template.findResources('AWS::IAM::Role'));

    expect(allRoles.filter((role) => allowedPermissions(template, role).includes(invoke)).sort()).toEqual(
      callers.map((role) => logicalId(stack, role ?? stack)).sort(),
    );
  });
});

describe('the webhook secret custom resource', () => {
  const base = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider-framework-onEvent',
    ResponseURL: 'https://cloudformation-custom-resource-response.example/signed',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Libra/1',
    RequestId: 'request-1',
    LogicalResourceId: 'SecretValue',
    ResourceType: 'Custom::LibraWebhookSecret',
  };
  const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:libra/webhooks/default-AbCdEf';

  function run(event: CdkCustomResourceEvent, failPut = false) {
    const puts: { secretId: string; value: string }[] = [];
    const handler = createWebhookSecretHandler({
      putSecretValue: async (secretId, value) => {
        if (failPut) throw new Error('AccessDeniedException');
        puts.push({ secretId, value });
      },
      newSecret: newWebhookSecret,
    });
    return { puts, done: handler(event) };
  }

  it('writes a Standard Webhooks secret when the secret is created, and answers with the secret as its id', async () => {
    const { puts, done } = run({
      ...base,
      RequestType: 'Create',
      ResourceProperties: { ServiceToken: base.ServiceToken, SecretId: secretArn },
    });
    const answer = await done;

    expect(puts).toEqual([{ secretId: secretArn, value: expect.stringMatching(/^whsec_/) }]);
    expect(isWebhookSecret(puts[0]?.value ?? '')).toBe(true);
    expect(Buffer.from(puts[0]?.value.slice('whsec_'.length) ?? '', 'base64')).toHaveLength(32);
    // The provider's framework answers CloudFormation with this, and only this.
    expect(answer).toEqual({ PhysicalResourceId: secretArn });
  });

  it('never changes the value of a secret that already has one, and leaves it on delete', async () => {
    const properties = { ServiceToken: base.ServiceToken, SecretId: secretArn };
    const update = run({
      ...base,
      RequestType: 'Update',
      PhysicalResourceId: secretArn,
      ResourceProperties: properties,
      OldResourceProperties: properties,
    });
    const deletion = run({
      ...base,
      RequestType: 'Delete',
      PhysicalResourceId: secretArn,
      ResourceProperties: properties,
    });

    expect(await update.done).toEqual({ PhysicalResourceId: secretArn });
    expect(await deletion.done).toEqual({ PhysicalResourceId: secretArn });
    expect([...update.puts, ...deletion.puts]).toEqual([]);
  });

  it('writes a value into a secret that replaced the old one', async () => {
    const replacement = `${secretArn}-2`;
    const { puts, done } = run({
      ...base,
      RequestType: 'Update',
      PhysicalResourceId: secretArn,
      ResourceProperties: { ServiceToken: base.ServiceToken, SecretId: replacement },
      OldResourceProperties: { ServiceToken: base.ServiceToken, SecretId: secretArn },
    });

    expect(await done).toEqual({ PhysicalResourceId: replacement });
    expect(puts.map((put) => put.secretId)).toEqual([replacement]);
  });

  it('fails with the reason when the secret cannot be written or is not named, which the provider answers as FAILED', async () => {
    const create = { ...base, RequestType: 'Create' as const };
    await expect(
      run({ ...create, ResourceProperties: { ServiceToken: base.ServiceToken, SecretId: secretArn } }, true)
        .done,
    ).rejects.toThrow(`could not write the webhook secret ${secretArn}: AccessDeniedException`);
    await expect(
      run({ ...create, ResourceProperties: { ServiceToken: base.ServiceToken } }).done,
    ).rejects.toThrow('the SecretId property is required');
  });
});
