import type { CheckResult } from './checks.ts';

/** The smoke's result as a plain-text table, one row per check, and a last line counting them. */
export function formatTable(rows: readonly CheckResult[]): string {
  const cells = [
    ['check', 'result', 'time', 'detail'],
    ...rows.map((row) => [row.check, row.outcome, `${(row.durationMs / 1000).toFixed(1)} s`, row.detail]),
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...cells.map((line) => line[column]?.length ?? 0)));
  const lines = cells.map((line) =>
    line
      .map((cell, column) => (column < 3 ? cell.padEnd(widths[column] ?? 0) : cell))
      .join('  ')
      .trimEnd(),
  );
  const count = (outcome: CheckResult['outcome']) => rows.filter((row) => row.outcome === outcome).length;
  lines.push('', `${count('PASS')} passed, ${count('FAIL')} failed, ${count('SKIP')} skipped`);
  return lines.join('\n');
}
