import {
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBUnionValue,
} from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { formatTable, toJsonSafe } from '../../local/engine/values.ts';

/** 2024-01-02T03:04:05.123456 in microseconds since the epoch. */
const MICROS = BigInt(Date.UTC(2024, 0, 2, 3, 4, 5, 123)) * 1000n + 456n;

describe('toJsonSafe', () => {
  it('keeps what JSON holds exactly and turns the rest into strings', () => {
    expect(toJsonSafe(null)).toBeNull();
    expect(toJsonSafe(true)).toBe(true);
    expect(toJsonSafe('text')).toBe('text');
    expect(toJsonSafe(1.5)).toBe(1.5);
    expect(toJsonSafe(Number.NaN)).toBe('NaN');
    expect(toJsonSafe(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
  });

  it('gives a bigint as a number while it is exact, as a string beyond 2^53', () => {
    expect(toJsonSafe(42n)).toBe(42);
    expect(toJsonSafe(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(toJsonSafe(BigInt(Number.MAX_SAFE_INTEGER) + 1n)).toBe('9007199254740992');
    expect(toJsonSafe(-(2n ** 100n))).toBe((-(2n ** 100n)).toString());
  });

  it('writes dates and timestamps as ISO 8601, TIMESTAMPTZ in UTC with Z', () => {
    expect(toJsonSafe(new DuckDBDateValue(19724))).toBe('2024-01-02');
    expect(toJsonSafe(new DuckDBTimestampValue(MICROS))).toBe('2024-01-02T03:04:05.123456');
    expect(toJsonSafe(new DuckDBTimestampTZValue(MICROS))).toBe('2024-01-02T03:04:05.123456Z');
    expect(toJsonSafe(new DuckDBTimestampValue(0n))).toBe('1970-01-01T00:00:00');
    expect(toJsonSafe(new DuckDBTimestampMillisecondsValue(1500n))).toBe('1970-01-01T00:00:01.5');
    // Before the epoch the fraction still counts forward from the whole second before it.
    expect(toJsonSafe(new DuckDBTimestampValue(-1n))).toBe('1969-12-31T23:59:59.999999');
  });

  it('names infinite dates and timestamps rather than printing a far-off year', () => {
    expect(toJsonSafe(DuckDBDateValue.PosInf)).toBe('infinity');
    expect(toJsonSafe(DuckDBDateValue.NegInf)).toBe('-infinity');
    expect(toJsonSafe(DuckDBTimestampValue.PosInf)).toBe('infinity');
  });

  it('gives a decimal as a number up to 15 digits, beyond that as exact text', () => {
    expect(toJsonSafe(new DuckDBDecimalValue(125n, 10, 2))).toBe(1.25);
    expect(toJsonSafe(new DuckDBDecimalValue(12345678901234567890n, 38, 10))).toBe('1234567890.1234567890');
  });

  it('nests lists, structs, maps and unions, converting what is inside', () => {
    expect(toJsonSafe(new DuckDBListValue([1n, null, 2n ** 60n]))).toEqual([1, null, '1152921504606846976']);
    expect(toJsonSafe(new DuckDBStructValue({ at: new DuckDBDateValue(0), n: 1 }))).toEqual({
      at: '1970-01-01',
      n: 1,
    });
    expect(toJsonSafe(new DuckDBMapValue([{ key: 1, value: 'one' }]))).toEqual([{ key: 1, value: 'one' }]);
    expect(toJsonSafe(new DuckDBUnionValue('num', 7))).toEqual({ num: 7 });
  });

  it('falls back to DuckDB’s text for the rest', () => {
    expect(toJsonSafe(new DuckDBBlobValue(new Uint8Array([0x61, 0x00])))).toBe('a\\x00');
  });

  it('always yields something JSON.stringify round-trips', () => {
    const row = [2n ** 70n, Number.NaN, new DuckDBTimestampValue(MICROS), new DuckDBListValue([1n])].map(
      toJsonSafe,
    );
    expect(JSON.parse(JSON.stringify(row))).toEqual(row);
  });
});

describe('formatTable', () => {
  it('prints right-aligned cells in a ruled table, as Spark’s show() does', () => {
    expect(
      formatTable(
        ['id', 'name'],
        [
          [1, 'ada'],
          [22, null],
        ],
        false,
      ),
    ).toBe(
      ['+---+----+', '| id|name|', '+---+----+', '|  1| ada|', '| 22|NULL|', '+---+----+', ''].join('\n'),
    );
  });

  it('cuts long cells at 20 characters, keeps a row on one line, and says when rows were left out', () => {
    const table = formatTable(['text', 'lines', 'obj'], [['x'.repeat(30), 'line\nbreak', { a: 1 }]], true);
    expect(table).toContain(`|${'x'.repeat(17)}...|line\\nbreak|{"a":1}|`);
    expect(table.split('\n')).toHaveLength(7);
    expect(table.endsWith('only showing top 1 rows\n')).toBe(true);
  });
});
