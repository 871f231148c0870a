import os from 'node:os';
import { BatchWriteCommand, type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { eventItem, jobItem } from '#adapters/dynamo-job-store.ts';
import { DynamoPoolStore, queueCounterNames } from '#adapters/dynamo-pool-store.ts';
import { documentClient } from '#adapters/table-stores.ts';
import { parseConfig } from '#core/config.ts';
import type { JobEvent, JobRecord } from '#core/job-record.ts';
import { newJobId } from '#core/job-record.ts';
import { EXACT_QUEUE_POSITIONS } from '#core/queue-position.ts';
import { localDynamoDBClient } from '../local/dynamodb.ts';
import { LOCAL_TABLE_NAME, type LocalRuntime, startLocalRuntime } from '../local/runtime.ts';
import { machineLine, ms, percentile, sourceVersion, writeBenchmarkSection } from './support.ts';

/**
 * Reads as the queue and the history grow (issue 10, point 6): GET status of a queued and of a
 * finished job, GET events, and the list (plain, by status, by tag), over 1,000 jobs waiting in one
 * pool and 1,000 finished, and over 100,000 waiting in one pool and 100,000 finished. Target: each
 * read at 100,000 within 1.2× of the same read at 1,000. Also counted: DynamoDB requests and read
 * capacity per read, and the table's memory per job. The method is written out in
 * docs/benchmarks.md (see below).
 */

const SMALL = Number(process.env.BENCH_SCALE_SMALL ?? 1_000);
const LARGE = Number(process.env.BENCH_SCALE_LARGE ?? 100_000);
const SAMPLES = Number(process.env.BENCH_SCALE_SAMPLES ?? 1000);
const WARMUP = 50;
const TARGET_RATIO = 1.2;
/** Waiting jobs' priorities, in turn: every priority's counters take part in the estimate. */
const PRIORITIES = [5, 9, 1, 5, 3] as const;
/** The last job of this priority is last in the queue: the deepest position. */
const LOWEST = 1;
/** The highest priority's jobs come first: its n-th is at position n. */
const HIGHEST = 9;
const TAGS = 10;
const BATCH = 25;
const LOADERS = 4;

const pool = (jobs: number) => ({
  // One slot, held by the first job for the whole run (its workflow never ends): nothing
  // loaded is ever admitted, whatever wakes the pool.
  cpuCores: 32,
  memoryGb: 64,
  maxConcurrentJobs: 1,
  maxQueueSize: jobs + 10,
  maxWaitMinutes: 24 * 60,
});
const config = parseConfig({ pools: { small: pool(SMALL), large: pool(LARGE) } });

const submitBody = (poolName: string) =>
  JSON.stringify({
    code: 'SELECT COUNT(*) FROM range(1000)',
    kind: 'sql',
    pool: poolName,
    priority: 5,
    name: 'bench-scale',
    tags: { team: 't0' },
    sparkConf: {
      'spark.executor.instances': '2',
      'spark.executor.cores': '1',
      'spark.executor.memory': '1g',
    },
  });

/** One millisecond per job written, from an hour ago: submit order is time order, all of it in the past. */
let clock = Date.now() - 3_600_000;
const nextInstant = () => new Date(clock++).toISOString();
let eventSequence = 0;
const retentionSeconds = config.retention.days * 86_400;

async function writeItems(
  client: DynamoDBDocumentClient,
  items: readonly Record<string, unknown>[],
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: LOADERS }, async () => {
      while (next < items.length) {
        let batch = items.slice(next, next + BATCH).map((Item) => ({ PutRequest: { Item } }));
        next += BATCH;
        while (batch.length > 0) {
          const { UnprocessedItems } = await client.send(
            new BatchWriteCommand({ RequestItems: { [LOCAL_TABLE_NAME]: batch } }),
          );
          batch = (UnprocessedItems?.[LOCAL_TABLE_NAME] ?? []) as typeof batch;
        }
      }
    }),
  );
}

/** A copy of the template record as a new job of `owner`, submitted now. */
function copyOf(template: JobRecord, owner: string, i: number, priority: number): JobRecord {
  const at = nextInstant();
  const { scheduledAt: _s, startedAt: _r, completedAt: _c, queueSeq: _q, ...rest } = template;
  return {
    ...rest,
    jobId: newJobId(),
    owner,
    status: 'QUEUED',
    priority,
    tags: { team: `t${i % TAGS}` },
    attempts: 0,
    submittedAt: at,
    queuedAt: at,
    updatedAt: at,
  };
}

interface Loaded {
  /** The last job of the queue, and one at position EXACT_QUEUE_POSITIONS / 2. */
  readonly lastQueued: string;
  readonly headQueued: string;
  readonly lastFinished: string;
  /** Bytes of the items written, as JSON. */
  readonly itemBytes: number;
}

/**
 * `count` jobs waiting in the template's pool, owned by `owner`, as their submits would have
 * written them (the store's own jobItem), and the pool item's counters as those submits would
 * have left them (DynamoPoolStore.reserveQueueSlot).
 */
async function loadQueue(
  client: DynamoDBDocumentClient,
  template: JobRecord,
  owner: string,
  count: number,
): Promise<Pick<Loaded, 'lastQueued' | 'headQueued' | 'itemBytes'>> {
  const pools = new DynamoPoolStore({ client, tableName: LOCAL_TABLE_NAME });
  const { queue, waiting } = await pools.getPool(template.pool);
  const seq = new Map(Object.entries(queue.seq).map(([p, v]) => [Number(p), v]));
  const items: Record<string, unknown>[] = [];
  let lastQueued = '';
  let headQueued = '';
  for (let i = 0; i < count; i++) {
    const priority = PRIORITIES[i % PRIORITIES.length] as number;
    const queueSeq = (seq.get(priority) ?? 0) + 1;
    seq.set(priority, queueSeq);
    const job: JobRecord = { ...copyOf(template, owner, i, priority), queueSeq };
    items.push(jobItem(job, retentionSeconds));
    if (priority === LOWEST) lastQueued = job.jobId;
    if (priority === HIGHEST && queueSeq === EXACT_QUEUE_POSITIONS / 2) headQueued = job.jobId;
  }
  if (!headQueued) throw new Error('the queue is too short for a job in the middle of the counted head');
  await writeItems(client, items);
  const names: Record<string, string> = {};
  const values: Record<string, number> = { ':n': count };
  const sets = ['waiting = waiting + :n', 'reserved = reserved + :n'];
  for (const [priority, value] of seq) {
    names[`#s${priority}`] = queueCounterNames(priority).seq;
    values[`:s${priority}`] = value;
    sets.push(`#s${priority} = :s${priority}`);
  }
  await client.send(
    new UpdateCommand({
      TableName: LOCAL_TABLE_NAME,
      Key: { pk: `POOL#${template.pool}`, sk: 'POOL' },
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: 'waiting = :before',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ...values, ':before': waiting },
    }),
  );
  return { lastQueued, headQueued, itemBytes: sum(items.map((item) => JSON.stringify(item).length)) };
}

/** `count` finished jobs of `owner` as their runs leave them: four in five SUCCEEDED, one FAILED, each with its three moves' history items. */
async function loadHistory(
  client: DynamoDBDocumentClient,
  template: JobRecord,
  owner: string,
  count: number,
): Promise<Pick<Loaded, 'lastFinished' | 'itemBytes'>> {
  const items: Record<string, unknown>[] = [];
  let lastFinished = '';
  for (let i = 0; i < count; i++) {
    const queued = copyOf(template, owner, i, 5);
    const [scheduledAt, startedAt, completedAt] = [nextInstant(), nextInstant(), nextInstant()];
    const status = i % 5 === 4 ? 'FAILED' : 'SUCCEEDED';
    const reason =
      status === 'FAILED' ? { code: 'SPARK_JOB_FAILED' as const, message: 'the run failed' } : undefined;
    const job: JobRecord = {
      ...queued,
      status,
      attempts: 1,
      scheduledAt,
      startedAt,
      completedAt,
      updatedAt: completedAt,
      ...(reason && { reason }),
    };
    items.push(jobItem(job, retentionSeconds));
    const moves: JobEvent[] = [
      { jobId: job.jobId, at: scheduledAt, type: 'STATUS', status: 'SCHEDULED', from: 'QUEUED' },
      { jobId: job.jobId, at: startedAt, type: 'STATUS', status: 'RUNNING', from: 'SCHEDULED' },
      {
        jobId: job.jobId,
        at: completedAt,
        type: 'STATUS',
        status,
        from: 'RUNNING',
        ...(reason && { reason }),
      },
    ];
    for (const move of moves) {
      eventSequence = (eventSequence + 1) % 1_000_000;
      items.push(eventItem(move, eventSequence, retentionSeconds));
    }
    lastFinished = job.jobId;
  }
  await writeItems(client, items);
  return { lastFinished, itemBytes: sum(items.map((item) => JSON.stringify(item).length)) };
}

interface Read {
  readonly name: string;
  readonly owner: 'queue' | 'history';
  readonly path: (loaded: Loaded) => string;
}

const READS: readonly Read[] = [
  {
    name: 'status, last queued job (estimated)',
    owner: 'queue',
    path: (l) => `/api/v1/spark/jobs/${l.lastQueued}`,
  },
  {
    name: `status, queued job at position ${EXACT_QUEUE_POSITIONS / 2} (counted)`,
    owner: 'queue',
    path: (l) => `/api/v1/spark/jobs/${l.headQueued}`,
  },
  { name: 'status, finished job', owner: 'history', path: (l) => `/api/v1/spark/jobs/${l.lastFinished}` },
  {
    name: 'events, finished job',
    owner: 'history',
    path: (l) => `/api/v1/spark/jobs/${l.lastFinished}/events`,
  },
  { name: 'list, queue owner', owner: 'queue', path: () => '/api/v1/spark/jobs' },
  { name: 'list status=QUEUED, queue owner', owner: 'queue', path: () => '/api/v1/spark/jobs?status=QUEUED' },
  { name: 'list tag team=t3, queue owner', owner: 'queue', path: () => '/api/v1/spark/jobs?tag=team%3Dt3' },
  { name: 'list, history owner', owner: 'history', path: () => '/api/v1/spark/jobs' },
  {
    name: 'list status=FAILED, history owner',
    owner: 'history',
    path: () => '/api/v1/spark/jobs?status=FAILED',
  },
  {
    name: 'list tag team=t3, history owner',
    owner: 'history',
    path: () => '/api/v1/spark/jobs?tag=team%3Dt3',
  },
];

interface Side {
  readonly label: string;
  readonly loaded: Loaded;
  readonly owners: Readonly<Record<Read['owner'], string>>;
}

interface ReadResult {
  readonly p50: number;
  readonly p99: number;
  /** DynamoDB requests and read capacity units per read, by the runtime's own clients. */
  readonly requests: number;
  readonly capacity: number;
  readonly sample: unknown;
}

/**
 * The read on each side, `SAMPLES` times, the sides taking turns (which goes first rotates):
 * whatever else the machine does at a moment falls on all of them alike.
 */
async function measurePaired(
  runtime: LocalRuntime,
  read: Read,
  sides: readonly Side[],
): Promise<ReadResult[]> {
  const get = async (side: Side) => {
    const response = await fetch(`${runtime.url}${read.path(side.loaded)}`, {
      headers: { 'x-libra-user': side.owners[read.owner] },
    });
    const answer = (await response.json()) as unknown;
    if (response.status !== 200)
      throw new Error(`${read.name} answered ${response.status}: ${JSON.stringify(answer)}`);
    return answer;
  };
  for (let i = 0; i < WARMUP; i++) for (const side of sides) await get(side);
  const latencies = sides.map(() => [] as number[]);
  const usage = sides.map(() => ({ requests: 0, capacity: 0 }));
  const samples: unknown[] = sides.map(() => undefined);
  for (let i = 0; i < SAMPLES; i++) {
    for (let k = 0; k < sides.length; k++) {
      const index = (i + k) % sides.length;
      runtime.usage.reset();
      const t0 = performance.now();
      samples[index] = await get(sides[index] as Side);
      latencies[index]?.push(performance.now() - t0);
      for (const entry of runtime.usage.dynamodb.values()) {
        (usage[index] as { requests: number }).requests += entry.requests;
        (usage[index] as { capacity: number }).capacity += entry.capacityUnits;
      }
    }
  }
  return sides.map((_, index) => {
    const sorted = (latencies[index] as number[]).sort((a, b) => a - b);
    return {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      requests: (usage[index]?.requests ?? 0) / SAMPLES,
      capacity: (usage[index]?.capacity ?? 0) / SAMPLES,
      sample: samples[index],
    };
  });
}

/** Resident memory of the process (dynalite's thread and the runtime), after a collection of the main heap. */
async function rssAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:scale does)');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return process.memoryUsage.rss();
}

/** Submits one job to the pool over HTTP and waits until it holds the pool's one slot; its record is the template. */
async function holdPool(
  runtime: LocalRuntime,
  client: DynamoDBDocumentClient,
  poolName: string,
  owner: string,
): Promise<JobRecord> {
  const response = await fetch(`${runtime.url}/api/v1/spark/jobs/submit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-libra-user': owner },
    body: submitBody(poolName),
  });
  const { jobId } = (await response.json()) as { jobId: string };
  const pools = new DynamoPoolStore({ client, tableName: LOCAL_TABLE_NAME });
  for (let i = 0; i < 500; i++) {
    const job = await runtime.parts.jobs.getJob(jobId);
    if (job?.status === 'SCHEDULED' && (await pools.getPool(poolName)).waiting === 0) return job;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the first job of pool ${poolName} was not admitted`);
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

const seconds = (since: number) => (performance.now() - since) / 1000;
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const kib = (bytes: number) => (bytes / 1024).toFixed(1);
const fixed2 = (value: number) => value.toFixed(2);
const span = (values: readonly number[]) => `${fixed2(Math.min(...values))}–${fixed2(Math.max(...values))}`;
const met = (ok: boolean) => (ok ? 'met' : '**NOT met**');

interface QueueView {
  readonly queuePosition?: number;
  readonly queuePositionEstimated?: boolean;
}
const positionText = (view: unknown) => {
  const { queuePosition, queuePositionEstimated } = view as QueueView;
  return `${queuePosition}${queuePositionEstimated ? ' (estimated)' : ' (counted)'}`;
};

async function main(): Promise<void> {
  const load = os.loadavg()[0] ?? Number.NaN;
  const started = performance.now();
  const runtime = await startLocalRuntime({
    config,
    port: 0,
    logLevel: 'SILENT',
    tickSeconds: 3600,
    onWorkflowStart: () => {},
  });
  const client = localDynamoDBClient(runtime.dynamoEndpoint);
  const documents = documentClient(client);
  try {
    const owners = (size: string) => ({ queue: `bench-queue-${size}`, history: `bench-history-${size}` });
    const smallOwners = owners('small');
    const largeOwners = owners('large');
    const smallTemplate = await holdPool(runtime, documents, 'small', smallOwners.queue);
    const largeTemplate = await holdPool(runtime, documents, 'large', largeOwners.queue);
    const rssStart = await rssAfterGc();

    let t0 = performance.now();
    const smallQueue = await loadQueue(documents, smallTemplate, smallOwners.queue, SMALL);
    const smallHistory = await loadHistory(documents, smallTemplate, smallOwners.history, SMALL);
    const smallSeconds = seconds(t0);
    const small: Side = {
      label: SMALL.toLocaleString('en'),
      loaded: { ...smallQueue, ...smallHistory, itemBytes: smallQueue.itemBytes + smallHistory.itemBytes },
      owners: smallOwners,
    };
    const rssSmall = await rssAfterGc();
    // The small side alone, before the large data exists.
    const alone: ReadResult[] = [];
    for (const read of READS) {
      const [result] = await measurePaired(runtime, read, [small]);
      alone.push(result as ReadResult);
      console.log(
        `${read.name}, ${small.label} alone: p50 ${ms(result?.p50 ?? 0)} p99 ${ms(result?.p99 ?? 0)} ms`,
      );
    }

    t0 = performance.now();
    const largeQueue = await loadQueue(documents, largeTemplate, largeOwners.queue, LARGE);
    const queueSeconds = seconds(t0);
    const rssQueue = await rssAfterGc();
    t0 = performance.now();
    const largeHistory = await loadHistory(documents, largeTemplate, largeOwners.history, LARGE);
    const historySeconds = seconds(t0);
    const rssAll = await rssAfterGc();
    const large: Side = {
      label: LARGE.toLocaleString('en'),
      loaded: { ...largeQueue, ...largeHistory, itemBytes: largeQueue.itemBytes + largeHistory.itemBytes },
      owners: largeOwners,
    };
    console.log(
      `loaded ${small.label} + ${small.label} in ${smallSeconds.toFixed(0)} s, ${large.label} waiting in ${queueSeconds.toFixed(0)} s, ${large.label} finished in ${historySeconds.toFixed(0)} s; RSS ${mib(rssStart)} → ${mib(rssSmall)} → ${mib(rssQueue)} → ${mib(rssAll)} MiB`,
    );

    const rows: { read: Read; alone: ReadResult; small: ReadResult; large: ReadResult; again: ReadResult }[] =
      [];
    for (const [i, read] of READS.entries()) {
      // The small side twice over: the two are the same read, so their ratio is what noise alone gives.
      const [s1, l1, s2] = (await measurePaired(runtime, read, [small, large, small])) as [
        ReadResult,
        ReadResult,
        ReadResult,
      ];
      rows.push({ read, alone: alone[i] as ReadResult, small: s1, large: l1, again: s2 });
      console.log(
        `${read.name}: ${small.label} p50 ${ms(s1.p50)} p99 ${ms(s1.p99)} ms, ${s1.requests.toFixed(2)} requests; ${large.label} p50 ${ms(l1.p50)} p99 ${ms(l1.p99)} ms, ${l1.requests.toFixed(2)} requests; ratio p50 ${fixed2(l1.p50 / s1.p50)} p99 ${fixed2(l1.p99 / s1.p99)}`,
      );
    }
    const totalSeconds = seconds(started);

    const worstP50 = Math.max(...rows.map((r) => r.large.p50 / r.small.p50));
    const worstP99 = Math.max(...rows.map((r) => r.large.p99 / r.small.p99));
    const noiseP50 = Math.max(
      ...rows.map((r) => Math.max(r.again.p50 / r.small.p50, r.small.p50 / r.again.p50)),
    );
    const noiseP99 = Math.max(
      ...rows.map((r) => Math.max(r.again.p99 / r.small.p99, r.small.p99 / r.again.p99)),
    );
    const sameCounts = rows.every(
      (r) => r.large.requests === r.small.requests && r.large.capacity === r.small.capacity,
    );
    const perWaiting = (rssQueue - rssSmall) / LARGE;
    const perFinished = (rssAll - rssQueue) / LARGE;
    const table = rows
      .map(
        (r) =>
          `| ${r.read.name} | ${ms(r.alone.p50)} / ${ms(r.alone.p99)} | ${ms(r.small.p50)} / ${ms(r.small.p99)} | ${ms(r.large.p50)} / ${ms(r.large.p99)} | **${fixed2(r.large.p50 / r.small.p50)}** / **${fixed2(r.large.p99 / r.small.p99)}** | ${fixed2(r.again.p50 / r.small.p50)} / ${fixed2(r.again.p99 / r.small.p99)} | ${r.small.requests.toFixed(2)} / ${r.large.requests.toFixed(2)} | ${r.small.capacity.toFixed(1)} / ${r.large.capacity.toFixed(1)} |`,
      )
      .join('\n');
    const status = (i: number) => rows[i] as (typeof rows)[number];

    const markdown = `
## Reads as the queue and the history grow (\`npm run bench:scale\`)

Machine: ${machineLine()}; 1-minute load average ${load.toFixed(2)} at start; ${sourceVersion()}; run ${new Date().toISOString()}; ${totalSeconds.toFixed(0)} s in all.

**Method.** The local runtime (\`startLocalRuntime\`, as \`npm start\` runs it: dynalite in memory on its worker
thread, the HTTP API and the handlers) in the benchmark process, with two pools of one job slot each, each slot held
by a first job submitted over HTTP whose workflow never ends, and a tick of an hour: nothing loaded is ever admitted.
Jobs are loaded straight into dynalite with BatchWriteItem (25 items a request, ${LOADERS} at a time), every item built
by the store's own builders (\`jobItem\`, \`eventItem\` in \`lambdas/adapters/dynamo-job-store.ts\`) from a copy of
the pool's first job's record: waiting jobs (priorities ${PRIORITIES.join(', ')} in turn, tags \`team=t0\`…\`t9\`,
each with its \`queueSeq\`) and the pool item's counters as their submits would have left them (\`waiting\`,
\`reserved\`, \`queueSeq<p>\`); finished jobs (four in five SUCCEEDED, one in five FAILED with its reason), each with
the three history items of its moves. The small side: ${small.label} jobs waiting in pool \`small\` (owner
\`${smallOwners.queue}\`) and ${small.label} finished (owner \`${smallOwners.history}\`). The large side:
${large.label} waiting in pool \`large\` (owner \`${largeOwners.queue}\`) and ${large.label} finished (owner
\`${largeOwners.history}\`), loaded after the small side was measured alone. Each read is then made in turn on the small
side, the large side and the small side again (${WARMUP} unmeasured rounds, then ${SAMPLES}; which goes first rotates), one
request at a time over HTTP (keep-alive) from this process, so that whatever else the machine does falls on all three
alike: the **ratio** is large / small of the same read in the same minutes, and **noise** is the small side's second
series over its first — the same read, so whatever it shows besides 1.00 is the machine, not the data. "alone" is the small side measured before the large side was
loaded (the table then held ${(2 * SMALL).toLocaleString('en')} jobs, not ${(2 * SMALL + 2 * LARGE).toLocaleString('en')}). The queued job read is the
last in its queue (its position is the number waiting, past the counted head of ${EXACT_QUEUE_POSITIONS}, so
estimated) and one at position ${EXACT_QUEUE_POSITIONS / 2} (counted); the finished job is the newest. Lists are the
first page (20) of the owner's jobs. **Requests** are the DynamoDB requests the runtime's clients sent per read,
and **RCU** the read capacity dynalite reported for them (\`ReturnConsumedCapacity\`), from the runtime's usage meter
(\`local/usage.ts\`). Latencies in ms, p50 / p99.

| read | ${small.label}, alone | ${small.label}, in turn | ${large.label}, in turn | ratio p50 / p99 | noise: ${small.label} / ${small.label} p50 / p99 | requests per read, ${small.label} / ${large.label} | RCU per read, ${small.label} / ${large.label} |
|---|---:|---:|---:|---:|---:|---:|---:|
${table}

Positions the status reads answered: the last queued job ${positionText(status(0).small.sample)} of ${small.label} waiting,
${positionText(status(0).large.sample)} of ${large.label}; the job in the head ${positionText(status(1).small.sample)} and
${positionText(status(1).large.sample)}. DynamoDB requests per status read: a queued job past the counted head
${status(0).small.requests} / ${status(0).large.requests} (the job, the count of at most ${EXACT_QUEUE_POSITIONS} index entries
ahead, the pool item), in the head ${status(1).small.requests} / ${status(1).large.requests}, finished ${status(2).small.requests} / ${status(2).large.requests}.
The filtered lists make up to 10 queries a page (\`MAX_QUERIES_PER_PAGE\`), the same at both sizes.

**Reading.** Across the reads, large / small was ${span(rows.map((r) => r.large.p50 / r.small.p50))} at p50 and
${span(rows.map((r) => r.large.p99 / r.small.p99))} at p99; the same read measured twice gave
${span(rows.map((r) => r.again.p50 / r.small.p50))} and ${span(rows.map((r) => r.again.p99 / r.small.p99))}. A ratio inside the
spread of the same read measured twice is the machine's noise, not the table's size; the counts above are exact.

**Memory.** Resident memory of the process (dynalite's thread holds the table in memory) after a garbage
collection of the main thread's heap: ${mib(rssStart)} MiB before loading, ${mib(rssSmall)} MiB with the small side,
${mib(rssQueue)} MiB with ${large.label} more waiting, ${mib(rssAll)} MiB with ${large.label} more finished:
**${kib(perWaiting)} KiB per waiting job** (its item, its owner-index and waiting-index entries) and
**${kib(perFinished)} KiB per finished job** with its three history items. The items as JSON are
${kib(largeQueue.itemBytes / LARGE)} KiB per waiting job and ${kib(largeHistory.itemBytes / LARGE)} KiB per finished job with
its history: dynalite's in-memory store (memdown: each item and each index entry a string in a tree, and V8's
overhead) holds several times that, and dynalite's thread is not collected by the main thread's collection, so
these are upper bounds. Loading took ${smallSeconds.toFixed(0)} s (small side), ${queueSeconds.toFixed(0)} s (${large.label} waiting),
${historySeconds.toFixed(0)} s (${large.label} finished).

| target | result (worst read) | noise: the same read twice (worst read, either way) | |
|---|---|---|---|
| p50 at ${large.label} ≤ ${TARGET_RATIO} × at ${small.label} | ${fixed2(worstP50)} | ${fixed2(noiseP50)} | ${met(worstP50 <= TARGET_RATIO)} |
| p99 at ${large.label} ≤ ${TARGET_RATIO} × at ${small.label} | ${fixed2(worstP99)} | ${fixed2(noiseP99)} | ${met(worstP99 <= TARGET_RATIO)} |
| DynamoDB requests and RCU per read the same at both sizes | ${sameCounts ? 'the same for every read' : 'not the same'} | | ${met(sameCounts)} |
`;
    await writeBenchmarkSection('scale', markdown);
    console.log(
      `worst ratio p50 ${fixed2(worstP50)}, p99 ${fixed2(worstP99)} (noise alone: ${fixed2(noiseP50)}, ${fixed2(noiseP99)}); counts ${sameCounts ? 'the same' : 'differ'}; ${totalSeconds.toFixed(0)} s`,
    );
  } finally {
    client.destroy();
    await runtime.stop();
  }
}

await main();
