import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  Stats,
  TextWidget,
  TreatMissingData,
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
import { lambdaEntry, libraFunction } from './libra-function.ts';
import type { ObservabilityProps } from './observability-props.ts';

/**
 * Where the functions' Powertools metrics go (lambdas/adapters/aws-environment.ts): namespace `Libra`,
 * the `service` dimension Powertools adds, and the pool.
 */
export const LIBRA_METRICS_NAMESPACE = 'Libra';
const SERVICE = 'libra';

/**
 * A metric the functions emit per pool (lambdas/core: admission, job service, reconciler,
 * finisher), with the further dimensions it has, if any (jobsFinished's status).
 */
export function poolMetric(
  name: string,
  pool: string,
  statistic: string = Stats.SUM,
  dimensions: Readonly<Record<string, string>> = {},
): Metric {
  return new Metric({
    namespace: LIBRA_METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { ...dimensions, service: SERVICE, pool },
    statistic,
    period: Duration.minutes(5),
  });
}

/**
 * One dashboard and the alarms of DESIGN §1 ("CloudWatch: Powertools logs/metrics/traces, one
 * dashboard, alarms → SNS"): submissions, admissions, rejections, jobs by final state,
 * workflow ends, waiting jobs and the oldest wait, capacity used against the limit per pool,
 * errors, throttles and duration of every function, the dead-letter queue and webhook failures.
 * Alarms go to an encrypted SNS topic, and to the configured e-mail address.
 *
 * jobsFinished is counted by whoever makes a job's final move (lambdas/core/job-ends.ts): the
 * finisher for the ends the finalizer decides, and, for the ends the job workflow writes
 * itself, a small function on the workflow's SUCCEEDED executions, built here.
 */
export class Observability extends Construct {
  readonly topic: Topic;
  readonly dashboard: Dashboard;
  readonly alarms: Readonly<Record<string, Alarm>>;
  /** Counts jobsFinished for the job ends the workflow writes itself. */
  readonly workflowEnds: NodejsFunction;
  /** Sends the job workflow's SUCCEEDED executions to workflowEnds. */
  readonly workflowEndsRule: Rule;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { config, api, intake, admission, workflow, notifier } = props;

    // CloudWatch cannot publish to a topic under the AWS managed SNS key: a key of our own lets it.
    const key = new Key(this, 'TopicKey', {
      description: 'Libra: encrypts the alarm topic',
      enableKeyRotation: true,
    });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'AlarmTopic', {
      displayName: 'Libra alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (config.alarmEmail) this.topic.addSubscription(new EmailSubscription(config.alarmEmail));
    const action = new SnsAction(this.topic);

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

    const functions: Record<string, NodejsFunction> = {
      ...api.functions,
      Admission: admission.admission,
      Tick: admission.tick,
      Finalizer: workflow.finalizer,
      Notifier: notifier.function,
      RunRecorder: props.runRecorder.function,
      WorkflowEnds: this.workflowEnds,
    };

    const alarms: Record<string, Alarm> = {};
    const alarm = (name: string, metric: IMetric, threshold: number, description: string, periods = 1) => {
      const created = new Alarm(this, `${name}Alarm`, {
        alarmDescription: `Libra: ${description}`,
        metric,
        threshold,
        evaluationPeriods: periods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      alarms[name] = created;
      return created;
    };

    alarm(
      'DeadLetters',
      intake.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      1,
      'an intake message failed admission five times and waits in the dead-letter queue',
    );
    alarm(
      'WorkflowFailures',
      new MathExpression({
        expression: 'failed + timedOut',
        usingMetrics: {
          failed: workflow.stateMachine.metricFailed({ period: Duration.minutes(5) }),
          timedOut: workflow.stateMachine.metricTimedOut({ period: Duration.minutes(5) }),
        },
        label: 'Executions failed or timed out',
        period: Duration.minutes(5),
      }),
      1,
      'a job workflow execution failed or timed out outside its own error handling; the finalizer ends the job',
    );
    alarm(
      'AdmissionErrors',
      new MathExpression({
        expression: 'admission + tick',
        usingMetrics: {
          admission: admission.admission.metricErrors({ period: Duration.minutes(5) }),
          tick: admission.tick.metricErrors({ period: Duration.minutes(5) }),
        },
        label: 'Admission and tick errors',
        period: Duration.minutes(5),
      }),
      // The tick runs five times in five minutes: three failures is not a blip.
      3,
      'admission or the tick keeps failing; queued jobs are not being admitted',
    );
    alarm(
      'ApiServerErrors',
      new MathExpression({
        expression: 'IF(requests > 0, errors / requests, 0)',
        usingMetrics: {
          errors: api.httpApi.metricServerError({ period: Duration.minutes(5), statistic: Stats.SUM }),
          requests: api.httpApi.metricCount({ period: Duration.minutes(5), statistic: Stats.SUM }),
        },
        label: 'Share of requests answered 5xx',
        period: Duration.minutes(5),
      }),
      props.apiServerErrorRate ?? 0.05,
      'more than the allowed share of API requests were answered 5xx over five minutes',
    );

    const share = props.oldestWaitShare ?? 0.8;
    for (const [pool, limits] of Object.entries(config.pools)) {
      const suffix = pascal(pool);
      alarm(
        `OldestWait${suffix}`,
        poolMetric('oldestWaitSeconds', pool, Stats.MAXIMUM),
        Math.round(limits.maxWaitMinutes * 60 * share),
        `the oldest job waiting in pool ${pool} is close to its maxWaitMinutes (${limits.maxWaitMinutes}); ` +
          'it will time out unless capacity frees up',
      );
      alarm(
        `StartFailed${suffix}`,
        poolMetric('startFailed', pool),
        1,
        `a job of pool ${pool} ended START_FAILED: its workflow could not be started (refused by AWS, ` +
          'or still failing after its retries); the job record holds AWS’s message',
      );
      alarm(
        `CapacitySaturated${suffix}`,
        saturation(pool, limits.maxConcurrentJobs),
        0.95,
        `pool ${pool} has used 95% or more of its cores, memory or concurrent jobs for 30 minutes`,
        6,
      );
    }
    this.alarms = alarms;

    this.dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(6),
    });
    const pools = Object.keys(config.pools);
    const perPool = (name: string, statistic: string = Stats.SUM) =>
      pools.map((pool) => poolMetric(name, pool, statistic).with({ label: `${name} ${pool}` }));
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# Libra\nJobs submitted, admitted and ended; what waits and for how long; capacity per pool; ' +
          'errors. Alarms notify the Libra alarm topic.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph('Submissions (queued)', perPool('queued')),
      graph('Admissions', perPool('admitted')),
      graph('Rejections (queue full)', perPool('rejected')),
      graph('Workflow executions by end', [
        workflow.stateMachine.metricSucceeded({ label: 'ended by the workflow (any job state)' }),
        workflow.stateMachine.metricFailed({ label: 'failed' }),
        workflow.stateMachine.metricTimedOut({ label: 'timed out' }),
        workflow.stateMachine.metricAborted({ label: 'stopped (cancel)' }),
      ]),
    );
    this.dashboard.addWidgets(
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
        [50, 99].map(
          (percentile) =>
            new MathExpression({
              expression: `time${percentile} / 1000`,
              usingMetrics: {
                [`time${percentile}`]: workflow.stateMachine.metricTime({ statistic: Stats.p(percentile) }),
              },
              label: `p${percentile}`,
              period: Duration.minutes(5),
            }),
        ),
        6,
      ),
    );
    this.dashboard.addWidgets(
      graph('Waiting jobs', perPool('waiting', Stats.MAXIMUM)),
      graph('Oldest wait (s)', perPool('oldestWaitSeconds', Stats.MAXIMUM)),
      graph('Queue wait exceeded (→ TIMEOUT)', perPool('queueWaitExceeded')),
      graph('Workflow starts that failed', [...perPool('startRetried'), ...perPool('startFailed')]),
    );
    for (const [pool, limits] of Object.entries(config.pools)) {
      this.dashboard.addWidgets(
        graph(`Pool ${pool}: cores used / limit`, [
          poolMetric('cpuUsed', pool, Stats.MAXIMUM).with({ label: 'used' }),
          poolMetric('cpuLimit', pool, Stats.MAXIMUM).with({ label: 'limit' }),
        ]),
        graph(`Pool ${pool}: memory used / limit (MiB)`, [
          poolMetric('memoryUsed', pool, Stats.MAXIMUM).with({ label: 'used' }),
          poolMetric('memoryLimit', pool, Stats.MAXIMUM).with({ label: 'limit' }),
        ]),
        graph(`Pool ${pool}: running jobs`, [poolMetric('jobsActive', pool, Stats.MAXIMUM)]),
        graph(`Pool ${pool}: saturation (max share used)`, [saturation(pool, limits.maxConcurrentJobs)]),
      );
    }
    const each = (metric: (fn: NodejsFunction) => Metric) =>
      Object.entries(functions).map(([name, fn]) => metric(fn).with({ label: name }));
    this.dashboard.addWidgets(
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
      graph('Dead-letter queue depth', [
        intake.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: Stats.MAXIMUM }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Webhook failures (notifier errors; retried by the workflow)', [
        notifier.function.metricErrors({ label: 'notifier errors' }),
      ]),
      graph('API requests and 5xx', [
        api.httpApi.metricCount({ label: 'requests', statistic: Stats.SUM }),
        api.httpApi.metricServerError({ label: '5xx', statistic: Stats.SUM }),
        api.httpApi.metricClientError({ label: '4xx', statistic: Stats.SUM }),
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
    );
  }
}

function graph(title: string, metrics: IMetric[], width = 6): GraphWidget {
  return new GraphWidget({ title, left: metrics, width, height: 6 });
}

/**
 * One line per final state, over every pool: jobsFinished by status, and for TIMEOUT also the
 * jobs the reconciler timed out in the queue (queueWaitExceeded), which it moves to TIMEOUT
 * itself without counting them in jobsFinished.
 */
function jobsByFinalState(pools: readonly string[]): MathExpression[] {
  return TERMINAL_STATUSES.map((status) => {
    const usingMetrics: Record<string, IMetric> = {};
    pools.forEach((pool, i) => {
      usingMetrics[`${status.toLowerCase()}${i}`] = poolMetric(JOBS_FINISHED, pool, Stats.SUM, { status });
      if (status === 'TIMEOUT') usingMetrics[`queue${i}`] = poolMetric('queueWaitExceeded', pool);
    });
    return new MathExpression({
      // FILL: a pool that ended no job in a period counts 0, rather than leaving the sum without a point.
      expression: `SUM(FILL([${Object.keys(usingMetrics).join(', ')}], 0))`,
      usingMetrics,
      label: status === 'TIMEOUT' ? 'TIMEOUT (run or queue wait)' : status,
      period: Duration.minutes(5),
    });
  });
}

/** The largest share of a pool's cores, memory or concurrent-job budget in use. */
function saturation(pool: string, maxConcurrentJobs: number): MathExpression {
  return new MathExpression({
    expression: `MAX([cpu / cpuLimit, memory / memoryLimit, jobs / ${maxConcurrentJobs}])`,
    usingMetrics: {
      cpu: poolMetric('cpuUsed', pool, Stats.AVERAGE),
      cpuLimit: poolMetric('cpuLimit', pool, Stats.MAXIMUM),
      memory: poolMetric('memoryUsed', pool, Stats.AVERAGE),
      memoryLimit: poolMetric('memoryLimit', pool, Stats.MAXIMUM),
      jobs: poolMetric('jobsActive', pool, Stats.AVERAGE),
    },
    label: `Pool ${pool}: share of capacity used`,
    period: Duration.minutes(5),
  });
}

/** `etl-nightly` → `EtlNightly`: pool names become construct ids. */
function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
