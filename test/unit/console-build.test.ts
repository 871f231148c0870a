import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CONSOLE_DIST = 'console/dist';

/** The console's built files are committed (a fresh clone serves them without a build): they must be current. */

const MAX_GZIPPED_BYTES = 150 * 1024;

function filesOf(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), readFileSync(path));
  }
  return files;
}

describe('the console build', () => {
  let outDir: string;
  let built: Map<string, Buffer>;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'libra-console-'));
    await build({
      configFile: 'console/vite.config.ts',
      logLevel: 'silent',
      build: { outDir, emptyOutDir: true },
    });
    built = filesOf(outDir);
  }, 120_000);

  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('console/dist is what `npm run build:console` builds from console/src now', () => {
    const committed = filesOf(CONSOLE_DIST);
    expect([...committed.keys()].sort()).toEqual([...built.keys()].sort());
    for (const [name, bytes] of built) {
      expect(committed.get(name)?.equals(bytes), `${name} differs: run npm run build:console`).toBe(true);
    }
  });

  it('everything a page loads is at most 150 KB gzipped', () => {
    const gzipped = [...built.values()].reduce((sum, bytes) => sum + gzipSync(bytes, { level: 9 }).length, 0);
    console.info(`console bundle: ${(gzipped / 1024).toFixed(1)} KB gzipped`);
    expect(gzipped).toBeGreaterThan(5 * 1024);
    expect(gzipped).toBeLessThanOrEqual(MAX_GZIPPED_BYTES);
  });

  it('the bundle holds no Node-only module: the client runs on Web APIs', () => {
    const code = [...built].filter(([name]) => name.endsWith('.js')).map(([, bytes]) => bytes.toString());
    for (const text of code) expect(text).not.toMatch(/\bfrom\s*["']node:|require\(["']node:/);
  });
});
