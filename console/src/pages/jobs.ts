import type { JobPage, JobStatus, LibraClient, ListQuery } from 'libra-serverless/client';
import { useState } from 'preact/hooks';
import { isFinal, STORED_STATUSES } from '../api.ts';
import { clock, runTime } from '../format.ts';
import { dataOf, usePolled } from '../hooks.ts';
import { html } from '../html.ts';
import { LoadState, ProgressBar, StatusBadge } from '../widgets.ts';

const PAGE_SIZE = 20;
const REFRESH_MS = 2_000;

interface Shown {
  readonly page: JobPage;
  /** Queue positions of the page's QUEUED jobs: the list does not carry them, each job's status does. */
  readonly positions: Readonly<Record<string, number>>;
}

export function JobsPage({ client, query }: { client: LibraClient; query: URLSearchParams }) {
  const status = query.get('status') ?? '';
  const pool = query.get('pool') ?? '';
  const tag = query.get('tag') ?? '';
  // Tokens of the pages before this one, to page back; '' is the first page.
  const [tokens, setTokens] = useState<string[]>([]);
  const [token, setToken] = useState<string | undefined>(undefined);
  const [load, reload] = usePolled<Shown>(
    async (signal) => {
      const list: ListQuery = {
        limit: PAGE_SIZE,
        ...(status && { status: status as JobStatus }),
        ...(pool && { pool }),
        ...(tag && { tag }),
        ...(token !== undefined && { nextToken: token }),
      };
      const page = await client.list(list, { signal });
      const queued = page.jobs.filter((job) => job.status === 'QUEUED');
      const views = await Promise.all(queued.map((job) => client.status(job.jobId, { signal })));
      const positions: Record<string, number> = {};
      for (const view of views)
        if (view.queuePosition !== undefined) positions[view.jobId] = view.queuePosition;
      return { page, positions };
    },
    [client, status, pool, tag, token],
    REFRESH_MS,
    (shown) => shown.page.jobs.some((job) => !isFinal(job.status)),
  );
  const pools = usePolled(
    (signal) => client.pools({ signal }),
    [client],
    0,
    () => false,
  );
  const shown = dataOf(load);

  const setFilter = (name: string, value: string) => {
    // From the address as it is now: two changes in a row must not build on the same old query.
    const next = new URLSearchParams(location.hash.split('?')[1] ?? '');
    if (value) next.set(name, value);
    else next.delete(name);
    setTokens([]);
    setToken(undefined);
    location.hash = `#/jobs${next.size > 0 ? `?${next}` : ''}`;
  };
  const onTag = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    setFilter('tag', (new FormData(form).get('tag') as string).trim());
  };
  const next = () => {
    if (!shown?.page.nextToken) return;
    setTokens([...tokens, token ?? '']);
    setToken(shown.page.nextToken);
  };
  const previous = () => {
    const before = tokens.at(-1);
    setTokens(tokens.slice(0, -1));
    setToken(before ? before : undefined);
  };
  const poolNames = dataOf(pools[0])?.pools.map((p) => p.name) ?? [];

  return html`<section aria-labelledby="jobs-title">
    <h1 id="jobs-title">Jobs</h1>
    <div class="filters">
      <label>Status
        <select name="status" value=${status} onChange=${(e: Event) => setFilter('status', (e.target as HTMLSelectElement).value)}>
          <option value="">any</option>
          ${STORED_STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </label>
      <label>Pool
        <select name="pool" value=${pool} onChange=${(e: Event) => setFilter('pool', (e.target as HTMLSelectElement).value)}>
          <option value="">any</option>
          ${[...new Set([...poolNames, ...(pool ? [pool] : [])])].map((p) => html`<option value=${p}>${p}</option>`)}
        </select>
      </label>
      <form class="inline" onSubmit=${onTag} key=${tag}>
        <label>Tag <input name="tag" defaultValue=${tag} placeholder="key or key=value" size="14" /></label>
        <button type="submit">Filter</button>
      </form>
      <button type="button" onClick=${reload}>Refresh</button>
    </div>
    <${LoadState} load=${load} what="jobs" />
    ${
      shown && shown.page.jobs.length === 0
        ? html`<p class="empty">No jobs${status || pool || tag ? ' match these filters' : ' yet'}. <a href="#/submit">Submit one</a>.</p>`
        : null
    }
    ${
      shown && shown.page.jobs.length > 0
        ? html`<div class="table-wrap"><table class="jobs">
          <thead><tr>
            <th scope="col">Status</th><th scope="col">Name</th><th scope="col">Pool</th>
            <th scope="col" class="num">Priority</th><th scope="col" class="num">Attempts</th>
            <th scope="col">Submitted</th><th scope="col">Duration</th><th scope="col">Queue</th>
            <th scope="col">Progress</th>
          </tr></thead>
          <tbody>${shown.page.jobs.map(
            (job) => html`<tr data-job=${job.jobId}>
              <td><${StatusBadge} status=${job.status} /></td>
              <td><a href=${`#/jobs/${encodeURIComponent(job.jobId)}`}>${job.name ?? job.jobId}</a></td>
              <td>${job.pool}</td>
              <td class="num">${job.priority}</td>
              <td class="num">${job.attempts}</td>
              <td>${clock(job.submittedAt)}</td>
              <td>${runTime(job)}</td>
              <td class="queue">${shown.positions[job.jobId] !== undefined ? `#${shown.positions[job.jobId]}` : ''}</td>
              <td class="progress-cell"><${ProgressBar} progress=${job.progress} compact=${true} /></td>
            </tr>`,
          )}</tbody>
        </table></div>`
        : null
    }
    <nav class="pager" aria-label="Pages of jobs">
      <button type="button" onClick=${previous} disabled=${tokens.length === 0}>Newer</button>
      <button type="button" onClick=${next} disabled=${!shown?.page.nextToken}>Older</button>
    </nav>
  </section>`;
}
