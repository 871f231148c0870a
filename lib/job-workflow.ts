import { ArnFormat, Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import { MathExpression, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import { Grant, type IGrantable, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  JOB_WORKFLOW_PLACEHOLDERS,
  type JobWorkflowPlaceholder,
  type JobWorkflowSubstitutions,
  placeholdersIn,
  readJobWorkflow,
} from '../state-machines/job-workflow.ts';
import type { JobWorkflowProps } from './job-workflow-props.ts';
import { configEnvironment, lambdaEntry, libraFunction } from './libra-function.ts';
import { type LibraAlarms, libraAlarms, METRIC_PERIOD, sumOf } from './libra-metrics.ts';
import { acknowledgeWildcardResource } from './nag.ts';

/** How an execution of the job state machine can end without the workflow ending the job itself. */
export const UNFINISHED_EXECUTION_STATUSES = ['ABORTED', 'FAILED', 'TIMED_OUT'] as const;

/** A Task of the ASL and the resource it names through a placeholder (TableName, QueueUrl, FunctionName). */
export interface WorkflowTask {
  readonly state: string;
  readonly resource: string;
  readonly placeholder?: string;
}

/**
 * The per-job workflow (DESIGN §5): the Standard state machine built from
 * state-machines/job.asl.json, the one definition the local runtime runs too, with its
 * `${...}` placeholders filled from JOB_WORKFLOW_PLACEHOLDERS; and the finalizer, which ends
 * the jobs whose execution ended without the workflow ending them (EventBridge on ABORTED,
 * FAILED and TIMED_OUT executions) and stops runs for the workflow's StopRun steps.
 *
 * The state machine's role is built from the tasks the ASL actually has: each task resource
 * maps to the IAM actions it needs, on the resource its placeholder names, and a task the map
 * does not know fails synthesis rather than deploying a workflow that cannot run.
 *
 * Its alarm: an execution that failed or timed out as a whole.
 */
export class JobWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  readonly stateMachineName: string;
  /**
   * The state machine's ARN, built from its name rather than read from the resource, so that
   * the finalizer, which the state machine itself invokes, can be told it without a cycle.
   */
  readonly stateMachineArn: string;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly finalizer: NodejsFunction;
  readonly finalizerRule: Rule;
  /** The tasks of the definition, as read from the ASL file. */
  readonly tasks: readonly WorkflowTask[];
  readonly alarms: LibraAlarms;

  constructor(scope: Construct, id: string, props: JobWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.stateMachineName =
      props.stateMachineName ?? Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(this.stateMachineName)) {
      throw new Error(
        `stateMachineName '${this.stateMachineName}': letters, digits, '-' and '_' only, at most 80`,
      );
    }
    this.stateMachineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    const definition = readJobWorkflow();
    const unknown = placeholdersIn(definition).filter(
      (name) => !(JOB_WORKFLOW_PLACEHOLDERS as readonly string[]).includes(name),
    );
    if (unknown.length > 0) {
      throw new Error(
        `state-machines/job.asl.json uses \${${unknown.join('}, ${')}}, which JOB_WORKFLOW_PLACEHOLDERS ` +
          'does not list: the stack would deploy it unfilled',
      );
    }
    const parsed = JSON.parse(definition) as AslMachine;
    this.tasks = tasksOf(parsed);

    this.finalizer = libraFunction(this, 'Finalizer', {
      entry: lambdaEntry('finalizer.ts'),
      description: 'Libra: ends jobs whose workflow execution stopped, failed or timed out; stops runs',
      environment: { ...configEnvironment(props.config), STATE_MACHINE_ARN: this.stateMachineArn },
      // The workflow's StopRun tasks wait 60 s for it.
      timeout: Duration.seconds(30),
      memorySize: props.memorySize,
      logRetention: props.logRetention,
    });
    props.store.grant(this.finalizer, { items: ['GetItem', 'PutItem', 'UpdateItem'], queries: ['history'] });
    props.intake.grantSend(this.finalizer);
    props.backends.grantCancelRuns(this.finalizer);
    props.notifier.grantInvoke(this.finalizer);

    const substitutions: JobWorkflowSubstitutions = {
      JobTableName: props.store.table.tableName,
      IntakeQueueUrl: props.intake.queue.queueUrl,
      NotifierFunctionArn: props.notifier.function.functionArn,
      FinalizerFunctionArn: this.finalizer.functionArn,
    };

    this.role = new Role(this, 'Role', {
      description: 'Libra: the job workflow',
      assumedBy: new ServicePrincipal('states.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': stack.account },
      }),
    });
    this.#grantTasks(props);
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'Two groups of calls that support no resource-level permissions, so AWS requires Resource "*": the ' +
        'CloudWatch Logs vended-log delivery calls Step Functions makes to log executions (logs:CreateLogDelivery, ' +
        'GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, ' +
        'DescribeResourcePolicies, DescribeLogGroups) and X-Ray tracing (xray:PutTraceSegments, ' +
        'PutTelemetryRecords, GetSamplingRules, GetSamplingTargets). Every task statement names its resource ' +
        '(asserted in test/infra/job-workflow.test.ts).',
    });

    this.logGroup = new LogGroup(this, 'Logs', {
      // Step Functions needs no account-wide log resource policy for groups under /aws/vendedlogs/.
      logGroupName: `/aws/vendedlogs/states/${this.stateMachineName}`,
      retention: props.logRetention,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(JSON.stringify(parsed)),
      definitionSubstitutions: { ...substitutions },
      role: this.role,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });

    this.finalizerRule = new Rule(this, 'FinalizerRule', {
      description: 'Libra: a job execution ended without the workflow ending the job',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: [...UNFINISHED_EXECUTION_STATUSES],
          stateMachineArn: [this.stateMachineArn],
        },
      },
      targets: [new LambdaTarget(this.finalizer)],
    });

    this.alarms = libraAlarms(this, {
      WorkflowFailures: {
        metric: this.metricFailures(),
        threshold: 1,
        description:
          'a job workflow execution failed or timed out outside its own error handling; the finalizer ends the job',
      },
    });
  }

  /** Executions that failed or timed out as a whole, which the workflow's own error handling did not end. */
  metricFailures(): MathExpression {
    return sumOf('Executions failed or timed out', {
      failed: this.stateMachine.metricFailed({ period: METRIC_PERIOD }),
      timedOut: this.stateMachine.metricTimedOut({ period: METRIC_PERIOD }),
    });
  }

  /** How long job executions take, in seconds, at the given percentile. */
  metricDurationSeconds(percentile: number): MathExpression {
    return new MathExpression({
      expression: `time${percentile} / 1000`,
      usingMetrics: {
        [`time${percentile}`]: this.stateMachine.metricTime({ statistic: Stats.p(percentile) }),
      },
      label: `p${percentile}`,
      period: METRIC_PERIOD,
    });
  }

  /** Lets `fn` start job executions (admission, the tick), and tells it the state machine. */
  grantStart(fn: LambdaFunction): void {
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['states:StartExecution'],
      resourceArns: [this.stateMachineArn],
    });
    this.#tell(fn);
  }

  /** Lets `fn` see how the job executions stand (the tick's reconciler), and tells it the state machine. */
  grantDescribe(fn: LambdaFunction): void {
    this.#grantOnExecutions(fn, ['states:DescribeExecution'], 'describing them');
  }

  /** Lets `fn` describe and stop the job executions (cancel), and tells it the state machine. */
  grantControl(fn: LambdaFunction): void {
    this.#grantOnExecutions(
      fn,
      ['states:DescribeExecution', 'states:StopExecution'],
      'describing and stopping them',
    );
  }

  #grantOnExecutions(fn: LambdaFunction, actions: string[], what: string): void {
    Grant.addToPrincipal({ grantee: fn, actions, resourceArns: [this.executionArnPattern] });
    acknowledgeWildcardResource(
      fn,
      this.executionArnPattern,
      'Each job has one execution named after the job id, known only at run time; the ARN is limited to ' +
        `executions of the job state machine, and the actions to ${what}.`,
    );
    this.#tell(fn);
  }

  #tell(fn: LambdaFunction): void {
    fn.addEnvironment('STATE_MACHINE_ARN', this.stateMachineArn);
    // The ARN is built from the name: make sure the state machine exists before anything calls it.
    fn.node.addDependency(this.stateMachine);
  }

  /** Every execution of the job state machine: `execution:<name>:<jobId>`. */
  get executionArnPattern(): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** One statement per kind of task in the ASL, on exactly the resource the task names. */
  #grantTasks(props: JobWorkflowProps): void {
    const role = this.role;
    const functions: Record<string, LambdaFunction> = {
      NotifierFunctionArn: props.notifier.function,
      FinalizerFunctionArn: this.finalizer,
    };
    const tableWrites = new Set<string>();
    const invoked = new Set<LambdaFunction>();
    let sendsToIntake = false;
    let runs = false;
    for (const task of this.tasks) {
      const integration = TASK_INTEGRATIONS[task.resource];
      if (!integration) {
        throw new Error(
          `state-machines/job.asl.json: task ${task.state} uses ${task.resource}, for which the stack ` +
            'grants nothing; add it to TASK_INTEGRATIONS in lib/job-workflow.ts',
        );
      }
      const expected = integration.placeholder;
      if (expected !== undefined && !expected.includes(task.placeholder as JobWorkflowPlaceholder)) {
        throw new Error(
          `state-machines/job.asl.json: task ${task.state} must name its resource with one of ` +
            `\${${expected.join('}, ${')}}, not ${task.placeholder ?? 'a literal'}`,
        );
      }
      switch (integration.kind) {
        case 'dynamodb':
          tableWrites.add(integration.action);
          break;
        case 'sqs':
          sendsToIntake = true;
          break;
        case 'lambda': {
          const fn = functions[task.placeholder ?? ''];
          if (fn) invoked.add(fn);
          break;
        }
        case 'spark':
          runs = true;
          break;
      }
    }
    if (tableWrites.size > 0) props.store.grantItemWrites(role, [...tableWrites].sort());
    if (sendsToIntake) props.intake.queue.grant(role, 'sqs:SendMessage');
    for (const fn of invoked) grantInvokeFunction(role, fn);
    if (runs) props.backends.grantStartRuns(role);
  }
}

function grantInvokeFunction(grantee: IGrantable, fn: LambdaFunction): void {
  Grant.addToPrincipal({ grantee, actions: ['lambda:InvokeFunction'], resourceArns: [fn.functionArn] });
}

type Integration =
  | { kind: 'dynamodb'; action: string; placeholder: readonly JobWorkflowPlaceholder[] }
  | { kind: 'sqs'; placeholder: readonly JobWorkflowPlaceholder[] }
  | { kind: 'lambda'; placeholder: readonly JobWorkflowPlaceholder[] }
  | { kind: 'spark'; placeholder?: undefined };

/**
 * The task resources the job workflow may use, and what each needs. The EMR runs take their
 * application or cluster and role from the execution input (set by admission from
 * LIBRA_BACKENDS), so SparkBackends.grantStartRuns bounds them to the configured ones.
 */
export const TASK_INTEGRATIONS: Readonly<Record<string, Integration>> = {
  'arn:aws:states:::dynamodb:updateItem': {
    kind: 'dynamodb',
    action: 'dynamodb:UpdateItem',
    placeholder: ['JobTableName'],
  },
  'arn:aws:states:::dynamodb:putItem': {
    kind: 'dynamodb',
    action: 'dynamodb:PutItem',
    placeholder: ['JobTableName'],
  },
  'arn:aws:states:::sqs:sendMessage': { kind: 'sqs', placeholder: ['IntakeQueueUrl'] },
  'arn:aws:states:::lambda:invoke': {
    kind: 'lambda',
    placeholder: ['NotifierFunctionArn', 'FinalizerFunctionArn'],
  },
  'arn:aws:states:::emr-serverless:startJobRun.sync': { kind: 'spark' },
  'arn:aws:states:::emr-containers:startJobRun.sync': { kind: 'spark' },
};

interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly Branches?: AslMachine[];
  readonly ItemProcessor?: AslMachine;
  readonly Iterator?: AslMachine;
}

interface AslMachine {
  readonly States: Record<string, AslState>;
}

/** The parameters that name the resource a task acts on. */
const RESOURCE_PARAMETERS = ['TableName', 'QueueUrl', 'FunctionName'];

/** Every Task of a definition, nested ones included, with the placeholder its resource parameter uses. */
export function tasksOf(machine: AslMachine): WorkflowTask[] {
  return Object.entries(machine.States).flatMap(([name, state]): WorkflowTask[] => {
    const nested = [...(state.Branches ?? []), state.ItemProcessor, state.Iterator].flatMap((inner) =>
      inner ? tasksOf(inner) : [],
    );
    if (state.Type !== 'Task' || state.Resource === undefined) return nested;
    const named = RESOURCE_PARAMETERS.map((key) => state.Parameters?.[key]).find(
      (value) => value !== undefined,
    );
    const placeholder = typeof named === 'string' ? /^\$\{(\w+)\}$/.exec(named)?.[1] : undefined;
    return [
      { state: name, resource: state.Resource, ...(placeholder !== undefined && { placeholder }) },
      ...nested,
    ];
  });
}
