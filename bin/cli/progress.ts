import type { JobMove, Progress as ProgressBody } from '../../client/index.ts';
import { formatElapsed, moveLine, progressText } from './render.ts';

/** How a wait shows a job's progress. */
export interface Progress {
  move(move: JobMove): void;
  /** Takes the live line away (if any), so that what follows starts on a clean line. */
  stop(): void;
}

/** In a pipe or a file: one plain line per move, a progress line only when its values changed. */
export function plainProgress(write: (text: string) => void): Progress {
  return {
    move: (move) => write(`${moveLine(move)}\n`),
    stop: () => undefined,
  };
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR_LINE = '\r\x1b[2K';

/**
 * On a terminal: a single line, redrawn in place ten times a second, with the status, the time
 * since the submit, the queue position while queued, the run's progress bar and stage counts
 * while it reports them, and the moves so far. When the job ends the line is replaced by one
 * summary line.
 */
export function liveProgress(
  stream: { write(text: string): unknown; readonly columns?: number },
  jobId: string,
): Progress {
  // The last status or queue move: the elapsed time counts on from it. A progress move only
  // changes the bar (its time is the driver's report, not now).
  let last: JobMove | undefined;
  let lastSeenAt = 0;
  let progress: ProgressBody | undefined;
  const trail: string[] = [];
  let frame = 0;
  const draw = () => {
    if (!last) return;
    const elapsed = formatElapsed(last.elapsedMs + (Date.now() - lastSeenAt));
    const position = last.queuePosition !== undefined ? ` (position ${last.queuePosition})` : '';
    const attempt = last.status === 'RUNNING' && last.attempt ? ` (attempt ${last.attempt + 1})` : '';
    const shown = progress ? `  ${progressText(progress)}` : '';
    const line = `${SPINNER[frame++ % SPINNER.length]} ${last.status}${position}${attempt} ${elapsed}${shown}  ${jobId}  ${trail.join(' → ')}`;
    const width = Math.max(20, (stream.columns ?? 80) - 1);
    stream.write(`${CLEAR_LINE}${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    move(move) {
      if (move.kind === 'status') trail.push(`${move.status} ${formatElapsed(move.elapsedMs)}`);
      progress = move.job.progress;
      if (move.kind !== 'progress' || !last) {
        last = move;
        lastSeenAt = Date.now();
      }
      if (move.final) {
        clearInterval(timer);
        stream.write(
          `${CLEAR_LINE}${move.status} after ${formatElapsed(move.elapsedMs)}: ${trail.join(' → ')}\n`,
        );
        return;
      }
      draw();
    },
    stop() {
      clearInterval(timer);
      if (last && !last.final) stream.write(CLEAR_LINE);
    },
  };
}
