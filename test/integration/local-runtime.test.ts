import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalProcess } from '../support/local-process.ts';

const SUBMIT = '/api/v1/spark/jobs/submit';
const json = { 'content-type': 'application/json' };

describe('the local runtime', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'libra-local-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers /health and its OpenAPI document, and 404 for routes API Gateway would not have', async () => {
    const runtime = await startLocalProcess();
    try {
      const health = await fetch(`${runtime.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      // Served as committed, to a caller that names no one.
      const openapi = await fetch(`${runtime.url}/api/v1/openapi.json`);
      expect(openapi.status).toBe(200);
      expect(await openapi.json()).toEqual(JSON.parse(await readFile('docs/openapi.json', 'utf8')));
      const unknown = await fetch(`${runtime.url}/api/v1/spark/nothing`);
      expect(unknown.status).toBe(404);
      const wrongMethod = await fetch(`${runtime.url}${SUBMIT}`, { method: 'PUT' });
      expect(wrongMethod.status).toBe(404);
    } finally {
      expect(await runtime.stop('SIGINT')).toBe(0);
    }
  });

  it('keeps jobs across restarts with --data', async () => {
    const data = join(dir, 'data');
    const first = await startLocalProcess(['--data', data]);
    const submitted = await fetch(`${first.url}${SUBMIT}`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ code: 'SELECT 1', kind: 'sql', name: 'kept' }),
    });
    expect(submitted.status).toBe(202);
    const { jobId } = (await submitted.json()) as { jobId: string };
    expect(await first.stop('SIGTERM')).toBe(0);

    const second = await startLocalProcess(['--data', data]);
    try {
      const status = await fetch(`${second.url}/api/v1/spark/jobs/${jobId}`);
      expect(status.status).toBe(200);
      // Whatever it reached before the stop (it may have run already), the job is still there.
      expect(await status.json()).toMatchObject({ jobId, name: 'kept', submittedAt: expect.any(String) });
    } finally {
      await second.stop();
    }
  });

  it('reads pools from LIBRA_CONFIG and stops at start on bad configuration, naming the key', async () => {
    const good = join(dir, 'good.json');
    await writeFile(good, JSON.stringify({ pools: { etl: { cpuCores: 64 } } }));
    const runtime = await startLocalProcess([], { LIBRA_CONFIG: good });
    try {
      const submitted = await fetch(`${runtime.url}${SUBMIT}`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ code: 'SELECT 1', kind: 'sql', pool: 'etl' }),
      });
      expect(submitted.status).toBe(202);
    } finally {
      await runtime.stop();
    }

    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ pools: { etl: { cpuCores: -1 } } }));
    await expect(startLocalProcess([], { LIBRA_CONFIG: bad })).rejects.toThrow(/libra\.pools\.etl\.cpuCores/);
  });
});
