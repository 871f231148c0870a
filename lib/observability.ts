import { Duration } from 'aws-cdk-lib';
import {
  type Alarm,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  type IMetric,
  type IWidget,
  MathExpression,
  type Metric,
  Stats,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { JOBS_FINISHED } from '#core/job-ends.ts';
import { TERMINAL_STATUSES } from '#core/job-states.ts';
import { RUN_COST_METRIC } from '#core/run-recorder.ts';
import { DURATION_WARNINGS_METRIC } from '#core/use-cases/duration-warnings.ts';
import { lambdaEntry, libraFunction } from './libra-function.ts';
import { capacitySaturation, METRIC_PERIOD, poolMetric } from './libra-metrics.ts';
import type { ObservabilityProps } from './observability-props.ts';
import { monthSpendMetric } from './run-recorder-function.ts';

/**
 * One dashboard and one alarm topic (DESIGN §1: "CloudWatch: Powertools logs/metrics/traces,
 * one dashboard, alarms → SNS"). Each construct builds its own alarms beside its resources;
 * this one sends every one of them to an encrypted SNS topic, and to the configured e-mail
 * address. The dashboard graphs submissions, admissions, rejections, jobs by final state,
 * workflow ends, waiting jobs and the oldest wait, capacity used against the limit per pool,
 * errors, throttles and duration of every function, the dead-letter queue and webhook failures,
 * from the constructs' metric methods and the functions' per-pool metrics.
 *
 * jobsFinished is counted by whoever makes a job's final move (lambdas/core/job-ends.ts): the
 * job ender for the ends the finalizer decides, and, for the ends the job workflow writes
 * itself, a small function on the workflow's SUCCEEDED executions, built here.
 */
export class Observability extends Construct {
  readonly topic: Topic;
  readonly dashboard: Dashboard;
  /** Every construct's alarms, by name; each notifies the topic. */
  readonly alarms: Readonly<Record<string, Alarm>>;
  /** Counts jobsFinished for the job ends the workflow writes itself. */
  readonly workflowEnds: NodejsFunction;
  /** Sends the job workflow's SUCCEEDED executions to workflowEnds. */
  readonly workflowEndsRule: Rule;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { api, intake, admission, workflow } = props;
    this.topic = this.#alarmTopic(props.config.alarmEmail);
    const owned = [intake.alarms, workflow.alarms, admission.alarms, api.alarms, props.runRecorder.alarms];
    this.alarms = Object.assign({}, ...owned);
    const action = new SnsAction(this.topic);
    for (const alarm of owned.flatMap((alarms) => Object.values(alarms))) alarm.addAlarmAction(action);

    // It reads only the event: no table, no secret, no AWS call but its own logs.
    this.workflowEnds = libraFunction(this, 'WorkflowEnds', {
      entry: lambdaEntry('workflow-ended.ts'),
      description: 'Libra: counts jobsFinished for the job ends the job workflow writes itself',
      timeout: Duration.seconds(10),
      memorySize: 128,
      logRetention: props.logRetention ?? RetentionDays.THREE_MONTHS,
    });
    this.workflowEndsRule = new Rule(this, 'WorkflowEndsRule', {
      description: 'Libra: a job execution succeeded; count the final state it wrote',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['SUCCEEDED'], stateMachineArn: [workflow.stateMachineArn] },
      },
      targets: [new LambdaTarget(this.workflowEnds)],
    });

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(6) });
    for (const row of [
      ...jobRows(props),
      ...poolRows(props),
      costRow(props),
      functionRow(props, this.workflowEnds),
      edgeRow(props),
    ]) {
      this.dashboard.addWidgets(...row);
    }
  }

  /** CloudWatch cannot publish to a topic under the AWS managed SNS key: a key of our own lets it. */
  #alarmTopic(email: string | undefined): Topic {
    const key = new Key(this, 'TopicKey', {
      description: 'Libra: encrypts the alarm topic',
      enableKeyRotation: true,
    });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    const topic = new Topic(this, 'AlarmTopic', {
      displayName: 'Libra alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (email) topic.addSubscription(new EmailSubscription(email));
    return topic;
  }
}

/** Metrics of `name`, one per pool, labelled with the pool. */
function perPool(props: ObservabilityProps, name: string, statistic: string = Stats.SUM): Metric[] {
  return Object.keys(props.config.pools).map((pool) =>
    poolMetric(name, pool, statistic).with({ label: `${name} ${pool}` }),
  );
}

/** The title, and how jobs come in, wait and end. */
function jobRows(props: ObservabilityProps): IWidget[][] {
  const { workflow, admission } = props;
  const pools = Object.keys(props.config.pools);
  return [
    [
      new TextWidget({
        markdown:
          '# Libra\nJobs submitted, admitted and ended; what waits and for how long; capacity per pool; ' +
          'errors. Alarms notify the Libra alarm topic.',
        width: 24,
        height: 2,
      }),
    ],
    [
      graph('Submissions (queued)', perPool(props, 'queued')),
      graph('Admissions', perPool(props, 'admitted')),
      graph('Rejections (queue full)', perPool(props, 'rejected')),
      graph('Workflow executions by end', [
        workflow.stateMachine.metricSucceeded({ label: 'ended by the workflow (any job state)' }),
        workflow.stateMachine.metricFailed({ label: 'failed' }),
        workflow.stateMachine.metricTimedOut({ label: 'timed out' }),
        workflow.stateMachine.metricAborted({ label: 'stopped (cancel)' }),
      ]),
    ],
    [
      graph('Jobs by final state', jobsByFinalState(pools), 12),
      graph(
        'Jobs by final state, per pool',
        pools.flatMap((pool) =>
          TERMINAL_STATUSES.map((status) =>
            poolMetric(JOBS_FINISHED, pool, Stats.SUM, { status }).with({ label: `${pool} ${status}` }),
          ),
        ),
        6,
      ),
      graph(
        'Job workflow duration (s)',
        [50, 99].map((percentile) => workflow.metricDurationSeconds(percentile)),
        6,
      ),
    ],
    [
      graph('Waiting jobs', perPool(props, 'waiting', Stats.MAXIMUM)),
      graph(
        'Oldest wait (s)',
        pools.map((pool) => admission.metricOldestWait(pool).with({ label: `oldestWaitSeconds ${pool}` })),
      ),
      graph('Queue wait exceeded (→ TIMEOUT)', perPool(props, 'queueWaitExceeded')),
      graph('Workflow starts that failed', [
        ...perPool(props, 'startRetried'),
        ...pools.map((pool) => admission.metricStartFailed(pool).with({ label: `startFailed ${pool}` })),
      ]),
    ],
    [graph('Runs past their duration warning', perPool(props, DURATION_WARNINGS_METRIC))],
  ];
}

/** Each pool's capacity in use against its limits. */
function poolRows(props: ObservabilityProps): IWidget[][] {
  return Object.entries(props.config.pools).map(([pool, limits]) => [
    graph(`Pool ${pool}: cores used / limit`, [
      poolMetric('cpuUsed', pool, Stats.MAXIMUM).with({ label: 'used' }),
      poolMetric('cpuLimit', pool, Stats.MAXIMUM).with({ label: 'limit' }),
    ]),
    graph(`Pool ${pool}: memory used / limit (MiB)`, [
      poolMetric('memoryUsed', pool, Stats.MAXIMUM).with({ label: 'used' }),
      poolMetric('memoryLimit', pool, Stats.MAXIMUM).with({ label: 'limit' }),
    ]),
    graph(`Pool ${pool}: running jobs`, [poolMetric('jobsActive', pool, Stats.MAXIMUM)]),
    graph(`Pool ${pool}: saturation (max share used)`, [capacitySaturation(pool, limits)]),
  ]);
}

/** What runs cost, per pool: each period's, and the month's so far against the budget. */
function costRow(props: ObservabilityProps): IWidget[] {
  const pools = Object.entries(props.config.pools);
  return [
    graph(
      'Run cost per pool (USD)',
      pools.map(([pool]) => poolMetric(RUN_COST_METRIC, pool).with({ label: `${RUN_COST_METRIC} ${pool}` })),
      12,
    ),
    graph(
      'Spend this month per pool (USD), and budgets',
      pools.map(([pool]) => monthSpendMetric(pool).with({ label: `${pool}: spend this month (USD)` })),
      12,
      pools.flatMap(([pool, settings]) =>
        settings.monthlyBudgetUsd === undefined
          ? []
          : [{ value: settings.monthlyBudgetUsd, label: `${pool} budget` }],
      ),
    ),
  ];
}

/** Errors, throttles and duration of every Libra function, and the dead-letter queue. */
function functionRow(props: ObservabilityProps, workflowEnds: NodejsFunction): IWidget[] {
  const functions: Record<string, NodejsFunction> = {
    ...props.api.functions,
    Admission: props.admission.admission,
    Tick: props.admission.tick,
    Finalizer: props.workflow.finalizer,
    Notifier: props.notifier.function,
    RunRecorder: props.runRecorder.function,
    WorkflowEnds: workflowEnds,
  };
  const each = (metric: (fn: NodejsFunction) => Metric) =>
    Object.entries(functions).map(([name, fn]) => metric(fn).with({ label: name }));
  return [
    graph(
      'Function errors',
      each((fn) => fn.metricErrors()),
    ),
    graph(
      'Function throttles',
      each((fn) => fn.metricThrottles()),
    ),
    graph(
      'Function duration p99 (ms)',
      each((fn) => fn.metricDuration({ statistic: 'p99' })),
    ),
    graph('Dead-letter queue depth', [props.intake.metricDeadLetters({ statistic: Stats.MAXIMUM })]),
  ];
}

/** Webhooks, the API, admission and workflow errors, and the intake queue. */
function edgeRow(props: ObservabilityProps): IWidget[] {
  const { api, admission, workflow, intake } = props;
  return [
    graph('Webhook failures (notifier errors; retried by the workflow)', [
      props.notifier.function.metricErrors({ label: 'notifier errors' }),
    ]),
    graph('API requests and 5xx', [
      api.metricRequests({ label: 'requests' }),
      api.metricServerErrors({ label: '5xx' }),
      api.metricClientErrors({ label: '4xx' }),
    ]),
    graph('Admission and workflow errors', [
      admission.admission.metricErrors({ label: 'admission' }),
      admission.tick.metricErrors({ label: 'tick' }),
      workflow.stateMachine.metricFailed({ label: 'workflow failed' }),
      workflow.finalizer.metricErrors({ label: 'finalizer' }),
    ]),
    graph('Intake queue', [
      intake.queue.metricApproximateNumberOfMessagesVisible({ label: 'visible', statistic: Stats.MAXIMUM }),
      intake.queue.metricApproximateAgeOfOldestMessage({ label: 'oldest (s)', statistic: Stats.MAXIMUM }),
    ]),
  ];
}

function graph(
  title: string,
  metrics: IMetric[],
  width = 6,
  leftAnnotations: HorizontalAnnotation[] = [],
): GraphWidget {
  return new GraphWidget({
    title,
    left: metrics,
    width,
    height: 6,
    ...(leftAnnotations.length > 0 && { leftAnnotations }),
  });
}

/**
 * One line per final state, over every pool: jobsFinished by status. A queue-wait timeout is in
 * TIMEOUT already (the job ender counts it like any end; queueWaitExceeded graphs it apart).
 */
function jobsByFinalState(pools: readonly string[]): MathExpression[] {
  return TERMINAL_STATUSES.map((status) => {
    const usingMetrics: Record<string, IMetric> = {};
    pools.forEach((pool, i) => {
      usingMetrics[`${status.toLowerCase()}${i}`] = poolMetric(JOBS_FINISHED, pool, Stats.SUM, { status });
    });
    return new MathExpression({
      // FILL: a pool that ended no job in a period counts 0, rather than leaving the sum without a point.
      expression: `SUM(FILL([${Object.keys(usingMetrics).join(', ')}], 0))`,
      usingMetrics,
      label: status === 'TIMEOUT' ? 'TIMEOUT (run or queue wait)' : status,
      period: METRIC_PERIOD,
    });
  });
}
