import { type DuckDBConnection, DuckDBInstance, type DuckDBValue, ResultReturnType } from '@duckdb/node-api';
import type { LocalPreview } from './types.ts';
import { formatTable, toJsonSafe } from './values.ts';

export const PREVIEW_ROWS = 20;

/**
 * How often a cancelled query is interrupted again until it stops. DuckDB clears a pending
 * interrupt when the next statement begins, so one call can be lost between two statements.
 */
const INTERRUPT_EVERY_MS = 50;

export interface SqlRunOptions {
  readonly sql: string;
  /** Where DuckDB may spill; without it an in-memory database spills to `.tmp` in the working directory. */
  readonly tempDirectory: string;
  /** Appends to the run's stdout.txt. */
  readonly write: (text: string) => Promise<void>;
  /** Aborting interrupts the query; the outcome is then a failure the caller replaces with its own reason. */
  readonly signal: AbortSignal;
  /**
   * Told how far the run has got: while a statement runs, every `progressEveryMs` if DuckDB's
   * figures changed, and once as each statement ends.
   */
  readonly onProgress?: (progress: SqlProgress) => void;
  /** 1 s unless given. */
  readonly progressEveryMs?: number;
}

/** Statements done of all, and DuckDB's rows for the statement running (0 of 0 between statements). */
export interface SqlProgress {
  readonly statementsDone: number;
  readonly statements: number;
  readonly rowsProcessed: number;
  readonly rowsTotal: number;
  /** The running statement's share done (0–1), absent when DuckDB cannot tell. */
  readonly statementFraction?: number;
}

const PROGRESS_EVERY_MS = 1000;

export type SqlOutcome =
  | { readonly ok: true; readonly preview?: LocalPreview }
  | { readonly ok: false; readonly message: string };

/**
 * Runs the statements of `sql` in order on a fresh in-memory DuckDB, stopping at the first error.
 *
 * DuckDB runs each statement on its own threads and the binding waits for it on a libuv pool thread,
 * so the event loop stays free however long a query takes; it does hold that pool thread (of 4 by
 * default, shared with fs and dns), which is why the engine limits how many SQL runs go at once.
 *
 * A statement that returns rows is streamed and only its first 21 rows fetched: enough for a
 * preview and to know whether there were more, without holding a large result in memory.
 */
export async function runSql(options: SqlRunOptions): Promise<SqlOutcome> {
  const { signal, write } = options;
  if (signal.aborted) return { ok: false, message: 'interrupted before it started' };
  const instance = await DuckDBInstance.create(':memory:', { temp_directory: options.tempDirectory });
  let connection: DuckDBConnection | undefined;
  let interrupter: ReturnType<typeof setInterval> | undefined;
  const interrupt = () => {
    connection?.interrupt();
    interrupter ??= setInterval(() => connection?.interrupt(), INTERRUPT_EVERY_MS);
  };
  signal.addEventListener('abort', interrupt, { once: true });
  let watcher: ReturnType<typeof setInterval> | undefined;
  try {
    connection = await instance.connect();
    if (signal.aborted) interrupt();
    if (options.onProgress) await trackProgress(connection);
    const statements = await extract(connection, options.sql);
    if (!statements.ok) return statements;
    const report = progressReporter(connection, statements.count, options.onProgress);
    let preview: LocalPreview | undefined;
    for (let index = 0; index < statements.count; index += 1) {
      if (signal.aborted) return { ok: false, message: 'interrupted' };
      const prepared = await statements.extracted.prepare(index);
      if (report) {
        report.start(index);
        watcher = setInterval(report.poll, options.progressEveryMs ?? PROGRESS_EVERY_MS);
      }
      try {
        const result = await prepared.stream();
        if (result.returnType !== ResultReturnType.QUERY_RESULT) {
          await write(
            `Statement ${index + 1}: OK${rowsChangedText(result.returnType, result.rowsChanged)}\n`,
          );
          continue;
        }
        const columns = result.columnNames();
        const rows: DuckDBValue[][] = [];
        while (rows.length <= PREVIEW_ROWS) {
          const chunk = await result.fetchChunk();
          if (chunk === null || chunk.rowCount === 0) break;
          rows.push(...chunk.getRows());
        }
        const truncated = rows.length > PREVIEW_ROWS;
        const safeRows = rows.slice(0, PREVIEW_ROWS).map((row) => row.map(toJsonSafe));
        preview = { columns, rows: safeRows, truncated };
        await write(`Statement ${index + 1}:\n${formatTable(columns, safeRows, truncated)}`);
      } finally {
        clearInterval(watcher);
        prepared.destroySync();
      }
      report?.ended(index + 1);
    }
    return preview === undefined ? { ok: true } : { ok: true, preview };
  } catch (error) {
    return { ok: false, message: errorMessage(error) };
  } finally {
    clearInterval(watcher);
    signal.removeEventListener('abort', interrupt);
    if (interrupter !== undefined) clearInterval(interrupter);
    connection?.closeSync();
    instance.closeSync();
  }
}

/**
 * DuckDB keeps a query's progress only with its progress bar on; it is kept from printing, and
 * tracked from the start of each query rather than after the bar's usual 2 s.
 */
async function trackProgress(connection: DuckDBConnection): Promise<void> {
  await connection.run('SET enable_progress_bar = true');
  await connection.run('SET enable_progress_bar_print = false');
  await connection.run('SET progress_bar_time = 0');
}

/**
 * Reads DuckDB's progress of the running statement (`connection.progress`, safe to read while
 * the query runs on another thread) and reports it when it changed. DuckDB's percentage is -1
 * while it cannot tell; its rows are those of the scans it can count.
 */
function progressReporter(
  connection: DuckDBConnection,
  statements: number,
  onProgress: ((progress: SqlProgress) => void) | undefined,
) {
  if (onProgress === undefined) return undefined;
  let statementsDone = 0;
  let last = '';
  const emit = (progress: SqlProgress) => {
    const key = JSON.stringify(progress);
    if (key === last) return;
    last = key;
    onProgress(progress);
  };
  return {
    start(index: number) {
      statementsDone = index;
    },
    poll: () => {
      const { percentage, rows_processed, total_rows_to_process } = connection.progress;
      emit({
        statementsDone,
        statements,
        rowsProcessed: Number(rows_processed),
        rowsTotal: Number(total_rows_to_process),
        ...(percentage >= 0 && { statementFraction: Math.min(1, percentage / 100) }),
      });
    },
    ended(done: number) {
      statementsDone = done;
      emit({ statementsDone: done, statements, rowsProcessed: 0, rowsTotal: 0, statementFraction: 0 });
    },
  };
}

type Extracted =
  | {
      readonly ok: true;
      readonly count: number;
      readonly extracted: Awaited<ReturnType<DuckDBConnection['extractStatements']>>;
    }
  | { readonly ok: false; readonly message: string };

const EXTRACT_PREFIX = 'Failed to extract statements: ';

async function extract(connection: DuckDBConnection, sql: string): Promise<Extracted> {
  try {
    const extracted = await connection.extractStatements(sql);
    return { ok: true, count: extracted.count, extracted };
  } catch (error) {
    const message = errorMessage(error);
    // The binding reports a parse error with this prefix; with no statement at all it fails while
    // asking for an error that does not exist, and says only "Error in native callback".
    if (message.startsWith(EXTRACT_PREFIX))
      return { ok: false, message: message.slice(EXTRACT_PREFIX.length) };
    return {
      ok: false,
      message: `No SQL statement to run: the code is empty or only comments (DuckDB: ${message})`,
    };
  }
}

function rowsChangedText(returnType: ResultReturnType, rowsChanged: number): string {
  if (returnType !== ResultReturnType.CHANGED_ROWS) return '';
  return `, ${rowsChanged} row${rowsChanged === 1 ? '' : 's'} changed`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
