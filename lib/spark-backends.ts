import { ArnFormat, Aws, Stack } from 'aws-cdk-lib';
import { CfnApplication } from 'aws-cdk-lib/aws-emrserverless';
import { Grant, type IGrantable, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { PoolConfig } from '#core/config.ts';
import type { BackendTargets } from '#core/workflow-input.ts';
import { acknowledgeWildcardResource } from './nag.ts';
import type { SparkBackendsProps } from './spark-backends-props.ts';

/** The service that assumes an EMR Serverless job execution role, and to which it is passed. */
export const EMR_SERVERLESS_SERVICE = 'emr-serverless.amazonaws.com';

/**
 * The rule Step Functions creates in the account to learn that an EMR Serverless run it started
 * with `startJobRun.sync` ended (Step Functions developer guide, "IAM policies for Amazon EMR
 * Serverless"). EMR on EKS `.sync` polls DescribeJobRun instead and needs no rule.
 */
export const EMR_SERVERLESS_SYNC_RULE = 'StepFunctionsGetEventsForEMRServerlessJobRule';

const JOB_RUNS_REASON =
  'EMR assigns a job run its id when the run starts, so no policy can name it in advance; the ARN is ' +
  'limited to the runs of one application or virtual cluster Libra uses, and the actions to the few ' +
  'this principal makes on them.';

interface ServerlessApplication {
  /** The application id: a token for one the stack creates, a literal from the configuration. */
  readonly id: string;
  readonly arn: string;
}

interface VirtualCluster {
  readonly id: string;
  readonly arn: string;
}

/**
 * Where each pool's Spark jobs run, resolved from the configuration: an EMR Serverless
 * application per release label the stack creates unless a pool names one (`applicationId`),
 * a job execution role the stack creates unless a pool names one (`executionRoleArn`), and EMR
 * on EKS virtual clusters and roles exactly as configured. The grant helpers give each caller
 * only the calls it makes, on these applications and clusters only.
 */
export class SparkBackends extends Construct {
  /** Per pool, what lambdas/adapters/aws-backends.ts reads from LIBRA_BACKENDS. */
  readonly targets: Readonly<Record<string, BackendTargets>>;
  /** The applications the stack created, one per release label that a pool without `applicationId` uses. */
  readonly createdApplications: readonly CfnApplication[];
  /** The job execution role the stack created, when a pool with EMR Serverless names none. */
  readonly executionRole?: Role;
  readonly serverlessApplications: readonly ServerlessApplication[];
  /** Roles the workflow may pass to EMR Serverless: the created one and the configured ones. */
  readonly serverlessExecutionRoleArns: readonly string[];
  readonly virtualClusters: readonly VirtualCluster[];
  /** Roles EMR on EKS job runs may run as: the configured ones. */
  readonly eksExecutionRoleArns: readonly string[];
  /** The EMR on EKS job templates the pools start their runs with. */
  readonly jobTemplateArns: readonly string[];

  constructor(scope: Construct, id: string, props: SparkBackendsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const pools = Object.entries(props.config.pools);

    const created = new Map<string, CfnApplication>();
    for (const [label, members] of groupBy(
      pools.filter(([, pool]) => pool.backends.emrServerless && !pool.backends.emrServerless.applicationId),
      ([, pool]) => pool.backends.emrServerless?.releaseLabel ?? '',
    )) {
      created.set(label, this.#application(label, members, props));
    }
    this.createdApplications = [...created.values()];

    const applicationOf = (pool: PoolConfig): ServerlessApplication | undefined => {
      const serverless = pool.backends.emrServerless;
      if (!serverless) return undefined;
      if (serverless.applicationId) {
        return {
          id: serverless.applicationId,
          arn: serverlessApplicationArn(stack, serverless.applicationId),
        };
      }
      const application = created.get(serverless.releaseLabel);
      if (!application) throw new Error(`no application for release label ${serverless.releaseLabel}`);
      return { id: application.attrApplicationId, arn: application.attrArn };
    };
    const applications = unique(
      pools.flatMap(([, pool]) => applicationOf(pool) ?? []),
      (application) => application.id,
    );
    this.serverlessApplications = applications;

    const needsRole = pools.some(
      ([, pool]) => pool.backends.emrServerless && !pool.backends.emrServerless.executionRoleArn,
    );
    if (needsRole) {
      const servedBy = pools.flatMap(([, pool]) =>
        pool.backends.emrServerless && !pool.backends.emrServerless.executionRoleArn
          ? [applicationOf(pool)?.arn ?? '']
          : [],
      );
      this.executionRole = this.#executionRole(
        unique(servedBy, (arn) => arn),
        props,
      );
    }

    const targets: Record<string, BackendTargets> = {};
    for (const [name, pool] of pools) {
      const serverless = pool.backends.emrServerless;
      const application = applicationOf(pool);
      const eks = pool.backends.eks;
      targets[name] = {
        ...(serverless &&
          application && {
            emrServerless: {
              applicationId: application.id,
              executionRoleArn: serverless.executionRoleArn ?? this.executionRole?.roleArn ?? '',
            },
          }),
        ...(eks && {
          eks: {
            virtualClusterId: eks.virtualClusterId,
            executionRoleArn: eks.executionRoleArn,
            releaseLabel: eks.releaseLabel,
            ...(eks.jobTemplateId !== undefined && { jobTemplateId: eks.jobTemplateId }),
            ...(eks.podTemplate !== undefined && { podTemplate: eks.podTemplate }),
          },
        }),
      };
    }
    this.targets = targets;
    this.serverlessExecutionRoleArns = unique(
      Object.values(targets).flatMap((target) => target.emrServerless?.executionRoleArn ?? []),
      (arn) => arn,
    );
    this.virtualClusters = unique(
      pools.flatMap(([, pool]) => {
        const eks = pool.backends.eks;
        return eks ? [{ id: eks.virtualClusterId, arn: virtualClusterArn(stack, eks.virtualClusterId) }] : [];
      }),
      (cluster) => cluster.id,
    );
    this.eksExecutionRoleArns = unique(
      pools.flatMap(([, pool]) => pool.backends.eks?.executionRoleArn ?? []),
      (arn) => arn,
    );
    this.jobTemplateArns = unique(
      pools.flatMap(([, pool]) => {
        const id = pool.backends.eks?.jobTemplateId;
        return id === undefined ? [] : [jobTemplateArn(stack, id)];
      }),
      (arn) => arn,
    );
    this.#grantPodTemplateReads(pools);
    this.#grantProgressUpdates(props);
  }

  /**
   * Lets every job execution role report progress: the one the stack creates, and those the
   * configuration names (a role in another account needs the same statement where it lives;
   * docs/progress.md). Without it a job's reports are refused, and the job runs on regardless.
   */
  #grantProgressUpdates(props: SparkBackendsProps): void {
    const table = props.jobTable;
    if (table === undefined) return;
    if (this.executionRole) table.grantProgressUpdate(this.executionRole);
    const created = this.executionRole?.roleArn;
    const named = unique(
      [...this.serverlessExecutionRoleArns, ...this.eksExecutionRoleArns].filter((arn) => arn !== created),
      (arn) => arn,
    );
    named.forEach((arn, index) => {
      table.grantProgressUpdate(Role.fromRoleArn(this, `ProgressReporter${index}`, arn, { mutable: true }));
    });
  }

  /**
   * Lets each pool's EMR on EKS execution role read that pool's pod templates: EMR on EKS reads
   * them as the job's role when it builds the pods. Only a role in this account can be given a
   * policy here; a role elsewhere needs the read granted where it lives (docs/deploy.md).
   */
  #grantPodTemplateReads(pools: readonly (readonly [string, PoolConfig])[]): void {
    const byRole = new Map<string, string[]>();
    for (const [, pool] of pools) {
      const eks = pool.backends.eks;
      const uris = [eks?.podTemplate?.driver, eks?.podTemplate?.executor].flatMap((uri) => uri ?? []);
      if (eks && uris.length > 0)
        byRole.set(eks.executionRoleArn, [...(byRole.get(eks.executionRoleArn) ?? []), ...uris]);
    }
    let index = 0;
    for (const [roleArn, uris] of byRole) {
      const role = Role.fromRoleArn(this, `EksExecutionRole${index++}`, roleArn, { mutable: true });
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['s3:GetObject'],
          resources: unique(uris, (uri) => uri).map(s3ObjectArn),
        }),
      );
    }
  }

  /** Tells `fn` where each pool's jobs run (LIBRA_BACKENDS). */
  shareTargets(fn: LambdaFunction): void {
    fn.addEnvironment('LIBRA_BACKENDS', Stack.of(this).toJsonString(this.targets));
  }

  /** Lets `fn` cancel job runs of these applications and virtual clusters, and nothing else on them. */
  grantCancelRuns(fn: IGrantable): void {
    this.#grantOnRuns(fn, 'emr-serverless:CancelJobRun', 'emr-containers:CancelJobRun');
  }

  /** Lets `fn` read EMR Serverless job runs of these applications (the run recorder's lookup by run id). */
  grantReadServerlessRuns(fn: IGrantable): void {
    this.#grantOnRuns(fn, 'emr-serverless:GetJobRun');
  }

  /**
   * What the job workflow's `startJobRun.sync` tasks need (Step Functions developer guide, IAM
   * policies for EMR Serverless and for EMR on EKS): start runs on these applications and
   * clusters only, follow and cancel them, keep the `.sync` rule for EMR Serverless, and pass
   * only the configured or created execution roles, only to EMR Serverless. EMR on EKS takes no
   * PassRole (its runs assume the role through the cluster's OIDC provider); the role a run may
   * use is bound by the `emr-containers:ExecutionRoleArn` condition of StartJobRun instead.
   */
  grantStartRuns(grantee: IGrantable): void {
    const stack = Stack.of(this);
    const principal = grantee.grantPrincipal;
    if (this.serverlessApplications.length > 0) {
      principal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['emr-serverless:StartJobRun'],
          resources: this.serverlessApplications.map((application) => application.arn),
        }),
      );
      // Tagging a run as it starts (the workflow tags each with its job and pool) is authorized as TagResource on the new run.
      this.#grantOnRuns(grantee, 'emr-serverless:GetJobRun', 'emr-serverless:CancelJobRun');
      this.#grantOnRuns(grantee, 'emr-serverless:TagResource');
      principal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
          resources: [
            stack.formatArn({ service: 'events', resource: 'rule', resourceName: EMR_SERVERLESS_SYNC_RULE }),
          ],
        }),
      );
      principal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [...this.serverlessExecutionRoleArns],
          conditions: { StringEquals: { 'iam:PassedToService': EMR_SERVERLESS_SERVICE } },
        }),
      );
    }
    if (this.virtualClusters.length > 0) {
      principal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['emr-containers:StartJobRun'],
          resources: this.virtualClusters.map((cluster) => cluster.arn),
          conditions: { StringEquals: { 'emr-containers:ExecutionRoleArn': [...this.eksExecutionRoleArns] } },
        }),
      );
      this.#grantOnRuns(grantee, 'emr-containers:DescribeJobRun', 'emr-containers:CancelJobRun');
    }
    if (this.jobTemplateArns.length > 0) {
      // StartJobRun with a jobTemplateId reads the template as the caller.
      principal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['emr-containers:DescribeJobTemplate'],
          resources: [...this.jobTemplateArns],
        }),
      );
    }
  }

  /** The EMR Serverless actions go on the applications' runs, the EMR on EKS ones on the clusters' runs. */
  #grantOnRuns(grantee: IGrantable, ...actions: string[]): void {
    const serverless = actions.filter((action) => action.startsWith('emr-serverless:'));
    const containers = actions.filter((action) => action.startsWith('emr-containers:'));
    const grantOn = (parents: readonly { readonly arn: string }[], granted: string[]) => {
      if (granted.length === 0 || parents.length === 0) return;
      const runs = parents.map((parent) => `${parent.arn}/jobruns/*`);
      Grant.addToPrincipal({ grantee, actions: granted, resourceArns: runs });
      for (const arn of runs) acknowledgeWildcardResource(grantee, arn, JOB_RUNS_REASON);
    };
    grantOn(this.serverlessApplications, serverless);
    grantOn(this.virtualClusters, containers);
  }

  #application(
    releaseLabel: string,
    members: readonly (readonly [string, PoolConfig])[],
    props: SparkBackendsProps,
  ): CfnApplication {
    // The most the pools it serves may use at once: admission never leases more than a pool's budget.
    const cpu = Math.ceil(members.reduce((sum, [, pool]) => sum + pool.cpuCores, 0));
    const memory = Math.ceil(members.reduce((sum, [, pool]) => sum + pool.memoryGb, 0));
    return new CfnApplication(this, `Application-${releaseLabel}`, {
      name: `libra-${releaseLabel}`,
      type: 'SPARK',
      releaseLabel,
      architecture: props.architecture ?? 'X86_64',
      maximumCapacity: { cpu: `${cpu} vCPU`, memory: `${memory} GB` },
      autoStartConfiguration: { enabled: true },
      autoStopConfiguration: { enabled: true, idleTimeoutMinutes: props.idleTimeoutMinutes ?? 15 },
      // Libra submits batch runs only: no interactive endpoints to secure.
      interactiveConfiguration: { studioEnabled: false, livyEndpointEnabled: false },
      tags: [{ key: 'libra:pools', value: members.map(([name]) => name).join(' ') }],
    });
  }

  /**
   * The job execution role: assumed by EMR Serverless only on behalf of the applications it
   * serves in this account (confused-deputy conditions), and allowed only what a Libra run
   * needs from the artifacts bucket. A job that reads or writes other data names a role of its
   * pool's own in the configuration.
   */
  #executionRole(applicationArns: readonly string[], props: SparkBackendsProps): Role {
    const stack = Stack.of(this);
    const role = new Role(this, 'ExecutionRole', {
      description: 'Libra: Spark job runs on EMR Serverless',
      assumedBy: new ServicePrincipal(EMR_SERVERLESS_SERVICE).withConditions({
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': [...applicationArns] },
      }),
    });
    props.artifacts.grantJobRunAccess(role);
    // EMR Serverless's Spark uses the Glue Data Catalog as its metastore, and a session looks up
    // (and on first use creates) the `default` database even for `SELECT 1`. Only that one.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['glue:GetDatabase', 'glue:CreateDatabase'],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: 'default' }),
        ],
      }),
    );
    return role;
  }
}

export function serverlessApplicationArn(stack: Stack, applicationId: string): string {
  return stack.formatArn({
    service: 'emr-serverless',
    resource: 'applications',
    resourceName: applicationId,
    arnFormat: ArnFormat.SLASH_RESOURCE_SLASH_RESOURCE_NAME,
  });
}

export function virtualClusterArn(stack: Stack, virtualClusterId: string): string {
  return stack.formatArn({
    service: 'emr-containers',
    resource: 'virtualclusters',
    resourceName: virtualClusterId,
    arnFormat: ArnFormat.SLASH_RESOURCE_SLASH_RESOURCE_NAME,
  });
}

/** A job template's ARN: `arn:aws:emr-containers:<region>:<account>:/jobtemplates/<id>`. */
export function jobTemplateArn(stack: Stack, jobTemplateId: string): string {
  return stack.formatArn({
    service: 'emr-containers',
    resource: '/jobtemplates',
    resourceName: jobTemplateId,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/** `s3://bucket/key` → the object's ARN, in the stack's partition. */
function s3ObjectArn(uri: string): string {
  return `arn:${Aws.PARTITION}:s3:::${uri.slice('s3://'.length)}`;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

function unique<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()];
}
