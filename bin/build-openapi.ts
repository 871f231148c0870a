import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiText } from '../lambdas/core/openapi.ts';
import { renderReference } from './openapi-reference.ts';

/**
 * Writes docs/openapi.json from the generator (lambdas/core/openapi.ts) and docs/api.md, the
 * reference rendered from it; `--check` only says whether the committed files differ from what
 * the generator makes now (exit 1 when one does).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const OPENAPI_FILE = join(ROOT, 'docs/openapi.json');
export const REFERENCE_FILE = join(ROOT, 'docs/api.md');

/** The document as the generator makes it now, for this package's version. */
export function generatedOpenApi(): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return openApiText(version);
}

/** docs/api.md as rendered from the document the generator makes now. */
export function generatedReference(): string {
  return renderReference(JSON.parse(generatedOpenApi()));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = [
    [OPENAPI_FILE, generatedOpenApi()],
    [REFERENCE_FILE, generatedReference()],
  ] as const;
  if (process.argv.includes('--check')) {
    const stale = files.filter(([file, text]) => readFileSync(file, 'utf8') !== text);
    for (const [file] of stale)
      console.error(`${file} differs from the generator: run npm run build:openapi`);
    if (stale.length > 0) process.exit(1);
    console.log('docs/openapi.json and docs/api.md are up to date');
  } else {
    for (const [file, text] of files) {
      writeFileSync(file, text);
      console.log(`wrote ${file}`);
    }
  }
}
