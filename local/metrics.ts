import type { MetricDimensions, MetricsSink } from '#core/ports.ts';

/**
 * Metrics kept in memory: the local runtime has no CloudWatch, and tests read what was counted.
 * Keys are `<name>|<pool>`, then `|<key>=<value>` for each further dimension, sorted by key.
 */
export class InMemoryMetrics implements MetricsSink {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();

  count(name: string, pool: string, value = 1, dimensions: MetricDimensions = {}): void {
    const key = metricKey(name, pool, dimensions);
    this.counters.set(key, (this.counters.get(key) ?? 0) + value);
  }

  gauge(name: string, pool: string, value: number): void {
    this.gauges.set(metricKey(name, pool, {}), value);
  }

  flush(): void {}

  counter(name: string, pool = 'default', dimensions: MetricDimensions = {}): number {
    return this.counters.get(metricKey(name, pool, dimensions)) ?? 0;
  }
}

function metricKey(name: string, pool: string, dimensions: MetricDimensions): string {
  const extra = Object.entries(dimensions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `|${key}=${value}`);
  return [`${name}|${pool}`, ...extra].join('');
}
