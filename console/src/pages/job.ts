import type { ApiJobEvent, LibraClient, StatusView } from 'libra-serverless/client';
import { useState } from 'preact/hooks';
import { errorText, isFinal } from '../api.ts';
import { clock, duration, runTime } from '../format.ts';
import { dataOf, usePolled } from '../hooks.ts';
import { html } from '../html.ts';
import { LoadState, ProgressBar, StatusBadge } from '../widgets.ts';

const REFRESH_MS = 1_000;
/** Links the console reads and shows as text; others (Spark UI, S3 results) are only linked. */
const LOG_LINKS = ['stdout', 'stderr'] as const;

interface Shown {
  readonly job: StatusView;
  readonly events: ApiJobEvent[];
  readonly logs: Partial<Record<(typeof LOG_LINKS)[number], string>>;
}

export function JobPage({ client, jobId }: { client: LibraClient; jobId: string }) {
  const [cancel, setCancel] = useState<{ busy: boolean; said?: string; error?: string }>({ busy: false });
  const [rerun, setRerun] = useState<{ busy: boolean; error?: string }>({ busy: false });
  const [load, reload] = usePolled<Shown>(
    async (signal) => {
      const [job, events] = await Promise.all([
        client.status(jobId, { signal }),
        client.events(jobId, { signal }),
      ]);
      const logs: Shown['logs'] = {};
      await Promise.all(
        LOG_LINKS.map(async (name) => {
          const link = job.links?.[name];
          if (!link) return;
          // Output not written yet reads as none; the next refresh tries again.
          logs[name] = await client.fetchLink(link, { signal }).catch(() => undefined);
        }),
      );
      return { job, events: events.events, logs };
    },
    [client, jobId],
    REFRESH_MS,
    (shown) => !isFinal(shown.job.status),
  );
  const shown = dataOf(load);

  const onCancel = async () => {
    if (!shown) return;
    if (!confirm(`Cancel job ${shown.job.name ?? jobId}? A running job is stopped.`)) return;
    setCancel({ busy: true });
    try {
      const result = await client.cancel(jobId);
      setCancel({ busy: false, said: result.message });
    } catch (error) {
      setCancel({ busy: false, error: errorText(error) });
    }
    reload();
  };

  const onRerun = async () => {
    if (!shown) return;
    if (!confirm(`Re-run job ${shown.job.name ?? jobId} as a new job, with the same request?`)) return;
    setRerun({ busy: true });
    try {
      const answer = await client.rerun(jobId);
      setRerun({ busy: false });
      location.hash = `#/jobs/${encodeURIComponent(answer.jobId)}`;
    } catch (error) {
      setRerun({ busy: false, error: errorText(error) });
    }
  };

  if (!shown) {
    return html`<section><h1>Job</h1><${LoadState} load=${load} what=${`job ${jobId}`} />
      <p><a href="#/jobs">Back to the jobs</a></p></section>`;
  }
  const { job, events, logs } = shown;
  const cancellable = !isFinal(job.status) && job.status !== 'CANCELLING';
  return html`<section aria-labelledby="job-title">
    <p class="crumbs"><a href="#/jobs">Jobs</a> / <code>${job.jobId}</code></p>
    <h1 id="job-title">${job.name ?? job.jobId} <${StatusBadge} status=${job.status} /></h1>
    ${load.state === 'error' ? html`<p class="error" role="alert">Could not refresh: ${load.error}</p>` : null}
    ${
      job.status === 'QUEUED' && job.queuePosition !== undefined
        ? html`<p class="queue-position" role="status">Queue position <strong>#${job.queuePosition}</strong> in pool ${job.pool}</p>`
        : null
    }
    ${job.reason ? html`<p class="reason"><strong>${job.reason.code}</strong>: ${job.reason.message}</p>` : null}
    <${ProgressBar} progress=${job.progress} />
    ${
      job.rerunOf
        ? html`<p class="rerun-of">Re-run of <a href=${`#/jobs/${encodeURIComponent(job.rerunOf)}`}><code>${job.rerunOf}</code></a></p>`
        : null
    }
    ${
      job.reruns && job.reruns.length > 0
        ? html`<p class="reruns">Re-run ${job.rerunCount ?? job.reruns.length} time${(job.rerunCount ?? job.reruns.length) === 1 ? '' : 's'}${
            (job.rerunCount ?? 0) > job.reruns.length ? ', the newest' : ''
          }: ${job.reruns.map(
            (id) => html`<a href=${`#/jobs/${encodeURIComponent(id)}`}><code>${id}</code></a> `,
          )}</p>`
        : null
    }
    <div class="actions">
      ${
        cancellable
          ? html`<button type="button" class="danger" onClick=${onCancel} disabled=${cancel.busy}>Cancel job</button>`
          : null
      }
      ${
        isFinal(job.status)
          ? html`<button type="button" onClick=${onRerun} disabled=${rerun.busy}>Re-run</button>`
          : null
      }
      ${rerun.error ? html`<span class="error" role="alert">${rerun.error}</span>` : null}
      ${cancel.said ? html`<span role="status">${cancel.said}</span>` : null}
      ${cancel.error ? html`<span class="error" role="alert">${cancel.error}</span>` : null}
    </div>
    <div class="cards">
      <dl class="card">
        <dt>Pool</dt><dd>${job.pool}</dd>
        <dt>Priority</dt><dd>${job.priority}</dd>
        <dt>Attempts</dt><dd>${job.attempts}</dd>
        <dt>Submitted</dt><dd>${clock(job.submittedAt)}</dd>
        <dt>Started</dt><dd>${clock(job.startedAt)}</dd>
        <dt>Ended</dt><dd>${clock(job.completedAt ?? job.cancelledAt)}</dd>
        <dt>Run time</dt><dd>${runTime(job)}</dd>
        ${
          Object.entries(job.tags).length > 0
            ? html`<dt>Tags</dt><dd>${Object.entries(job.tags).map(([k, v]) => html`<code class="tag">${k}=${v}</code> `)}</dd>`
            : null
        }
      </dl>
      <dl class="card">
        <dt>Backend</dt><dd>${job.backend}</dd>
        <dt>Run</dt><dd>${job.run ? html`<code>${job.run.id}</code>${job.run.state ? ` (${job.run.state})` : ''}` : '—'}</dd>
        ${Object.entries(job.links ?? {}).map(
          ([name, url]) =>
            html`<dt>${name}</dt><dd><a href=${url} target="_blank" rel="noopener">${shortLink(url)}</a></dd>`,
        )}
      </dl>
      <dl class="card resources">
        ${flatten(job.resources).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}
      </dl>
    </div>
    <h2>Timeline</h2>
    <${Timeline} events=${events} submittedAt=${job.submittedAt} />
    ${LOG_LINKS.filter((name) => job.links?.[name]).map(
      (name) => html`<h2>${name}${isFinal(job.status) ? '' : html` <small>(live)</small>`}</h2>
        <pre class="log" data-log=${name} tabindex="0">${logs[name] === undefined ? 'Not written yet.' : logs[name] || '(empty)'}</pre>`,
    )}
  </section>`;
}

function Timeline({ events, submittedAt }: { events: ApiJobEvent[]; submittedAt: string }) {
  if (events.length === 0) return html`<p class="empty">No history yet.</p>`;
  return html`<ol class="timeline">${events.map((event) => {
    // A retry's history item says how long the workflow waits and the error that caused it.
    const { delaySeconds: delay, error } = event as RetryFields;
    const rest = Object.entries(event.detail ?? {});
    return html`<li class=${event.type === 'STATUS' ? 'move' : 'hook'}>
      <time datetime=${event.at}>${clock(event.at)}</time>
      <span class="since">+${duration(Date.parse(event.at) - Date.parse(submittedAt))}</span>
      ${
        event.type === 'STATUS' && event.status
          ? html`<span>${event.from ? html`<span class="from">${event.from} →</span> ` : ''}<${StatusBadge} status=${event.status} /></span>`
          : html`<span>${EVENT_LABELS[event.type] ?? event.type}</span>`
      }
      ${event.type === 'PROGRESS' ? html`<${ProgressBar} progress=${event.progress} compact=${true} />` : null}
      ${event.attempt !== undefined ? html`<span class="attempt">attempt ${event.attempt + 1}</span>` : null}
      ${delay !== undefined ? html`<span class="delay">retry in ${String(delay)}s</span>` : null}
      ${error ? html`<span class="why"><strong>${error.name ?? 'error'}</strong> ${causeOf(error.cause)}</span>` : null}
      ${event.reason ? html`<span class="why"><strong>${event.reason.code}</strong> ${event.reason.message}</span>` : null}
      ${rest.length > 0 ? html`<span class="detail">${rest.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('; ')}</span>` : null}
    </li>`;
  })}</ol>`;
}

/** What the timeline calls the history items that are not status moves. */
const EVENT_LABELS: Readonly<Record<string, string>> = {
  WEBHOOK: 'webhook',
  DURATION_WARNING: 'duration warning',
  PROGRESS: 'progress',
};

/** What a move to RETRYING carries beside the common fields of a history item. */
interface RetryFields {
  readonly delaySeconds?: number;
  readonly error?: { readonly name?: string; readonly cause?: string };
}

/** A Step Functions cause is often the backend's JSON: its StateDetails say what happened. */
function causeOf(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { StateDetails?: string; errorMessage?: string };
    return parsed.StateDetails ?? parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}

/** Nested sizing as `driver.cores: 1` rows. */
function flatten(value: unknown, prefix = ''): [string, string][] {
  if (value === null || typeof value !== 'object') return [[prefix || 'value', String(value)]];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' ? flatten(v, `${prefix}${k}.`) : [[`${prefix}${k}`, String(v)]],
  );
}

function shortLink(url: string): string {
  const parsed = URL.parse(url);
  if (!parsed) return url;
  return parsed.pathname.split('/').filter(Boolean).at(-1) ?? parsed.host;
}
