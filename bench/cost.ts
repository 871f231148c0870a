import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '#core/config.ts';
import { type LocalRuntime, startLocalRuntime } from '../local/runtime.ts';
import { submitJob } from '../test/support/local-http.ts';
import { machineLine, writeBenchmarkSection } from './support.ts';

/**
 * What one job costs to orchestrate on AWS: the state transitions, Lambda invocations and
 * DynamoDB / SQS requests its life takes, counted in the local runtime (which runs the same
 * handlers and the same ASL, and counts each call the way AWS bills it), priced at list
 * prices. Spark compute (EMR) is not orchestration and not counted.
 * Targets (issue 4): happy path ≤ 10 state transitions without webhooks; ≤ $0.0005 a job.
 */

/** AWS list prices, us-east-1, on-demand, arm64 Lambda, Standard workflows (USD). */
const PRICES = {
  region: 'us-east-1',
  stateTransition: 0.025 / 1000,
  lambdaRequest: 0.2 / 1_000_000,
  lambdaGbSecond: 0.0000133334,
  lambdaMemoryGb: 0.5,
  dynamoWriteUnit: 0.625 / 1_000_000,
  dynamoReadUnit: 0.125 / 1_000_000,
  sqsRequest: 0.4 / 1_000_000,
};

const JOBS = Number(process.env.BENCH_JOBS ?? 20);
const READ_OPERATIONS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem']);

interface PathCost {
  readonly name: string;
  readonly jobs: number;
  readonly transitions: number;
  readonly lambdaInvocations: number;
  readonly lambdaMs: number;
  readonly dynamoRequests: number;
  readonly writeUnits: number;
  readonly readUnits: number;
  readonly sqsRequests: number;
  readonly perJobUsd: number;
  readonly lambdaByFunction: string;
}

/** Waits until every job's execution ended and admission has nothing left to do. */
async function settle(runtime: LocalRuntime, jobIds: readonly string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (const jobId of jobIds) {
    while (!runtime.workflow.get(jobId)) {
      if (Date.now() > deadline) throw new Error(`job ${jobId} never started`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const execution = await runtime.workflow.get(jobId)?.done;
    if (execution?.status !== 'SUCCEEDED')
      throw new Error(`job ${jobId}'s execution ended ${execution?.status}`);
  }
  // The last wakes' admission passes belong to these jobs' cost too.
  while (
    runtime.intake.getAttributes().ApproximateNumberOfMessages +
      runtime.intake.getAttributes().ApproximateNumberOfMessagesNotVisible >
    0
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}

async function measurePath(
  runtime: LocalRuntime,
  name: string,
  bodies: readonly unknown[],
): Promise<PathCost> {
  runtime.usage.reset();
  const jobIds = await Promise.all(bodies.map((body) => submitJob(runtime.url, body)));
  await settle(runtime, jobIds);
  for (const jobId of jobIds) {
    const status = (await runtime.parts.jobs.getJob(jobId))?.status;
    if (status !== 'SUCCEEDED') throw new Error(`job ${jobId} ended ${status}`);
  }
  // The check above read the table: count only what the jobs' lives asked for.
  const transitions = jobIds.reduce((sum, id) => sum + (runtime.workflow.get(id)?.transitions ?? 0), 0);
  const usage = runtime.usage;
  let dynamoRequests = 0;
  let writeUnits = 0;
  let readUnits = 0;
  for (const [operation, entry] of usage.dynamodb) {
    dynamoRequests += entry.requests;
    if (READ_OPERATIONS.has(operation)) readUnits += entry.capacityUnits;
    else writeUnits += entry.capacityUnits;
  }
  // The final check's GetItems are not the job's: take them back out.
  const checks = jobIds.length;
  dynamoRequests -= checks;
  readUnits -= checks;
  let lambdaInvocations = 0;
  let lambdaMs = 0;
  for (const entry of usage.lambda.values()) {
    lambdaInvocations += entry.invocations;
    lambdaMs += entry.milliseconds;
  }
  const sqsRequests = [...usage.sqs.values()].reduce((sum, n) => sum + n, 0);
  const total =
    transitions * PRICES.stateTransition +
    lambdaInvocations * PRICES.lambdaRequest +
    (lambdaMs / 1000) * PRICES.lambdaMemoryGb * PRICES.lambdaGbSecond +
    writeUnits * PRICES.dynamoWriteUnit +
    readUnits * PRICES.dynamoReadUnit +
    sqsRequests * PRICES.sqsRequest;
  const n = jobIds.length;
  return {
    name,
    jobs: n,
    transitions: transitions / n,
    lambdaInvocations: lambdaInvocations / n,
    lambdaMs: lambdaMs / n,
    dynamoRequests: dynamoRequests / n,
    writeUnits: writeUnits / n,
    readUnits: readUnits / n,
    sqsRequests: sqsRequests / n,
    perJobUsd: total / n,
    lambdaByFunction: [...usage.lambda.entries()]
      .map(([fn, entry]) => `${fn.replace('libra-', '')} ${(entry.invocations / n).toFixed(2)}`)
      .join(', '),
  };
}

async function main(): Promise<void> {
  const runtime = await startLocalRuntime({
    config: parseConfig({ pools: { default: { maxConcurrentJobs: 10, cpuCores: 64, memoryGb: 256 } } }),
    port: 0,
    logLevel: 'SILENT',
    tickSeconds: 3600,
  });
  try {
    const happy = await measurePath(
      runtime,
      'happy path (SQL succeeds)',
      Array.from({ length: JOBS }, () => ({ code: 'SELECT 1 AS one', kind: 'sql' })),
    );
    // Fails once, then succeeds: a marker file tells the second attempt from the first.
    const retry = await measurePath(
      runtime,
      'retry path (fails once, then succeeds)',
      Array.from({ length: JOBS }, () => {
        const marker = join(tmpdir(), `libra-cost-${randomUUID()}`);
        return {
          code: `import os, sys\nif not os.path.exists(${JSON.stringify(marker)}):\n    open(${JSON.stringify(marker)}, 'w').close()\n    sys.exit(1)\nprint('second attempt')`,
          kind: 'python',
          retryPolicy: { maxRetries: 1, initialDelaySeconds: 1 },
        };
      }),
    );
    const rows = [happy, retry];
    for (const row of rows) console.log(row);
    const verdict =
      happy.transitions <= 10 && Math.max(happy.perJobUsd, retry.perJobUsd) <= 0.0005 ? 'met' : 'NOT met';
    await writeBenchmarkSection(
      'cost',
      `## Cost per job (\`npm run bench:cost\`)

${JOBS} jobs per path through the local runtime, which runs the deployed handlers and
\`state-machines/job.asl.json\` and counts every call as AWS bills it (DynamoDB capacity units
as dynalite computes them for the table; index writes are not included). Lambda time is the
local handlers' measured time at ${PRICES.lambdaMemoryGb * 1024} MB. No webhooks. Prices: AWS list
prices, ${PRICES.region}: Step Functions Standard $0.025 per 1,000 transitions; Lambda arm64 $0.20
per million requests and $0.0000133334 per GB-second; DynamoDB on-demand $0.625 per million write
and $0.125 per million read units; SQS $0.40 per million requests. Spark compute (EMR) is not
orchestration and not counted. Machine: ${machineLine()}; run ${new Date().toISOString()}.

| path | state transitions | Lambda invocations | Lambda ms | DynamoDB requests | write units | read units | SQS requests | USD per job |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
${rows
  .map(
    (r) =>
      `| ${r.name} | ${r.transitions.toFixed(1)} | ${r.lambdaInvocations.toFixed(2)} | ${r.lambdaMs.toFixed(1)} | ${r.dynamoRequests.toFixed(1)} | ${r.writeUnits.toFixed(1)} | ${r.readUnits.toFixed(1)} | ${r.sqsRequests.toFixed(1)} | ${r.perJobUsd.toFixed(7)} |`,
  )
  .join('\n')}

Lambda invocations per job by function — happy: ${happy.lambdaByFunction}; retry: ${retry.lambdaByFunction}.

Targets: happy path ≤ 10 state transitions without webhooks, orchestration ≤ $0.0005 a job —
**${verdict}** for the happy path (${happy.transitions.toFixed(0)} transitions, $${happy.perJobUsd.toFixed(6)}).
Each retry adds ten transitions (mark, history, backoff, notify choice, run again), so a job that
retries once costs $${retry.perJobUsd.toFixed(6)}: state transitions are nearly all of the cost.`,
    );
  } finally {
    await runtime.stop();
  }
}

await main();
