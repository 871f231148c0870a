import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiText } from '../lambdas/core/openapi.ts';

/**
 * Writes docs/openapi.json from the generator (lambdas/core/openapi.ts); `--check` only says
 * whether the committed file differs from what the generator makes now (exit 1 when it does).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const OPENAPI_FILE = join(ROOT, 'docs/openapi.json');

/** The document as the generator makes it now, for this package's version. */
export function generatedOpenApi(): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return openApiText(version);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = generatedOpenApi();
  if (process.argv.includes('--check')) {
    const committed = readFileSync(OPENAPI_FILE, 'utf8');
    if (committed !== text) {
      console.error('docs/openapi.json differs from the generator: run npm run build:openapi');
      process.exit(1);
    }
    console.log('docs/openapi.json is up to date');
  } else {
    writeFileSync(OPENAPI_FILE, text);
    console.log(`wrote ${OPENAPI_FILE}`);
  }
}
