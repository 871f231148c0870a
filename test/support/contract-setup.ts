import { afterEach } from 'vitest';
import { ContractViolation, checkAnswer } from './contract.ts';

/**
 * Set up in every test file (vitest.config.ts): the fetch the tests call checks each answer from a
 * Libra API on this machine (the local runtime, in this process or a child) against
 * docs/openapi.json. A violation fails the fetch, and fails the test after it even when the test
 * caught the error (a polling loop that retries on failure, say).
 */

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const LIBRA_PATH = /^\/(api\/|local\/jobs\/|health$)/;

const violations: ContractViolation[] = [];
const original = globalThis.fetch;

function target(input: string | URL | Request, init?: RequestInit): { method: string; url: URL } {
  if (input instanceof Request) return { method: init?.method ?? input.method, url: new URL(input.url) };
  return { method: init?.method ?? 'GET', url: new URL(String(input)) };
}

globalThis.fetch = async function checkedFetch(input: string | URL | Request, init?: RequestInit) {
  const response = await original(input, init);
  const { method, url } = target(input, init);
  if (!LOOPBACK.has(url.hostname) || !LIBRA_PATH.test(url.pathname)) return response;
  const body = method.toUpperCase() === 'HEAD' ? '' : await response.clone().text();
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  try {
    checkAnswer({ method: method.toUpperCase(), path: url.pathname, status: response.status, headers, body });
  } catch (error) {
    if (error instanceof ContractViolation) violations.push(error);
    throw error;
  }
  return response;
} as typeof fetch;

afterEach(() => {
  const found = violations.splice(0);
  if (found.length > 0) throw found[0];
});
