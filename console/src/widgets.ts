import type { JobStatus, Progress } from 'libra-serverless/client';
import type { Load } from './hooks.ts';
import { html } from './html.ts';

export function StatusBadge({ status }: { status: JobStatus }) {
  return html`<span class=${`badge s-${status.toLowerCase()}`}>${status}</span>`;
}

/** The loading and error lines every page shows the same way. */
export function LoadState({ load, what }: { load: Load<unknown>; what: string }) {
  if (load.state === 'loading') return html`<p class="note" role="status">Loading ${what}…</p>`;
  if (load.state === 'error') {
    return html`<p class="error" role="alert">Could not load ${what}: ${load.error}</p>`;
  }
  return null;
}

/** A used-of-limit bar; `meter` so that assistive tech reads it as a gauge. */
export function Bar({
  label,
  used,
  limit,
  unit,
}: {
  label: string;
  used: number;
  limit: number;
  unit: string;
}) {
  const share = limit > 0 ? Math.min(1, used / limit) : 0;
  const level = share >= 0.9 ? 'full' : share >= 0.6 ? 'high' : 'ok';
  return html`<div class="bar-row">
    <span class="bar-label">${label}</span>
    <span class=${`bar ${level}`} role="meter" aria-label=${label} aria-valuemin="0" aria-valuemax=${limit}
      aria-valuenow=${used} data-used=${used} data-limit=${limit}>
      <span class="fill" style=${{ width: `${(share * 100).toFixed(1)}%` }}></span>
    </span>
    <span class="bar-value">${round(used)} / ${round(limit)} ${unit}</span>
  </div>`;
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/**
 * A run's progress as its driver reported it: a bar and the percentage where the fraction is known
 * (floored, so 100% is only said of a finished run), the stage and task counts always; without a
 * fraction, the bar is indeterminate (no value) and only the counts are said. No progress: nothing.
 */
export function ProgressBar({ progress, compact = false }: { progress?: Progress; compact?: boolean }) {
  if (!progress) return null;
  const counts = `stages ${progress.stagesDone}/${progress.stagesTotal} · tasks ${progress.tasksDone}/${progress.tasksTotal}`;
  const percent = progress.fraction === undefined ? undefined : Math.floor(progress.fraction * 100);
  const text = percent === undefined ? counts : `${percent}% · ${counts}`;
  return html`<div class=${`progress${compact ? ' compact' : ''}`} data-progress>
    <span class=${`bar${percent === undefined ? ' unknown' : ''}`} role="progressbar" aria-label="Progress"
      aria-valuetext=${text}
      ...${percent === undefined ? {} : { 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': percent }}>
      ${percent === undefined ? null : html`<span class="fill" style=${{ width: `${percent}%` }}></span>`}
    </span>
    <span class="bar-value">${text}</span>
  </div>`;
}
