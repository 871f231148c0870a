import type { JobMove } from '../../client/index.ts';
import { formatElapsed, moveLine } from './render.ts';

/** How a wait shows a job's progress. */
export interface Progress {
  move(move: JobMove): void;
  /** Takes the live line away (if any), so that what follows starts on a clean line. */
  stop(): void;
}

/** In a pipe or a file: one plain line per move. */
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
 * since the submit, the queue position while queued, and the moves so far. When the job ends the
 * line is replaced by one summary line.
 */
export function liveProgress(
  stream: { write(text: string): unknown; readonly columns?: number },
  jobId: string,
): Progress {
  let last: JobMove | undefined;
  let lastSeenAt = 0;
  const trail: string[] = [];
  let frame = 0;
  const draw = () => {
    if (!last) return;
    const elapsed = formatElapsed(last.elapsedMs + (Date.now() - lastSeenAt));
    const position = last.queuePosition !== undefined ? ` (position ${last.queuePosition})` : '';
    const attempt = last.status === 'RUNNING' && last.attempt ? ` (attempt ${last.attempt + 1})` : '';
    const line = `${SPINNER[frame++ % SPINNER.length]} ${last.status}${position}${attempt} ${elapsed}  ${jobId}  ${trail.join(' → ')}`;
    const width = Math.max(20, (stream.columns ?? 80) - 1);
    stream.write(`${CLEAR_LINE}${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    move(move) {
      if (move.kind === 'status') trail.push(`${move.status} ${formatElapsed(move.elapsedMs)}`);
      last = move;
      lastSeenAt = Date.now();
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
