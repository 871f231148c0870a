import { fileURLToPath } from 'node:url';
import { CustomResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Grant, type IGrantable, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { configEnvironment, lambdaEntry, libraFunction } from './libra-function.ts';
import { acknowledgeWildcardResource } from './nag.ts';
import type { NotifierFunctionProps } from './notifier-function-props.ts';

export const DEFAULT_WEBHOOK_SECRET_PREFIX = 'libra/webhooks/';

const SECRET_WRITER_ENTRY = fileURLToPath(new URL('./webhook-secret-handler.ts', import.meta.url));

/**
 * The webhook notifier's infrastructure (DESIGN §6; the core's Notifier, lambdas/core/webhook.ts,
 * runs inside it): the function the workflow's notify tasks invoke, and that
 * cancel, the tick and the finalizer invoke asynchronously; and one Secrets Manager secret per
 * pool, `<prefix><pool>`, holding the Standard Webhooks secret that pool's deliveries are signed
 * with. A small custom resource writes each secret's value once, when the secret is created
 * (lib/webhook-secret-handler.ts): Secrets Manager cannot generate the `whsec_` format itself.
 */
export class NotifierFunction extends Construct {
  readonly function: NodejsFunction;
  /** The custom resource function that writes each new secret's value. */
  readonly secretWriter: NodejsFunction;
  /**
   * aws-cdk-lib's custom resource provider around the writer: its framework function invokes the
   * writer and answers CloudFormation with what the writer returns, or with its error.
   */
  readonly secretWriterProvider: Provider;
  readonly secretPrefix: string;
  /** Each pool's signing secret, by pool name. */
  readonly secrets: Readonly<Record<string, Secret>>;

  constructor(scope: Construct, id: string, props: NotifierFunctionProps) {
    super(scope, id);
    this.secretPrefix = props.webhookSecretPrefix ?? DEFAULT_WEBHOOK_SECRET_PREFIX;

    const writer = libraFunction(this, 'SecretWriter', {
      entry: SECRET_WRITER_ENTRY,
      description: 'Libra: writes a Standard Webhooks secret into each new pool webhook secret',
      timeout: Duration.seconds(30),
      memorySize: 256,
      logRetention: props.logRetention,
    });

    this.secretWriter = writer;
    this.secretWriterProvider = this.#provider(writer, props);
    const secrets: Record<string, Secret> = {};
    const values: CustomResource[] = [];
    for (const pool of Object.keys(props.config.pools)) {
      const secret = new Secret(this, `Secret-${pool}`, {
        secretName: `${this.secretPrefix}${pool}`,
        description: `Libra: Standard Webhooks signing secret of pool ${pool}`,
        removalPolicy: props.secretRemovalPolicy ?? RemovalPolicy.DESTROY,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason:
          'A webhook signing secret is shared with the receivers that verify deliveries; rotating it on a ' +
          "schedule would break every receiver until it is given the new value. It is rotated on the pool owner's " +
          'request (put a new whsec_ value; the notifier reads it again within five minutes).',
      });
      Grant.addToPrincipal({
        grantee: writer,
        actions: ['secretsmanager:PutSecretValue'],
        resourceArns: [secret.secretArn],
      });
      values.push(
        new CustomResource(this, `SecretValue-${pool}`, {
          serviceToken: this.secretWriterProvider.serviceToken,
          resourceType: 'Custom::LibraWebhookSecret',
          properties: { SecretId: secret.secretArn },
        }),
      );
      secrets[pool] = secret;
    }
    this.secrets = secrets;

    this.function = libraFunction(this, 'Notifier', {
      entry: lambdaEntry('notifier.ts'),
      description: 'Libra: signs and delivers job webhooks',
      environment: { ...configEnvironment(props.config), WEBHOOK_SECRET_PREFIX: this.secretPrefix },
      // A delivery times out after 10 s; the workflow's notify task gives up after 60 s.
      timeout: Duration.seconds(30),
      memorySize: props.memorySize,
      logRetention: props.logRetention,
    });
    // The job and its history; a delivery's history item; UpdateItem turns a job's webhook off after a 410.
    props.store.grant(this.function, { items: ['GetItem', 'PutItem', 'UpdateItem'], queries: ['history'] });
    // The pools' own secrets by ARN, not `<prefix>*`: a pool added later gets its secret and this grant in the same deploy.
    Grant.addToPrincipal({
      grantee: this.function,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: Object.values(secrets).map((secret) => secret.secretArn),
    });
    // The notifier never signs with the placeholder a secret is created with.
    for (const value of values) this.function.node.addDependency(value);
  }

  #provider(writer: NodejsFunction, props: NotifierFunctionProps): Provider {
    const role = new Role(this, 'SecretWriterProviderRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Libra: the custom resource provider of the webhook secrets (invokes the secret writer)',
    });
    const logGroup = new LogGroup(this, 'SecretWriterProviderLogs', { retention: props.logRetention });
    logGroup.grantWrite(role);
    const provider = new Provider(this, 'SecretWriterProvider', {
      onEventHandler: writer,
      frameworkOnEventRole: role,
      logGroup,
    });
    // The framework's grant: lambda:InvokeFunction on the writer and on its versions.
    acknowledgeWildcardResource(
      role,
      `${writer.functionArn}:*`,
      "aws-cdk-lib's Provider grants its framework function the invocation of the secret writer and of the " +
        "writer's versions (`<arn>:*`); the writer is Libra's own function, named by its ARN.",
    );
    return provider;
  }

  /** Lets `fn` invoke the notifier (asynchronously, as aws-environment.ts does) and tells it its name. */
  grantInvoke(fn: LambdaFunction): void {
    this.grantInvokeOnly(fn);
    fn.addEnvironment('NOTIFIER_FUNCTION_NAME', this.function.functionName);
  }

  /** lambda:InvokeFunction on the notifier's own ARN, unqualified, as its callers invoke it. */
  grantInvokeOnly(grantee: IGrantable): void {
    Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.function.functionArn],
    });
  }
}
