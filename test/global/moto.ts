import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { freePort } from '../support/processes.ts';

/**
 * The suite's one moto_server (moto 5.2: AWS's wire protocols for DynamoDB, SQS, Step Functions,
 * EMR Serverless, EMR on EKS, S3, Lambda, Secrets Manager), on a free loopback port for the whole
 * run. Tests reach it with `inject('motoEndpoint')` (test/support/moto.ts). Tests share one server,
 * so each names its resources uniquely instead of resetting it.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}

const MISSING =
  'moto_server is not on PATH: install moto 5.2 with its server extras (pip install "moto[server]==5.2.*")';

async function waitUntilServing(endpoint: string, child: ChildProcess, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode} at start`);
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`moto_server did not answer on ${endpoint} in ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface MotoServer {
  readonly endpoint: string;
  /** Whether the process is still running: moto can die under a request it cannot handle. */
  alive(): boolean;
  /** The tail of its log, for a failure message. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts a moto_server on a free loopback port and waits until it answers. */
export async function startMotoServer(): Promise<MotoServer> {
  if (spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).error) throw new Error(MISSING);
  const port = await freePort();
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // MOTO_PORT is where moto's own Step Functions interpreter sends its service calls.
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'false', MOTO_PORT: String(port) },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    // Keep only the tail: moto logs every request.
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(endpoint, child, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
  return {
    endpoint,
    alive: () => child.exitCode === null && child.signalCode === null,
    log: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startMotoServer();
  project.provide('motoEndpoint', server.endpoint);
  return () => server.stop();
}
