import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricsSink } from '#core/ports.ts';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

const UNITS = {
  Count: MetricUnit.Count,
  Megabytes: MetricUnit.Megabytes,
  None: MetricUnit.NoUnit,
  Seconds: MetricUnit.Seconds,
} as const;

/** Metrics as CloudWatch embedded-metric-format lines, one dimension: the pool. */
export class PowertoolsMetricsSink implements MetricsSink {
  readonly #metrics: Metrics;

  constructor(metrics: Metrics) {
    this.#metrics = metrics;
  }

  count(name: string, pool: string, value = 1): void {
    this.#single(name, pool, value, MetricUnit.Count);
  }

  gauge(name: string, pool: string, value: number, unit: keyof typeof UNITS): void {
    this.#single(name, pool, value, UNITS[unit]);
  }

  flush(): void {
    this.#metrics.publishStoredMetrics();
  }

  #single(name: string, pool: string, value: number, unit: Unit): void {
    const metric = this.#metrics.singleMetric();
    metric.addDimension('pool', pool);
    metric.addMetric(name, unit, value);
  }
}
