import { describe, expect, it } from 'vitest';
import { type EmrContainersSdk, EmrRunControl, type EmrServerlessSdk } from '#adapters/aws-backends.ts';
import { atInit, onFirstUse } from '#adapters/sdk.ts';
import type { JobRecord } from '#core/job-record.ts';

/** A stand-in SDK package: one command class, and a client that records what it is sent. */
function fakePackage() {
  const sent: unknown[] = [];
  class CancelJobRunCommand {
    readonly input: unknown;
    constructor(input: unknown) {
      this.input = input;
    }
  }
  const client = {
    send: async (command: unknown) => {
      sent.push(command);
      return {};
    },
  };
  return { sdk: { CancelJobRunCommand }, client, sent };
}

/** A package loader and a client maker that count their calls. */
function counted<T, C>(value: T, client: C) {
  const calls = { load: 0, client: 0 };
  return {
    calls,
    load: async () => {
      calls.load++;
      return value;
    },
    makeClient: () => {
      calls.client++;
      return client;
    },
  };
}

describe('onFirstUse', () => {
  it('imports nothing and makes no client until first used, then keeps them for the container', async () => {
    // Prepare
    const fake = fakePackage();
    const loader = counted(fake.sdk, fake.client);
    const sdk = onFirstUse(loader.load, loader.makeClient);

    // Act
    const before = { ...loader.calls };
    const [first, second] = await Promise.all([sdk(), sdk()]);
    const third = await sdk();

    // Assess
    expect(before).toEqual({ load: 0, client: 0 });
    expect(loader.calls).toEqual({ load: 1, client: 1 });
    expect(first).toBe(second);
    expect(third).toBe(first);
    expect(first.client).toBe(fake.client);
  });

  it('tries a failed import again on the next use instead of remembering the failure', async () => {
    // Prepare
    let attempts = 0;
    const sdk = onFirstUse(
      async () => {
        attempts++;
        if (attempts === 1) throw new Error('not found');
        return 'package';
      },
      (loaded) => `client of ${loaded}`,
    );

    // Act
    const failed = await sdk().catch((error: Error) => error.message);
    const loaded = await sdk();

    // Assess
    expect(failed).toBe('not found');
    expect(loaded.client).toBe('client of package');
    expect(attempts).toBe(2);
  });
});

describe('atInit', () => {
  it('makes the client at once, from the package the entry imported', async () => {
    // Prepare
    let made = 0;

    // Act
    const sdk = atInit('package', (loaded) => {
      made++;
      return `client of ${loaded}`;
    });

    // Assess
    expect(made).toBe(1);
    expect((await sdk()).client).toBe('client of package');
    await sdk();
    expect(made).toBe(1);
  });
});

describe('EmrRunControl', () => {
  function runControl() {
    const serverless = fakePackage();
    const containers = fakePackage();
    const loads = { serverless: 0, containers: 0 };
    const control = new EmrRunControl({
      serverless: onFirstUse(
        async () => {
          loads.serverless++;
          return serverless.sdk;
        },
        () => serverless.client,
      ) as unknown as EmrServerlessSdk,
      containers: onFirstUse(
        async () => {
          loads.containers++;
          return containers.sdk;
        },
        () => containers.client,
      ) as unknown as EmrContainersSdk,
    });
    return { control, loads, serverless, containers };
  }

  const job = (fields: Partial<JobRecord>) =>
    ({ jobId: 'job-1', backend: 'emr-serverless', ...fields }) as JobRecord;

  it('loads only the client of the backend whose run it stops', async () => {
    // Prepare
    const { control, loads, serverless, containers } = runControl();

    // Act
    await control.cancelRun(
      job({ backend: 'eks', backendRunId: 'cluster-1/run-1', backendState: 'RUNNING' }),
    );

    // Assess
    expect(loads).toEqual({ serverless: 0, containers: 1 });
    expect(containers.sent).toEqual([{ input: { virtualClusterId: 'cluster-1', id: 'run-1' } }]);
    expect(serverless.sent).toEqual([]);
  });

  it('loads nothing for a job with no run, or whose run has ended', async () => {
    // Prepare
    const { control, loads } = runControl();

    // Act
    await control.cancelRun(job({}));
    await control.cancelRun(job({ backendRunId: 'app-1/run-1', backendState: 'SUCCESS' }));

    // Assess
    expect(loads).toEqual({ serverless: 0, containers: 0 });
  });

  it('stops an EMR Serverless run with the client it loaded the first time', async () => {
    // Prepare
    const { control, loads, serverless } = runControl();

    // Act
    await control.cancelRun(job({ backendRunId: 'app-1/run-1', backendState: 'RUNNING' }));
    await control.cancelRun(job({ jobId: 'job-2', backendRunId: 'app-1/run-2', backendState: 'PENDING' }));

    // Assess
    expect(loads).toEqual({ serverless: 1, containers: 0 });
    expect(serverless.sent).toEqual([
      { input: { applicationId: 'app-1', jobRunId: 'run-1' } },
      { input: { applicationId: 'app-1', jobRunId: 'run-2' } },
    ]);
  });
});
