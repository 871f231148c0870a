import type {
  ApiJobEvent,
  JobCost,
  JobMove,
  JobSummary,
  PoolView,
  Progress,
  StatusView,
  UsageReport,
} from '../../client/index.ts';

/** Elapsed time as a person reads it: 0.4s, 12.3s, 3m04s, 1h02m. */
export function formatElapsed(ms: number): string {
  if (ms < 60_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** Rows as aligned columns under a header; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]?.length ?? 0)));
  return all
    .map((row) =>
      row
        .map((cell, column) => (column < row.length - 1 ? cell.padEnd(widths[column] ?? 0) : cell))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const tagsText = (tags: Readonly<Record<string, string>>): string =>
  Object.entries(tags)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');

/**
 * A run's progress in one phrase: a bar and the percentage where the fraction is known (floored,
 * so 100% is only ever said of a finished run), then the stages and tasks done of those known.
 */
export function progressText(progress: Progress): string {
  const counts = `stages ${progress.stagesDone}/${progress.stagesTotal}, tasks ${progress.tasksDone}/${progress.tasksTotal}`;
  if (progress.fraction === undefined) return counts;
  const percent = Math.floor(progress.fraction * 100);
  return `${bar(progress.fraction, 1)} ${String(percent).padStart(3)}%  ${counts}`;
}

/** One line of a wait's progress: elapsed time, status, and what goes with it. */
export function moveLine(move: JobMove): string {
  if (move.kind === 'progress' && move.progress) {
    return `${formatElapsed(move.elapsedMs).padStart(7)}  ${move.status}  ${progressText(move.progress)}`;
  }
  const notes: string[] = [];
  if (move.queuePosition !== undefined) notes.push(`position ${move.queuePosition}`);
  if (move.status === 'RUNNING' && move.attempt !== undefined) notes.push(`attempt ${move.attempt + 1}`);
  if (move.reason && !move.final) notes.push(`${move.reason.code}: ${move.reason.message}`);
  return `${formatElapsed(move.elapsedMs).padStart(7)}  ${move.status}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

/** What a finished job ends with: its reason and where its output is. */
export function endLines(job: StatusView): string[] {
  const lines: string[] = [];
  if (job.reason) lines.push(`reason: ${job.reason.code}: ${job.reason.message}`);
  for (const [name, link] of Object.entries(job.links ?? {})) lines.push(`${name}: ${link}`);
  return lines;
}

const processText = (size: { cores: number; totalMemoryMiB: number }) =>
  `${size.cores} core${size.cores === 1 ? '' : 's'}/${size.totalMemoryMiB} MiB`;

export function statusText(job: StatusView): string {
  const rows: [string, string][] = [['job', `${job.jobId}  ${job.status}`]];
  if (job.name !== undefined) rows.push(['name', job.name]);
  rows.push(['pool', `${job.pool} (${job.backend}), priority ${job.priority}`]);
  if (Object.keys(job.tags).length > 0) rows.push(['tags', tagsText(job.tags)]);
  if (job.queuePosition !== undefined) rows.push(['queue', `position ${job.queuePosition}`]);
  if (job.progress) rows.push(['progress', `${progressText(job.progress)} (at ${job.progress.updatedAt})`]);
  if (job.rerunOf !== undefined) rows.push(['rerun of', job.rerunOf]);
  if (job.rerunCount !== undefined) {
    const older = job.rerunCount - (job.reruns?.length ?? 0);
    rows.push([
      'reruns',
      `${job.rerunCount}: ${(job.reruns ?? []).join(', ')}${older > 0 ? ` (and ${older} older)` : ''}`,
    ]);
  }
  rows.push(['attempts', String(job.attempts)]);
  const times: [string, string | undefined][] = [
    ['submitted', job.submittedAt],
    ['scheduled', job.scheduledAt],
    ['started', job.startedAt],
    ['completed', job.completedAt],
    ['cancelled', job.cancelledAt],
  ];
  for (const [name, at] of times) {
    if (at !== undefined)
      rows.push([name, `${at}  (+${formatElapsed(Date.parse(at) - Date.parse(job.submittedAt))})`]);
  }
  const r = job.resources;
  rows.push([
    'resources',
    `${r.totalCores} cores, ${r.totalMemoryMiB} MiB: driver ${processText(r.driver)}, ` +
      `${r.executors}${r.dynamicAllocation ? ' at most' : ''} × executor ${processText(r.executor)}`,
  ]);
  if (job.run) rows.push(['run', `${job.run.id}${job.run.state ? ` (${job.run.state})` : ''}`]);
  if (job.reason) rows.push(['reason', `${job.reason.code}: ${job.reason.message}`]);
  if (job.cost) rows.push(['cost', costText(job.cost)]);
  for (const [name, link] of Object.entries(job.links ?? {})) rows.push([name, link]);
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n');
}

export function listTable(jobs: readonly JobSummary[]): string {
  return table(
    ['JOB', 'STATUS', 'POOL', 'PRI', 'SUBMITTED', 'NAME', 'TAGS'],
    jobs.map((job) => [
      job.jobId,
      job.status,
      job.pool,
      String(job.priority),
      job.submittedAt,
      job.name ?? '',
      tagsText(job.tags),
    ]),
  );
}

export function eventsTable(events: readonly ApiJobEvent[]): string {
  const start = Date.parse(events[0]?.at ?? '');
  return table(
    ['AT', 'ELAPSED', 'EVENT', 'DETAIL'],
    events.map((event) => {
      const detail: string[] = [];
      if (event.from !== undefined) detail.push(`from ${event.from}`);
      if (event.attempt !== undefined) detail.push(`attempt ${event.attempt + 1}`);
      if (event.reason) detail.push(`${event.reason.code}: ${event.reason.message}`);
      if (event.detail) detail.push(JSON.stringify(event.detail));
      const progress = event.progress;
      if (progress) {
        const share = progress.fraction === undefined ? '' : `, ${Math.floor(progress.fraction * 100)}%`;
        detail.push(
          `stages ${progress.stagesDone}/${progress.stagesTotal}, tasks ${progress.tasksDone}/${progress.tasksTotal}${share}`,
        );
      }
      return [
        event.at,
        `+${formatElapsed(Date.parse(event.at) - start)}`,
        event.type === 'STATUS' ? (event.status ?? '') : event.type,
        detail.join(', '),
      ];
    }),
  );
}

const BAR_WIDTH = 24;

/** `used` of `limit` as a bar of BAR_WIDTH cells, full cells rounded up so that any use shows. */
export function bar(used: number, limit: number): string {
  const share = limit > 0 ? Math.min(1, Math.max(0, used / limit)) : 0;
  const full = used > 0 ? Math.max(1, Math.round(share * BAR_WIDTH)) : 0;
  return `${'█'.repeat(full)}${'░'.repeat(BAR_WIDTH - full)}`;
}

const number = (value: number) => String(Math.round(value * 10) / 10);

export function poolsText(pools: readonly PoolView[]): string {
  return pools
    .map((pool) => {
      const rows: [string, number, number, string][] = [
        ['cores', pool.used.cpuCores, pool.limits.cpuCores, ''],
        ['memory', pool.used.memoryGb, pool.limits.memoryGb, ' GB'],
        ['jobs', pool.running, pool.limits.maxConcurrentJobs, ' running'],
        ['queue', pool.waiting, pool.limits.maxQueueSize, ' waiting'],
        // The caller's own admitted jobs, against its cap when the pool sets one (fair share).
        [
          'yours',
          pool.you.running,
          pool.limits.maxRunningPerOwner ?? pool.limits.maxConcurrentJobs,
          ` running, weight ${number(pool.you.weight)}`,
        ],
      ];
      const head = `${pool.name}  (${pool.backends.join(', ')}${pool.backfill ? ', backfill' : ''}; waits at most ${pool.limits.maxWaitMinutes} min)`;
      return [
        head,
        ...rows.map(
          ([name, used, limit, unit]) =>
            `  ${name.padEnd(6)}  ${bar(used, limit)}  ${number(used)}/${number(limit)}${unit}`,
        ),
      ].join('\n');
    })
    .join('\n\n');
}

/** A usage figure to three significant digits, however small: a short local run is not 0. */
function figure(value: number): string {
  if (value === 0 || value >= 1000) return String(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

/** USD with as many decimals as a small figure needs: $12.34, $0.0123, $0.000241. */
export function usd(value: number): string {
  if (value === 0) return '$0';
  if (value >= 1) return `$${value.toFixed(2)}`;
  return `$${value.toPrecision(3).replace(/0+$/, '')}`;
}

/** A job's cost in one line: USD, where it comes from, and the usage behind it. */
export function costText(cost: JobCost): string {
  const usage = [
    `${figure(cost.vcpuHours)} vCPU-h`,
    `${figure(cost.memoryGbHours)} GB-h memory`,
    ...(cost.storageGbHours > 0 ? [`${figure(cost.storageGbHours)} GB-h storage`] : []),
    ...(cost.cpuSeconds !== undefined ? [`${figure(cost.cpuSeconds)} s CPU`] : []),
    ...(cost.peakMemoryMb !== undefined ? [`peak ${figure(cost.peakMemoryMb)} MB`] : []),
  ];
  const runs = cost.runs === 1 ? '1 run' : `${cost.runs} runs`;
  return `${usd(cost.usd)} ${cost.estimate ? '(estimate)' : '(billed)'}: ${usage.join(', ')} over ${runs}; orchestration ${usd(cost.orchestrationUsd)}`;
}

/** GET /usage as a table: one row per group, the most spent first, and the total. */
export function usageTable(report: UsageReport): string {
  const head = `${report.from} to ${report.to}, by ${report.groupBy} (${report.scope === 'all' ? 'everyone' : 'your own runs'})`;
  const row = (group: UsageReport['total']) => [
    group.key,
    String(group.runs),
    String(group.estimatedRuns),
    figure(group.vcpuHours),
    figure(group.memoryGbHours),
    usd(group.computeUsd),
    usd(group.orchestrationUsd),
    usd(group.usd),
  ];
  const header = [
    report.groupBy.toUpperCase(),
    'RUNS',
    'ESTIMATED',
    'VCPU-H',
    'MEM GB-H',
    'COMPUTE',
    'ORCH',
    'USD',
  ];
  if (report.groups.length === 0)
    return `${head}
no runs ended in this period`;
  return `${head}
${table(header, [...report.groups.map(row), row({ ...report.total, key: 'total' })])}`;
}
