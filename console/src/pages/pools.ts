import type { LibraClient } from 'libra-serverless/client';
import { dataOf, usePolled } from '../hooks.ts';
import { html } from '../html.ts';
import { Bar, LoadState } from '../widgets.ts';

const REFRESH_MS = 2_000;

export function PoolsPage({ client }: { client: LibraClient }) {
  // Pools change whenever any job starts or ends: refreshed all the while the page is open.
  const [load] = usePolled(
    (signal) => client.pools({ signal }),
    [client],
    REFRESH_MS,
    () => true,
  );
  const pools = dataOf(load)?.pools;
  return html`<section aria-labelledby="pools-title">
    <h1 id="pools-title">Pools</h1>
    ${load.state !== 'ready' ? html`<${LoadState} load=${load} what="pools" />` : null}
    ${pools && pools.length === 0 ? html`<p class="empty">You may use no pool.</p>` : null}
    <div class="pools">${(pools ?? []).map(
      (pool) => html`<article class="pool card" data-pool=${pool.name} aria-labelledby=${`pool-${pool.name}`}>
        <h2 id=${`pool-${pool.name}`}>${pool.name}</h2>
        <${Bar} label="Cores" used=${pool.used.cpuCores} limit=${pool.limits.cpuCores} unit="cores" />
        <${Bar} label="Memory" used=${pool.used.memoryGb} limit=${pool.limits.memoryGb} unit="GB" />
        <${Bar} label="Job slots" used=${pool.running} limit=${pool.limits.maxConcurrentJobs} unit="jobs" />
        <p class="counts">
          <span><strong data-count="running">${pool.running}</strong> running</span>
          <span><strong data-count="waiting">${pool.waiting}</strong> waiting (at most ${pool.limits.maxQueueSize})</span>
          <span><strong data-count="yours">${pool.you.running}</strong> of yours running${pool.limits.maxRunningPerOwner === undefined ? '' : ` (at most ${pool.limits.maxRunningPerOwner})`}, weight ${pool.you.weight}</span>
        </p>
        <p class="note">Backends: ${pool.backends.join(', ')}; waits at most ${pool.limits.maxWaitMinutes} min${pool.backfill ? '; backfill on' : ''}.${' '}
          <a href=${`#/jobs?pool=${encodeURIComponent(pool.name)}`}>Its jobs</a></p>
      </article>`,
    )}</div>
  </section>`;
}
