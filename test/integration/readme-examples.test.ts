import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContractProxy, startContractProxy } from '../support/contract-proxy.ts';
import { type LocalProcess, startLocalProcess } from '../support/local-process.ts';

/**
 * The README's examples, run as written against a freshly started local runtime: each shell
 * block in "## Examples" runs in one bash session (so `$JOB` carries over) and its output must
 * match the JSON or text block after it, where `…` (in a JSON string, or anywhere in a text) stands
 * for anything.
 */
interface Example {
  readonly command: string;
  readonly expected: unknown;
  /** The answer is plain text, compared line for line. */
  readonly text?: boolean;
}

async function readmeExamples(): Promise<Example[]> {
  const readme = await readFile('README.md', 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('Examples'));
  if (!section) throw new Error('README has no "## Examples" section');
  const blocks = [...section.matchAll(/```(sh|json|text)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1],
    text: m[2] ?? '',
  }));
  const examples: Example[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i];
    const next = blocks[i + 1];
    if (block?.lang !== 'sh') continue;
    if (next?.lang === 'json') examples.push({ command: block.text, expected: JSON.parse(next.text) });
    else if (next?.lang === 'text') examples.push({ command: block.text, expected: next.text, text: true });
    else throw new Error(`README example has no answer after it:\n${block.text}`);
  }
  return examples;
}

function wildcard(pattern: string): RegExp {
  const escaped = pattern.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 's');
}

/** Every difference between an expected answer (with `…` wildcards) and the actual one. */
function differences(expected: unknown, actual: unknown, path = '$'): string[] {
  // `…` alone stands for any value, a measured number among them.
  if (expected === '…') return actual === undefined ? [`${path}: missing`] : [];
  if (typeof expected === 'string' && expected.includes('…')) {
    return typeof actual === 'string' && wildcard(expected).test(actual)
      ? []
      : [`${path}: ${JSON.stringify(actual)} ≠ ${expected}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length)
      return [`${path}: ${JSON.stringify(actual)}`];
    return expected.flatMap((item, i) => differences(item, actual[i], `${path}[${i}]`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual))
      return [`${path}: ${JSON.stringify(actual)}`];
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    return [...keys].flatMap((key) =>
      differences(
        (expected as Record<string, unknown>)[key],
        (actual as Record<string, unknown>)[key],
        `${path}.${key}`,
      ),
    );
  }
  return Object.is(expected, actual)
    ? []
    : [`${path}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`];
}

/**
 * `./npmw exec libra --` runs the package's bin, bin/libra; here it is run directly, without npm's
 * few seconds of start-up per command (test/integration/cli.test.ts runs it through `npm exec`).
 */
const LIBRA = `${process.execPath} bin/libra`;

describe('README examples against the local runtime', () => {
  let runtime: LocalProcess;
  // curl goes through it, so that every answer is checked against docs/openapi.json.
  let proxy: ContractProxy;

  beforeAll(async () => {
    runtime = await startLocalProcess();
    proxy = await startContractProxy(runtime.url);
  });

  afterAll(async () => {
    await proxy?.close();
    await runtime?.stop();
  });

  it('answers every example as the README shows', async () => {
    const examples = await readmeExamples();
    expect(examples.length).toBeGreaterThanOrEqual(6);
    const script = examples
      .map(
        (example, i) =>
          `printf '\\n@@example ${i}@@\\n'\n${example.command
            .replaceAll('http://localhost:8080', proxy.url)
            .replaceAll('./npmw exec libra --', LIBRA)}`,
      )
      .join('\n');
    const { stdout } = await promisify(execFile)('bash', ['-c', `set -e\n${script}`], {
      env: { ...process.env, LIBRA_ENDPOINT: proxy.url },
    });
    const outputs = stdout.split(/\n@@example \d+@@\n/).slice(1);
    expect(outputs).toHaveLength(examples.length);
    examples.forEach((example, i) => {
      const output = outputs[i] ?? '';
      if (example.text) {
        const expected = String(example.expected).trimEnd();
        if (expected.includes('…')) {
          expect(output.trimEnd(), `example ${i}:\n${example.command}`).toMatch(wildcard(expected));
        } else {
          expect(output.trimEnd(), `example ${i}:\n${example.command}`).toBe(expected);
        }
        return;
      }
      let actual: unknown;
      try {
        actual = JSON.parse(output);
      } catch {
        throw new Error(`example ${i} did not answer JSON:\n${example.command}\n→ ${output}`);
      }
      expect(differences(example.expected, actual), `example ${i}:\n${example.command}`).toEqual([]);
    });
  }, 120_000);

  it('stops cleanly on SIGTERM', async () => {
    const code = await runtime.stop('SIGTERM');
    expect(code).toBe(0);
    expect(runtime.output()).toContain('stopped');
  });
});
