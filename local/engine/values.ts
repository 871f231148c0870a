import {
  DuckDBArrayValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBUnionValue,
  type DuckDBValue,
} from '@duckdb/node-api';

/** JS Dates cover ±8.64e15 ms around the epoch; beyond that DuckDB's own text is kept. */
const MAX_DATE_MICROS = 8_640_000_000_000_000_000n;

/**
 * A DuckDB value as something `JSON.stringify` writes without loss or surprise: integers beyond
 * 2^53 and wide decimals become strings (a number would silently round), NaN and ±Infinity become
 * strings (JSON has no such numbers), dates and timestamps ISO 8601 text, nested values nest.
 */
export function toJsonSafe(value: DuckDBValue): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof DuckDBDateValue) {
    if (value.isFinite) return value.toString();
    return value.days > 0 ? 'infinity' : '-infinity';
  }
  if (value instanceof DuckDBTimestampValue) return isoTimestamp(value.micros, value.isFinite, false);
  if (value instanceof DuckDBTimestampTZValue) return isoTimestamp(value.micros, value.isFinite, true);
  if (value instanceof DuckDBTimestampSecondsValue) {
    return isoTimestamp(value.seconds * 1_000_000n, value.isFinite, false);
  }
  if (value instanceof DuckDBTimestampMillisecondsValue) {
    return isoTimestamp(value.millis * 1000n, value.isFinite, false);
  }
  if (value instanceof DuckDBTimestampNanosecondsValue) {
    return isoTimestamp(value.nanos / 1000n, value.isFinite, false);
  }
  // 15 significant digits always survive a round trip through a double; more may not.
  if (value instanceof DuckDBDecimalValue) return value.width <= 15 ? value.toDouble() : value.toString();
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue)
    return value.items.map(toJsonSafe);
  if (value instanceof DuckDBStructValue) {
    return Object.fromEntries(Object.entries(value.entries).map(([key, item]) => [key, toJsonSafe(item)]));
  }
  // Map keys need not be strings, so a map is a list of entries rather than an object.
  if (value instanceof DuckDBMapValue) {
    return value.entries.map((entry) => ({ key: toJsonSafe(entry.key), value: toJsonSafe(entry.value) }));
  }
  if (value instanceof DuckDBUnionValue) return { [value.tag]: toJsonSafe(value.value) };
  // Blob, UUID, interval, time, bit, geometry, variant: DuckDB's own text is the readable form.
  return String(value);
}

/** `2024-01-02T03:04:05.123456` (a zone-less timestamp has no offset), with `Z` for TIMESTAMPTZ. */
function isoTimestamp(micros: bigint, finite: boolean, utc: boolean): string {
  if (!finite) return micros > 0n ? 'infinity' : '-infinity';
  if (micros > MAX_DATE_MICROS || micros < -MAX_DATE_MICROS) return String(micros);
  // Floor division, so instants before 1970 keep a positive fraction.
  let millis = micros / 1000n;
  if (micros < 0n && micros % 1000n !== 0n) millis -= 1n;
  const whole = new Date(Number(millis)).toISOString().replace(/\.\d{3}Z$/, '');
  const fraction = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const digits = fraction === 0n ? '' : `.${fraction.toString().padStart(6, '0').replace(/0+$/, '')}`;
  return `${whole}${digits}${utc ? 'Z' : ''}`;
}

const CELL_WIDTH = 20;

/**
 * A result as Spark's `Dataset.show()` prints it: right-aligned cells cut at 20 characters, and
 * "only showing top N rows" when there were more.
 */
export function formatTable(
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  truncated: boolean,
): string {
  const cells = [
    columns.map(String),
    ...rows.map((row) => columns.map((_, index) => cellText(row[index]))),
  ].map((line) =>
    line.map((text) => (text.length > CELL_WIDTH ? `${text.slice(0, CELL_WIDTH - 3)}...` : text)),
  );
  const widths = columns.map((_, index) => Math.max(3, ...cells.map((line) => line[index]?.length ?? 0)));
  const rule = `+${widths.map((width) => '-'.repeat(width)).join('+')}+`;
  const render = (line: readonly string[]) =>
    `|${line.map((text, index) => text.padStart(widths[index] ?? 0)).join('|')}|`;
  const [header = [], ...body] = cells;
  const lines = [rule, render(header), rule, ...body.map(render), rule];
  if (truncated) lines.push(`only showing top ${rows.length} rows`);
  return `${lines.join('\n')}\n`;
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  // One table row per result row, even when a value holds line breaks.
  const text =
    typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.replace(/\r?\n/g, '\\n');
}
