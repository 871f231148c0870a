import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricDimensions, MetricsSink } from '#core/ports.ts';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

const UNITS = {
  Count: MetricUnit.Count,
  Megabytes: MetricUnit.Megabytes,
  None: MetricUnit.NoUnit,
  Seconds: MetricUnit.Seconds,
} as const;

/**
 * Metrics as CloudWatch embedded-metric-format lines, each written at once with its own
 * dimensions: the pool, and those a counter adds (jobsFinished's status).
 */
export class PowertoolsMetricsSink implements MetricsSink {
  readonly #metrics: Metrics;

  constructor(metrics: Metrics) {
    this.#metrics = metrics;
  }

  count(name: string, pool: string, value = 1, dimensions: MetricDimensions = {}): void {
    this.#single(name, pool, value, MetricUnit.Count, dimensions);
  }

  gauge(name: string, pool: string, value: number, unit: keyof typeof UNITS): void {
    this.#single(name, pool, value, UNITS[unit], {});
  }

  flush(): void {
    // Every metric here is a single metric, already written: publishing an empty buffer would
    // only log Powertools' "No application metrics to publish" warning on each invocation.
    if (this.#metrics.hasStoredMetrics()) this.#metrics.publishStoredMetrics();
  }

  #single(name: string, pool: string, value: number, unit: Unit, dimensions: MetricDimensions): void {
    // A single metric is published by addMetric: every dimension has to be on it before.
    const metric = this.#metrics.singleMetric();
    metric.addDimension('pool', pool);
    for (const [key, dimension] of Object.entries(dimensions)) metric.addDimension(key, dimension);
    metric.addMetric(name, unit, value);
  }
}
