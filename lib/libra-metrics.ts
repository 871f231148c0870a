import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import type { LibraConfig } from '#core/config.ts';

/**
 * Where the functions' Powertools metrics go (lambdas/adapters/aws-environment.ts): namespace `Libra`,
 * the `service` dimension Powertools adds, and the pool.
 */
export const LIBRA_METRICS_NAMESPACE = 'Libra';
const SERVICE = 'libra';

/** The period of every Libra alarm and graph. */
export const METRIC_PERIOD = Duration.minutes(5);

/**
 * A metric the functions emit per pool (lambdas/core: admission, job service, reconciler,
 * job ender), with the further dimensions it has, if any (jobsFinished's status).
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
    period: METRIC_PERIOD,
  });
}

/** A pool's limits, as the configuration gives them. */
export type PoolLimits = Pick<LibraConfig['pools'][string], 'maxConcurrentJobs' | 'maxWaitMinutes'>;

/** The largest share of `pool`'s cores, memory or concurrent-job budget in use, as the tick reports it. */
export function capacitySaturation(pool: string, limits: PoolLimits): MathExpression {
  return new MathExpression({
    expression: `MAX([cpu / cpuLimit, memory / memoryLimit, jobs / ${limits.maxConcurrentJobs}])`,
    usingMetrics: {
      cpu: poolMetric('cpuUsed', pool, Stats.AVERAGE),
      cpuLimit: poolMetric('cpuLimit', pool, Stats.MAXIMUM),
      memory: poolMetric('memoryUsed', pool, Stats.AVERAGE),
      memoryLimit: poolMetric('memoryLimit', pool, Stats.MAXIMUM),
      jobs: poolMetric('jobsActive', pool, Stats.AVERAGE),
    },
    label: `Pool ${pool}: share of capacity used`,
    period: METRIC_PERIOD,
  });
}

/** The sum of `metrics` over each period, e.g. `failed + timedOut`: each metric is named by its key. */
export function sumOf(label: string, metrics: Readonly<Record<string, IMetric>>): MathExpression {
  return new MathExpression({
    expression: Object.keys(metrics).join(' + '),
    usingMetrics: { ...metrics },
    label,
    period: METRIC_PERIOD,
  });
}

/** What a Libra alarm watches, and from what value on it fires. */
export interface LibraAlarmSpec {
  readonly metric: IMetric;
  readonly threshold: number;
  /** What has happened when it fires; `Libra: ` is put in front. */
  readonly description: string;
  /** @default 1 */
  readonly evaluationPeriods?: number;
}

/** The alarms a construct builds beside its resources, by name, for Observability to send to its topic. */
export type LibraAlarms = Readonly<Record<string, Alarm>>;

/**
 * The alarms a construct owns, each built as every Libra alarm is: it fires at or above its
 * threshold, a period without data is no breach, and its construct id is `<name>Alarm`. They
 * have no action of their own: Observability adds its topic to every one.
 */
export function libraAlarms(scope: Construct, specs: Readonly<Record<string, LibraAlarmSpec>>): LibraAlarms {
  return Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      new Alarm(scope, `${name}Alarm`, {
        alarmDescription: `Libra: ${spec.description}`,
        metric: spec.metric,
        threshold: spec.threshold,
        evaluationPeriods: spec.evaluationPeriods ?? 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ]),
  );
}

/** `etl-nightly` → `EtlNightly`: pool names become construct ids. */
export function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
