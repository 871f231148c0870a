import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StartRefused } from '#core/errors.ts';
import type { JobRecord } from '#core/job-record.ts';
import type { RecordingStarter } from '../../local/recording-starter.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.ts';
import { checkStartExecution, MAX_EXECUTION_INPUT_BYTES } from '../../local/start-execution.ts';
import { eventually, sizedJob } from '../support/admission.ts';
import { testConfig } from '../support/api.ts';
import { submitJob } from '../support/local-http.ts';

/**
 * The local runtime's starters refuse what Step Functions refuses, the same way (StartRefused),
 * and the runtime then ends the job as AWS's admission does: START_FAILED with the message, its
 * capacity given back, the pool's next job admitted, the owner's webhook sent, startFailed counted.
 */

const config = testConfig({
  pools: { busy: { cpuCores: 16, memoryGb: 64, maxConcurrentJobs: 1, maxQueueSize: 10 } },
});

let runtime: LocalRuntime | undefined;
let receiver: Server | undefined;

afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
  await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve(undefined)));
  receiver = undefined;
});

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A webhook receiver on loopback that keeps every body it is sent. */
async function webhookReceiver(): Promise<{ url: string; bodies: Record<string, unknown>[] }> {
  const bodies: Record<string, unknown>[] = [];
  receiver = createServer((request, response) => {
    void readBody(request).then((body) => {
      bodies.push(JSON.parse(body) as Record<string, unknown>);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, bodies };
}

const submit = (rt: LocalRuntime, body: unknown) => submitJob(rt.url, body);

async function jobOf(rt: LocalRuntime, jobId: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${rt.url}/api/v1/spark/jobs/${jobId}`)).json()) as Record<string, unknown>;
}

describe('the local runtime, a start refused for good', () => {
  it('ends the job START_FAILED over the API, frees the pool for the next job and sends the FAILED webhook', async () => {
    const hook = await webhookReceiver();
    let refuseNext = true;
    runtime = await startLocalRuntime({
      config,
      port: 0,
      logLevel: 'SILENT',
      tickSeconds: 3600,
      // The first start is refused as the local StartExecution refuses an input over AWS's limit.
      onWorkflowStart: (job: JobRecord) => {
        if (!refuseNext) return;
        refuseNext = false;
        checkStartExecution(job.jobId, { padding: 'x'.repeat(MAX_EXECUTION_INPUT_BYTES) });
      },
    });
    const rt = runtime;
    const started = (rt.starter as RecordingStarter).started;

    const A = await submit(rt, {
      ...sizedJob('busy', 1),
      notifications: { webhook: hook.url, events: ['FAILED'] },
    });
    const B = await submit(rt, sizedJob('busy', 1));

    await eventually('A ends', async () => (await jobOf(rt, A)).status === 'FAILED');
    const a = await jobOf(rt, A);
    expect(a.reason).toEqual({
      code: 'START_FAILED',
      message: expect.stringMatching(
        /^Step Functions StartExecution refused it \(ValidationException\): .*less than or equal to 262144/,
      ),
    });
    await eventually('B is admitted in the room A gave back', () => started.has(B));
    expect(started.has(A)).toBe(false);
    expect((await rt.parts.jobs.getJob(B))?.status).toBe('SCHEDULED');
    await eventually('the FAILED webhook arrives', () => hook.bodies.length === 1);
    expect(hook.bodies[0]).toMatchObject({ type: 'job.failed', data: { jobId: A, status: 'FAILED' } });
    expect(rt.metrics.counter('startFailed', 'busy')).toBe(1);
    expect(rt.metrics.counter('jobsFinished', 'busy', { status: 'FAILED' })).toBe(1);
  });
});

describe("the local StartExecution's checks, as Step Functions' model has them", () => {
  const base = { jobId: 'job-1' };
  /** An input whose JSON is exactly `bytes` bytes long in UTF-8. */
  const inputOf = (bytes: number, filler = 'x') => {
    const overhead = Buffer.byteLength(JSON.stringify({ ...base, p: '' }));
    const fill = filler.repeat(Math.floor((bytes - overhead) / Buffer.byteLength(filler)));
    return { ...base, p: fill + 'x'.repeat(bytes - overhead - Buffer.byteLength(fill)) };
  };

  it('takes an input of exactly 262,144 bytes and refuses one byte more', () => {
    expect(Buffer.byteLength(JSON.stringify(inputOf(MAX_EXECUTION_INPUT_BYTES)))).toBe(
      MAX_EXECUTION_INPUT_BYTES,
    );
    expect(() => checkStartExecution('job-1', inputOf(MAX_EXECUTION_INPUT_BYTES))).not.toThrow();
    expect(() => checkStartExecution('job-1', inputOf(MAX_EXECUTION_INPUT_BYTES + 1))).toThrow(StartRefused);
  });

  it('counts UTF-8 bytes, not characters', () => {
    // 'é' is two bytes: about 131,100 characters are already over the limit.
    const input = inputOf(MAX_EXECUTION_INPUT_BYTES + 1, 'é');
    expect(JSON.stringify(input).length).toBeLessThan(MAX_EXECUTION_INPUT_BYTES);
    const error = (() => {
      try {
        checkStartExecution('job-1', input);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(StartRefused);
    expect((error as StartRefused).code).toBe('ValidationException');
  });

  it.each([
    ['', false],
    ['a'.repeat(80), true],
    ['a'.repeat(81), false],
    ['job with space', false],
    ['job:colon', false],
    ['job/slash', false],
    ['job\u0001control', false],
    ['job-0f8e_OK', true],
  ])('name %j taken: %s', (name, taken) => {
    const check = () => checkStartExecution(name, {});
    if (taken) expect(check).not.toThrow();
    else expect(check).toThrow(expect.objectContaining({ name: 'StartRefused', code: 'InvalidName' }));
  });
});
