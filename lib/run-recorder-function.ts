import { Duration } from 'aws-cdk-lib';
import { Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { LibraConfig } from '#core/config.ts';
import { MONTH_SPEND_METRIC } from '#core/run-recorder.ts';
import type { ArtifactsBucket } from './artifacts-bucket.ts';
import type { JobTable } from './job-table.ts';
import { configEnvironment, lambdaEntry, libraFunction } from './libra-function.ts';
import { type LibraAlarmSpec, type LibraAlarms, libraAlarms, pascal, poolMetric } from './libra-metrics.ts';
import type { SparkBackends } from './spark-backends.ts';

/**
 * The job-run state-change events EMR sends to EventBridge (EventBridge events reference,
 * "Amazon EMR Serverless events" and "Amazon EMR Containers events"). EMR on EKS also sends
 * "EmrContainers Job Run State Change"; the handler reads the "EMR Job Run State Change" shape
 * (detail.id, virtualClusterId, name, state), so only that one is routed.
 */
export const EMR_RUN_EVENTS = {
  serverless: { source: 'aws.emr-serverless', detailType: 'EMR Serverless Job Run State Change' },
  eks: { source: 'aws.emr-containers', detailType: 'EMR Job Run State Change' },
} as const;

export interface RunRecorderFunctionProps {
  readonly config: LibraConfig;
  readonly store: JobTable;
  readonly backends: SparkBackends;
  readonly artifacts: ArtifactsBucket;
  readonly logRetention: RetentionDays;
  readonly memorySize: number;
}

/**
 * The function, and its EventBridge rules, that records on each job what its Spark run reports
 * (DESIGN §1; the core's RunRecorder runs inside it): the run id the finalizer needs to
 * cancel it, the backend's own state, and the links to its UI and logs. One rule per backend,
 * each matching only the applications and virtual clusters Libra uses.
 */
/** A pool's budget alarm fires at this share of its monthly budget. */
export const BUDGET_ALARM_SHARE = 0.8;

/**
 * The month's spend of a pool, as the run recorder reports it after each run's cost is counted
 * (its largest value in a period: the spend only grows within a month).
 */
export function monthSpendMetric(pool: string) {
  return poolMetric(MONTH_SPEND_METRIC, pool, Stats.MAXIMUM);
}

export class RunRecorderFunction extends Construct {
  readonly function: NodejsFunction;
  /** `<Pool>Budget`: one per pool with a monthly budget, at BUDGET_ALARM_SHARE of it. */
  readonly alarms: LibraAlarms;
  readonly serverlessRule?: Rule;
  readonly eksRule?: Rule;

  constructor(scope: Construct, id: string, props: RunRecorderFunctionProps) {
    super(scope, id);
    this.function = libraFunction(this, 'RunRecorder', {
      entry: lambdaEntry('run-recorder.ts'),
      description: 'Libra: records EMR job-run state changes on their jobs',
      environment: configEnvironment(props.config),
      timeout: Duration.seconds(30),
      memorySize: props.memorySize,
      logRetention: props.logRetention,
    });
    // recordRun's conditional UpdateItem, and the GetItem that tells an out-of-order report from an unknown job;
    // at a run's end, the job's history (when its run started) and the usage totals' UpdateItems.
    props.store.grant(this.function, { items: ['GetItem', 'UpdateItem'], queries: ['history'] });
    props.artifacts.shareName(this.function);
    props.backends.grantReadServerlessRuns(this.function);

    this.alarms = libraAlarms(this, budgetAlarms(props.config));

    const target = new LambdaTarget(this.function);
    const applicationIds = props.backends.serverlessApplications.map((application) => application.id);
    if (applicationIds.length > 0) {
      this.serverlessRule = new Rule(this, 'ServerlessRunRule', {
        description: "Libra: state changes of runs on Libra's EMR Serverless applications",
        eventPattern: {
          source: [EMR_RUN_EVENTS.serverless.source],
          detailType: [EMR_RUN_EVENTS.serverless.detailType],
          detail: { applicationId: applicationIds },
        },
        targets: [target],
      });
    }
    const clusterIds = props.backends.virtualClusters.map((cluster) => cluster.id);
    if (clusterIds.length > 0) {
      this.eksRule = new Rule(this, 'EksRunRule', {
        description: "Libra: state changes of runs on Libra's EMR on EKS virtual clusters",
        eventPattern: {
          source: [EMR_RUN_EVENTS.eks.source],
          detailType: [EMR_RUN_EVENTS.eks.detailType],
          detail: { virtualClusterId: clusterIds },
        },
        targets: [target],
      });
    }
  }
}

/** The pools' budget alarms: spend this month at or past 80% of the budget. */
function budgetAlarms(config: LibraConfig): Record<string, LibraAlarmSpec> {
  const specs: Record<string, LibraAlarmSpec> = {};
  for (const [pool, settings] of Object.entries(config.pools)) {
    if (settings.monthlyBudgetUsd === undefined) continue;
    specs[`${pascal(pool)}Budget`] = {
      metric: monthSpendMetric(pool),
      threshold: BUDGET_ALARM_SHARE * settings.monthlyBudgetUsd,
      description: `pool ${pool} has spent ${BUDGET_ALARM_SHARE * 100}% of its monthly budget of $${settings.monthlyBudgetUsd}`,
    };
  }
  return specs;
}
