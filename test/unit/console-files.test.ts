import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { consoleFile } from '../../local/console-files.ts';

const root = resolve('/srv/console');

describe('which file of the console a path names', () => {
  it('/ is index.html; a file below the root is itself', () => {
    expect(consoleFile(root, '/')).toBe(join(root, 'index.html'));
    expect(consoleFile(root, '/assets/console.js')).toBe(join(root, 'assets/console.js'));
  });

  it.each([
    '/../package.json',
    '/assets/../../etc/passwd',
    '/%2e%2e/package.json',
    '/assets/%2e%2e%2f%2e%2e%2fetc/passwd',
    '/..%5c..%5cwindows',
    '/a%00.js',
    '/%E0%A4%A',
    '//etc/passwd/..',
  ])('%s names none', (path) => {
    expect(consoleFile(root, path)).toBeUndefined();
  });

  it('a doubled slash stays inside the root', () => {
    expect(consoleFile(root, '//etc/passwd')).toBe(join(root, 'etc/passwd'));
  });
});
