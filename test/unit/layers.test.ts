import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The folders of lambdas/ and what each may import: the domain (core) nothing of the others,
 * adapters the domain, handlers the domain and adapters, and the compositions (compose, the
 * entries) all of them. A use case's deps type names only the port methods the use case calls.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LAMBDAS = join(ROOT, 'lambdas');
const ALIASES: Record<string, string> = {
  '#core/': 'core',
  '#adapters/': 'adapters',
  '#handlers/': 'handlers',
  '#compose/': 'compose',
};
const MAY_IMPORT: Record<string, readonly string[]> = {
  core: ['core'],
  adapters: ['core', 'adapters'],
  handlers: ['core', 'adapters', 'handlers'],
  compose: ['core', 'adapters', 'handlers', 'compose'],
  entry: ['core', 'adapters', 'handlers', 'compose'],
};

function sourcesOf(folder: string): string[] {
  return readdirSync(join(LAMBDAS, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(LAMBDAS, folder, name));
}

/** The module specifiers a file imports or re-exports, type-only ones included. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'|^import\s+'([^']+)'/gms)].map(
    (match) => match[1] ?? match[2] ?? '',
  );
}

/** The folder of lambdas/ a specifier of `file` names, or undefined outside lambdas/ (a package, docs). */
function folderOf(file: string, specifier: string): string | undefined {
  for (const [alias, folder] of Object.entries(ALIASES)) if (specifier.startsWith(alias)) return folder;
  if (!specifier.startsWith('.')) return undefined;
  const path = relative(LAMBDAS, resolve(dirname(file), specifier));
  return path.startsWith('..') ? undefined : path.split('/')[0];
}

describe('the folders of lambdas/', () => {
  for (const [folder, allowed] of Object.entries(MAY_IMPORT)) {
    it(`${folder} imports only from ${allowed.join(', ')}`, () => {
      const crossings = sourcesOf(folder).flatMap((file) =>
        specifiers(file)
          .filter((specifier) => {
            const target = folderOf(file, specifier);
            return target !== undefined && !allowed.includes(target);
          })
          .map((specifier) => `${relative(ROOT, file)} → ${specifier}`),
      );
      expect(crossings).toEqual([]);
    });
  }

  it('every file of lambdas/entry is a deployed entry: it exports the handler', () => {
    for (const file of sourcesOf('entry')) {
      expect(readFileSync(file, 'utf8'), relative(ROOT, file)).toMatch(/^export const handler\b/m);
    }
  });
});

describe('the use cases (lambdas/core/use-cases)', () => {
  const files = sourcesOf('core/use-cases');

  /** A use case's text and that of the modules beside it that it imports (the shared visible-job.ts). */
  function reachable(file: string): string {
    const local = specifiers(file)
      .filter((specifier) => specifier.startsWith('./'))
      .map((specifier) => readFileSync(resolve(dirname(file), specifier), 'utf8'));
    return [readFileSync(file, 'utf8'), ...local].join('\n');
  }

  it('each deps type picks only the port methods and config fields its use case uses', () => {
    const unused: string[] = [];
    let picked = 0;
    for (const file of files) {
      const text = reachable(file);
      const own = readFileSync(file, 'utf8');
      // The config as a whole handed on (e.g. to isAdmin, whose parameter picks the same fields).
      const configHandedOn = /\bdeps\.config\b(?!\.)/.test(text);
      for (const pick of own.matchAll(/Pick<(\w+),\s*([^>]+)>/g)) {
        for (const method of [...(pick[2] ?? '').matchAll(/'(\w+)'/g)].map((m) => m[1] ?? '')) {
          picked++;
          if (pick[1] === 'LibraConfig' && configHandedOn) continue;
          // A port method is called; a config field (Pick<LibraConfig, ...>) is read.
          if (!new RegExp(`\\.${method}\\b`).test(text)) unused.push(`${relative(ROOT, file)}: ${method}`);
        }
      }
    }
    expect(picked).toBeGreaterThan(10);
    expect(unused).toEqual([]);
  });

  it('no module is given a stand-in for a port it never calls', () => {
    const lambdas = ['core', 'adapters', 'handlers', 'compose', 'entry'].flatMap(sourcesOf);
    const stubs = lambdas.filter((file) => /\bnotGiven\w*/.test(readFileSync(file, 'utf8')));
    expect(stubs.map((file) => relative(ROOT, file))).toEqual([]);
  });
});
