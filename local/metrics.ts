import type { MetricsSink } from '#core/ports.ts';

/**
 * Metrics kept in memory: the local runtime has no CloudWatch, and tests read what was counted.
 * Keys are `<name>|<pool>`.
 */
export class InMemoryMetrics implements MetricsSink {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();

  count(name: string, pool: string, value = 1): void {
    const key = `${name}|${pool}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + value);
  }

  gauge(name: string, pool: string, value: number): void {
    this.gauges.set(`${name}|${pool}`, value);
  }

  flush(): void {}

  counter(name: string, pool = 'default'): number {
    return this.counters.get(`${name}|${pool}`) ?? 0;
  }
}
