import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { LOCAL_TABLE_NAME } from '../local/runtime.ts';
import { startLocalProcess } from '../test/support/local-process.ts';
import { type LatencyStats, machineLine, measure, ms, writeBenchmarkSection } from './support.ts';

/**
 * Submit latency against the local runtime at 1, 16 and 64 concurrent clients, and its ratio
 * to the floor: the write the submit path must make (the job record, one conditional put),
 * issued directly on the same dynalite by this process.
 * Targets (issue 2): p99 ≤ 25 ms at 16 clients, ratio ≤ 1.5.
 */
const CONCURRENCY = [1, 16, 64] as const;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const WARMUP = 300;

const body = JSON.stringify({
  code: 'SELECT COUNT(*) FROM range(1000)',
  kind: 'sql',
  priority: 5,
  name: 'bench',
  tags: { team: 'bench' },
  sparkConf: { 'spark.executor.instances': '2', 'spark.executor.memory': '2g' },
});

async function main(): Promise<void> {
  const runtime = await startLocalProcess([], { LOG_LEVEL: 'SILENT' });
  const submitUrl = `${runtime.url}/api/v1/spark/jobs/submit`;
  const submit = async () => {
    const response = await fetch(submitUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await response.arrayBuffer();
    if (response.status !== 202) throw new Error(`submit answered ${response.status}`);
  };

  const dynamoEndpoint = /DynamoDB (http:\/\/\S+),/.exec(runtime.output())?.[1];
  if (!dynamoEndpoint) throw new Error(`runtime did not name its DynamoDB endpoint:\n${runtime.output()}`);
  const dynamo = new DynamoDBClient({
    endpoint: dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  // The floor writes a copy of the very record a submit wrote, so it moves the same bytes.
  const seeded = await fetch(submitUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const { jobId: seededJobId } = (await seeded.json()) as { jobId: string };
  const { Item: record } = await dynamo.send(
    new GetItemCommand({
      TableName: LOCAL_TABLE_NAME,
      Key: { pk: { S: `JOB#${seededJobId}` }, sk: { S: 'META' } },
    }),
  );
  if (!record) throw new Error('the seeded job was not stored');
  const floorWrites = async (i: number) => {
    await dynamo.send(
      new PutItemCommand({
        TableName: LOCAL_TABLE_NAME,
        Item: { ...record, pk: { S: `JOB#floor-${i}` } },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  };

  try {
    for (let i = 0; i < WARMUP; i++) {
      await submit();
      await floorWrites(-1 - i);
    }
    const rows: { concurrency: number; submit: LatencyStats; floor: LatencyStats }[] = [];
    for (const concurrency of CONCURRENCY) {
      const submitStats = await measure(REQUESTS, concurrency, submit);
      const floorStats = await measure(REQUESTS, concurrency, (i) =>
        floorWrites(concurrency * 1_000_000 + i),
      );
      rows.push({ concurrency, submit: submitStats, floor: floorStats });
      console.log(
        `c=${concurrency}: submit p50 ${ms(submitStats.p50)} p99 ${ms(submitStats.p99)} ms (${submitStats.perSecond.toFixed(0)}/s); floor p50 ${ms(floorStats.p50)} p99 ${ms(floorStats.p99)} ms; p99 ratio ${(submitStats.p99 / floorStats.p99).toFixed(2)}`,
      );
    }
    const at16 = rows.find((r) => r.concurrency === 16);
    const ratio16 = at16 ? at16.submit.p99 / at16.floor.p99 : Number.NaN;
    const verdict = at16 && at16.submit.p99 <= 25 && ratio16 <= 1.5 ? 'met' : 'NOT met';
    await writeBenchmarkSection(
      'submit',
      `## Submit latency (\`npm run bench:submit\`)

${REQUESTS} submits per row over HTTP to the local runtime (\`node local/main.ts\`, dynalite in memory,
one process), after ${WARMUP} warm-up requests. The floor is the write the submit path must make —
the job record, one conditional put of the same size — sent straight to the same dynalite from the
benchmark process. Machine: ${machineLine()}; run ${new Date().toISOString()}.

| clients | submit p50 ms | submit p99 ms | submits/s | floor p50 ms | floor p99 ms | p99 ratio |
|---:|---:|---:|---:|---:|---:|---:|
${rows
  .map(
    (r) =>
      `| ${r.concurrency} | ${ms(r.submit.p50)} | ${ms(r.submit.p99)} | ${r.submit.perSecond.toFixed(0)} | ${ms(r.floor.p50)} | ${ms(r.floor.p99)} | ${(r.submit.p99 / r.floor.p99).toFixed(2)} |`,
  )
  .join('\n')}

Target at 16 clients: p99 ≤ 25 ms and ratio ≤ 1.5 — **${verdict}** (p99 ${ms(at16?.submit.p99 ?? Number.NaN)} ms, ratio ${ratio16.toFixed(2)}).`,
    );
  } finally {
    dynamo.destroy();
    await runtime.stop();
  }
}

await main();
