import { readFileSync } from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { libraStack, propertiesOf } from './app.ts';

/**
 * docs/deploy.md against the stack: the outputs, the dashboard's graphs and the alarms it
 * describes are the ones LibraStack creates, named as it names them.
 */

const DOC = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8');
const POOLS = ['default', 'etl-nightly'];
/** The pools with a monthly budget: each has a budget alarm, the others none. */
const BUDGETED_POOLS = ['etl-nightly'];
const stack = libraStack({ config: { pools: { 'etl-nightly': { monthlyBudgetUsd: 500 } } } });
const template = Template.fromStack(stack);

/** The text of the doc's section under `heading`, up to the next heading of any level. */
function section(heading: string): string {
  const start = DOC.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no section ${heading}`);
  const rest = DOC.slice(start + heading.length + 2);
  return rest.slice(0, rest.search(/\n#{2,3} /) >>> 0);
}

/** The first code span of each table row, header and rule left out. */
function firstColumn(text: string): string[] {
  return text.split('\n').flatMap((line) => /^\| `([^`]+)`/.exec(line)?.[1] ?? []);
}

const pascal = (pool: string) =>
  pool
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

describe('docs/deploy.md', () => {
  it('lists the stack outputs, the console output among them when it is published', () => {
    const published = libraStack({
      config: { auth: { mode: 'jwt', issuer: 'https://issuer.example.com/', audience: ['libra'] } },
      console: true,
    });
    const outputs = new Set([
      ...Object.keys(template.toJSON().Outputs as object),
      ...Object.keys(Template.fromStack(published).toJSON().Outputs as object),
    ]);
    expect(firstColumn(section('### Outputs')).sort()).toEqual([...outputs].sort());
  });

  it('names the alarms as the stack names them, one of each per-pool kind per pool', () => {
    const documented = firstColumn(section('### Alarms, and what to do when one fires')).flatMap((id) =>
      id.includes('<Pool>')
        ? POOLS.map((pool) => id.replace('<Pool>', pascal(pool)))
        : id.includes('<BudgetedPool>')
          ? BUDGETED_POOLS.map((pool) => id.replace('<BudgetedPool>', pascal(pool)))
          : [id],
    );

    expect(documented.sort()).toEqual(Object.keys(stack.libra.observability.alarms).sort());
  });

  it("lists every graph of the dashboard by its title, and no graph it doesn't have", () => {
    const parts = propertiesOf(template, stack, stack.libra.observability.dashboard).DashboardBody[
      'Fn::Join'
    ][1] as unknown[];
    const body = JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'ref')).join('')) as {
      widgets: { properties: { title?: string } }[];
    };
    const titles = body.widgets.flatMap((widget) => widget.properties.title ?? []);
    const documented = [
      ...section('### The dashboard')
        .replace(/```[\s\S]*?```/g, '')
        .replace(/\n\s*/g, ' ')
        .matchAll(/"([^"]+)"/g),
    ].flatMap(([, title]) =>
      title?.includes('<pool>') ? POOLS.map((pool) => title.replace('<pool>', pool)) : [title ?? ''],
    );

    expect(documented.sort()).toEqual(titles.sort());
  });
});
