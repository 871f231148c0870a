/** Times as the user reads them: local clock time, and durations in h/m/s. */
export function clock(iso: string | undefined): string {
  if (!iso) return '—';
  const at = new Date(iso);
  const today = new Date().toDateString() === at.toDateString();
  return today
    ? at.toLocaleTimeString(undefined, { hour12: false })
    : at.toLocaleString(undefined, { hour12: false });
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

/** How long the job has run, or ran: from its start to its end (or now, while it runs). */
export function runTime(job: { startedAt?: string; completedAt?: string; cancelledAt?: string }): string {
  if (!job.startedAt) return '—';
  const end = job.completedAt ?? job.cancelledAt;
  return duration((end ? Date.parse(end) : Date.now()) - Date.parse(job.startedAt));
}
