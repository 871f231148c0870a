import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSparkEngine } from '../../local/engine/index.ts';
import { runOnLocalEngine } from '../../local/workflow/spark.ts';
import { jobWorkflowDefinition } from '../asl/definition.ts';

/**
 * A run the local engine cannot take (here: no python3) reaches the workflow as the error EMR's
 * `.sync` task raises for a StartJobRun it refuses, on the run state of its own backend — an
 * error the deployed definition catches — with a cause that says LOCAL_SPARK_UNAVAILABLE.
 */

let dataDir: string;
let engine: LocalSparkEngine;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'libra-unavailable-'));
  engine = new LocalSparkEngine({ dataDir, python: join(dataDir, 'no-such-python') });
  await writeFile(join(dataDir, 'main.py'), 'print(1)\n');
});

afterAll(async () => {
  await engine?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** The Catch of `state` that takes `error`, by its Next. */
function caughtBy(state: string, error: string): string | undefined {
  const catchers = (
    jobWorkflowDefinition().States[state] as unknown as {
      Catch: { ErrorEquals: string[]; Next: string }[];
    }
  ).Catch;
  return catchers.find((c) => c.ErrorEquals.includes(error) || c.ErrorEquals.includes('States.ALL'))?.Next;
}

describe('the local binding of the EMR .sync runs', () => {
  it.each([
    [
      'RunOnEmrServerless',
      'EMRServerless.ValidationException',
      { ApplicationId: 'local', driver: 'SparkSubmit' },
    ],
    [
      'RunOnEks',
      'EMRContainers.ValidationException',
      { VirtualClusterId: 'local', driver: 'SparkSubmitJobDriver' },
    ],
  ])('%s: fails with %s, which the definition sends to MarkRefused', async (state, error, request) => {
    const driver = { EntryPoint: join(dataDir, 'main.py'), EntryPointArguments: [] };
    const { driver: driverKey, ...target } = request;
    const failure = await runOnLocalEngine(engine, {
      ...target,
      JobDriver: { [driverKey]: driver },
      Name: `job-${state}`,
      ClientToken: `job-${state}-0`,
    }).then(
      () => expect.unreachable('the run cannot succeed without python3'),
      (e: Error) => e,
    );
    expect(failure.name).toBe(error);
    expect(failure.message).toMatch(/^LOCAL_SPARK_UNAVAILABLE: python3 was not found/);
    expect(caughtBy(state, error)).toBe('MarkRefused');
  });
});
