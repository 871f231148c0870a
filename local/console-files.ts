import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built console (`npm run build:console`), committed so that a fresh clone serves it at once. */
export const CONSOLE_DIST = fileURLToPath(new URL('../console/dist/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * What the console's pages may do: load their own files, call the API on this origin (the run
 * output links are on it too), nothing framed, nothing inline.
 */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

/**
 * Serves the console's files at `/` (GET and HEAD), never a path outside `root`: the API's own
 * prefixes are left to the routes, a path that does not decode, holds `..`, a NUL or a backslash
 * is not a file of the console, and the resolved path must stay inside the root. True when it
 * answered.
 */
export async function serveConsole(
  root: string,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
): Promise<boolean> {
  const method = request.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/local/')) return false;
  const file = consoleFile(root, url.pathname);
  if (file === undefined) return false;
  const contentType = CONTENT_TYPES[extname(file)];
  const size = await stat(file).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );
  if (size === undefined || contentType === undefined) return false;
  response.writeHead(200, {
    'content-type': contentType,
    'content-length': String(size),
    // The page itself is always asked for again; its assets change only with a new build.
    'cache-control': file.endsWith('.html') ? 'no-cache' : 'public, max-age=300',
    ...SECURITY_HEADERS,
  });
  if (method === 'HEAD') {
    response.end();
    return true;
  }
  createReadStream(file)
    .on('error', () => response.destroy())
    .pipe(response);
  return true;
}

/** The file of the console a URL path names, or undefined when it can name none. */
export function consoleFile(root: string, pathname: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (path.includes('\0') || path.includes('\\') || path.split('/').includes('..')) return undefined;
  const relative = path === '/' ? 'index.html' : path.replace(/^\/+/, '');
  const base = resolve(root);
  const file = resolve(base, relative);
  return file.startsWith(base + sep) ? file : undefined;
}
