import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { isWebhookSecret, newWebhookSecret } from '#adapters/webhook-sender.ts';
import { createWebhookSecretHandler, respondToCloudFormation } from '../../lib/webhook-secret-handler.ts';
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
      template.hasResourceProperties('Custom::LibraWebhookSecret', {
        ServiceToken: getAtt(stack, notifier.secretWriter, 'Arn'),
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
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:writer',
    ResponseURL: 'https://cloudformation-custom-resource-response.example/signed',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Libra/1',
    RequestId: 'request-1',
    LogicalResourceId: 'SecretValue',
    ResourceType: 'Custom::LibraWebhookSecret',
  };
  const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:libra/webhooks/default-AbCdEf';

  function run(event: CloudFormationCustomResourceEvent, failPut = false) {
    const puts: { secretId: string; value: string }[] = [];
    const responses: { url: string; response: CloudFormationCustomResourceResponse }[] = [];
    const handler = createWebhookSecretHandler({
      putSecretValue: async (secretId, value) => {
        if (failPut) throw new Error('AccessDeniedException');
        puts.push({ secretId, value });
      },
      newSecret: newWebhookSecret,
      respond: async (url, response) => {
        responses.push({ url, response });
      },
    });
    return { puts, responses, done: handler(event) };
  }

  it('writes a Standard Webhooks secret when the secret is created, and answers with the secret as its id', async () => {
    const { puts, responses, done } = run({
      ...base,
      RequestType: 'Create',
      ResourceProperties: { ServiceToken: base.ServiceToken, SecretId: secretArn },
    });
    await done;

    expect(puts).toEqual([{ secretId: secretArn, value: expect.stringMatching(/^whsec_/) }]);
    expect(isWebhookSecret(puts[0]?.value ?? '')).toBe(true);
    expect(Buffer.from(puts[0]?.value.slice('whsec_'.length) ?? '', 'base64')).toHaveLength(32);
    expect(responses).toEqual([
      {
        url: base.ResponseURL,
        response: {
          Status: 'SUCCESS',
          PhysicalResourceId: secretArn,
          StackId: base.StackId,
          RequestId: base.RequestId,
          LogicalResourceId: base.LogicalResourceId,
        },
      },
    ]);
    // The value goes to Secrets Manager only.
    expect(JSON.stringify(responses)).not.toContain(puts[0]?.value);
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
    await Promise.all([update.done, deletion.done]);

    expect([...update.puts, ...deletion.puts]).toEqual([]);
    expect(update.responses[0]?.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: secretArn });
    expect(deletion.responses[0]?.response).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: secretArn,
    });
  });

  it('writes a value into a secret that replaced the old one', async () => {
    const replacement = `${secretArn}-2`;
    const { puts, responses, done } = run({
      ...base,
      RequestType: 'Update',
      PhysicalResourceId: secretArn,
      ResourceProperties: { ServiceToken: base.ServiceToken, SecretId: replacement },
      OldResourceProperties: { ServiceToken: base.ServiceToken, SecretId: secretArn },
    });
    await done;

    expect(puts.map((put) => put.secretId)).toEqual([replacement]);
    expect(responses[0]?.response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: replacement });
  });

  it('answers FAILED with the reason when the secret cannot be written, so that the stack does not hang', async () => {
    const { responses, done } = run(
      {
        ...base,
        RequestType: 'Create',
        ResourceProperties: { ServiceToken: base.ServiceToken, SecretId: secretArn },
      },
      true,
    );
    await done;

    expect(responses[0]?.response).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringContaining('AccessDeniedException'),
      PhysicalResourceId: 'failed-request-1',
    });
  });

  it('PUTs the response with no content type, as the pre-signed URL was signed', async () => {
    const received: { method?: string; headers?: IncomingHttpHeaders; body?: string }[] = [];
    const server = createServer((request, reply) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push({ method: request.method, headers: request.headers, body });
        reply.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const response: CloudFormationCustomResourceResponse = {
      Status: 'SUCCESS',
      PhysicalResourceId: secretArn,
      StackId: base.StackId,
      RequestId: base.RequestId,
      LogicalResourceId: base.LogicalResourceId,
    };

    try {
      await respondToCloudFormation(`http://127.0.0.1:${port}/signed?X-Amz-Signature=abc`, response);
    } finally {
      server.close();
    }

    expect(received).toEqual([
      {
        method: 'PUT',
        headers: expect.objectContaining({ 'content-type': '' }),
        body: JSON.stringify(response),
      },
    ]);
  });
});
