import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type JobMove,
  type JobRequestInput,
  type JobStatus,
  LibraApiError,
  LibraClient,
  LibraConnectionError,
  type RerunOverrides,
  type StatusView,
} from '../client/index.ts';
import { readDriverLog, type Stream } from './cli/logs.ts';
import { EXIT, type Invocation, parseCommandLine, USAGE, UsageError, type Values } from './cli/options.ts';
import { liveProgress, plainProgress } from './cli/progress.ts';
import { endLines, eventsTable, listTable, poolsText, statusText, usageTable } from './cli/render.ts';

/**
 * `libra`: the Libra API from a shell. Submits jobs and follows them to their end with live
 * progress, lists and inspects them, and prints the API's own JSON with `--json`. Every failure
 * is one line on stderr and an exit code (`libra --help` lists them); never a stack trace.
 */

const OPENAPI_FILE = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));

interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly tty: boolean;
  readonly columns: number | undefined;
}

const io: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  tty: process.stdout.isTTY === true,
  columns: process.stdout.columns,
};

const FINAL_EXIT: Partial<Record<JobStatus, number>> = {
  SUCCEEDED: EXIT.ok,
  FAILED: EXIT.failed,
  TIMEOUT: EXIT.timeout,
  CANCELLED: EXIT.cancelled,
};

async function main(argv: readonly string[]): Promise<number> {
  const invocation = parseCommandLine(argv, process.env);
  if (invocation === 'help') {
    io.out(`${USAGE}\n`);
    return EXIT.ok;
  }
  const { values, args } = invocation;
  const client = clientOf(invocation);
  const json = values.json === true;
  const print = (answer: unknown, human: () => string) =>
    io.out(`${json ? JSON.stringify(answer) : human()}\n`);
  const jobId = args[0] ?? '';
  switch (invocation.command) {
    case 'submit': {
      const request = requestOf(args[0], values);
      const key = values['idempotency-key'] as string | undefined;
      const submitted = await client.submit(request, { ...(key !== undefined && { idempotencyKey: key }) });
      if (!values.wait) {
        print(submitted, () => submitted.jobId);
        if (!json && process.stderr.isTTY)
          io.err(`${submitted.status}; follow it with: libra wait ${submitted.jobId}\n`);
        return EXIT.ok;
      }
      if (!json) io.out(`${submitted.jobId}\n`);
      return waitFor(client, submitted.jobId, values);
    }
    case 'rerun': {
      const key = values['idempotency-key'] as string | undefined;
      const rerun = await client.rerun(jobId, overridesOf(values), {
        ...(key !== undefined && { idempotencyKey: key }),
      });
      if (!values.wait) {
        print(rerun, () => rerun.jobId);
        if (!json && process.stderr.isTTY)
          io.err(
            `${rerun.status}, a re-run of ${rerun.rerunOf}; follow it with: libra wait ${rerun.jobId}\n`,
          );
        return EXIT.ok;
      }
      if (!json) io.out(`${rerun.jobId}\n`);
      return waitFor(client, rerun.jobId, values);
    }
    case 'wait':
      return waitFor(client, jobId, values);
    case 'status': {
      const job = await client.status(jobId);
      print(job, () => statusText(job));
      return EXIT.ok;
    }
    case 'list':
      return list(client, values);
    case 'events': {
      const answer = await client.events(jobId);
      print(answer, () => eventsTable(answer.events));
      return EXIT.ok;
    }
    case 'logs': {
      const stream: Stream = values.stderr ? 'stderr' : 'stdout';
      io.out(await logsOf(client, await client.status(jobId), stream));
      return EXIT.ok;
    }
    case 'cancel': {
      const answer = await client.cancel(jobId);
      print(answer, () => `${answer.jobId} ${answer.status}: ${answer.message}`);
      return EXIT.ok;
    }
    case 'pools': {
      const answer = await client.pools();
      print(answer, () => poolsText(answer.pools));
      return EXIT.ok;
    }
    case 'usage': {
      const groupBy = values['group-by'] as string | undefined;
      if (groupBy !== undefined && !['owner', 'pool', 'tag'].includes(groupBy)) {
        throw new UsageError(`--group-by is owner, pool or tag, not '${groupBy}'`);
      }
      const answer = await client.usage({
        ...(values.from !== undefined && { from: values.from as string }),
        ...(values.to !== undefined && { to: values.to as string }),
        ...(groupBy !== undefined && { groupBy: groupBy as 'owner' | 'pool' | 'tag' }),
        ...(values.mine === true && { scope: 'own' }),
      });
      print(answer, () => usageTable(answer));
      return EXIT.ok;
    }
    case 'openapi': {
      if (!values.remote && existsSync(OPENAPI_FILE)) io.out(readFileSync(OPENAPI_FILE, 'utf8'));
      else io.out(`${JSON.stringify(await client.openapi(), null, 2)}\n`);
      return EXIT.ok;
    }
  }
}

function clientOf(invocation: Invocation): LibraClient {
  try {
    return new LibraClient({ endpoint: invocation.connection.endpoint, auth: invocation.connection.auth });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Follows a job to its end: the exit code says how it ended. */
async function waitFor(client: LibraClient, jobId: string, values: Values): Promise<number> {
  const json = values.json === true;
  const progress = json
    ? undefined
    : io.tty
      ? liveProgress({ write: io.out, columns: io.columns }, jobId)
      : plainProgress(io.out);
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort(new Error('interrupted'));
  process.on('SIGINT', onSigint);
  let last: JobMove | undefined;
  try {
    for await (const move of client.waitFor(jobId, {
      intervalMs: intervalOf(values),
      signal: interrupt.signal,
    })) {
      last = move;
      progress?.move(move);
    }
  } catch (error) {
    if (!interrupt.signal.aborted) throw error;
    progress?.stop();
    const status = last ? ` ${last.status}` : '';
    io.err(
      `libra: stopped waiting; ${jobId} is left as it is${status}.\n` +
        `  follow it again: libra wait ${jobId}\n  cancel it:       libra cancel ${jobId}\n`,
    );
    return EXIT.interrupted;
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (!last) throw new LibraConnectionError(`${jobId}: the wait ended without a final status`);
  const job = last.job;
  if (json) io.out(`${JSON.stringify(job)}\n`);
  else for (const line of endLines(job)) io.out(`${line}\n`);
  if (values.logs && !json) {
    for (const stream of ['stdout', 'stderr'] as const) {
      const text = await logsOf(client, job, stream).catch(
        (error: unknown) => `(${(error as Error).message})\n`,
      );
      io.out(`--- ${stream} ---\n${text}${text.endsWith('\n') || text === '' ? '' : '\n'}`);
    }
  }
  return FINAL_EXIT[job.status] ?? EXIT.connection;
}

function intervalOf(values: Values): number {
  const text = values.interval as string | undefined;
  if (text === undefined) return 1_000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError('--interval: seconds, more than 0');
  return seconds * 1000;
}

async function list(client: LibraClient, values: Values): Promise<number> {
  const limit = values.limit as string | undefined;
  if (limit !== undefined && !/^\d+$/.test(limit)) throw new UsageError('--limit: a whole number');
  const query = {
    ...(values.status !== undefined && { status: String(values.status).toUpperCase() as JobStatus }),
    ...(values.pool !== undefined && { pool: values.pool as string }),
    ...(values.tag !== undefined && { tag: values.tag as string }),
    ...(limit !== undefined && { limit: Number(limit) }),
    ...(values['next-token'] !== undefined && { nextToken: values['next-token'] as string }),
  };
  const json = values.json === true;
  if (!values.all) {
    const page = await client.list(query);
    if (json) io.out(`${JSON.stringify(page)}\n`);
    else {
      io.out(`${listTable(page.jobs)}\n`);
      if (page.nextToken) io.err(`more: libra list --all, or --next-token ${page.nextToken}\n`);
    }
    return EXIT.ok;
  }
  // --all: each page as the API answered it (one JSON document a line), or one table.
  const jobs = [];
  for await (const page of client.pages(query)) {
    if (json) io.out(`${JSON.stringify(page)}\n`);
    else jobs.push(...page.jobs);
  }
  if (!json) io.out(`${listTable(jobs)}\n`);
  return EXIT.ok;
}

/** The run's stdout or stderr: through the API's own link locally, from the Spark logs in S3 when deployed. */
async function logsOf(client: LibraClient, job: StatusView, stream: Stream): Promise<string> {
  const link = job.links?.[stream];
  if (link !== undefined) return client.fetchLink(link);
  const logs = job.links?.logs;
  if (logs?.startsWith('s3://')) {
    const { S3Client } = await import('@aws-sdk/client-s3');
    const text = await readDriverLog(new S3Client({}), logs, stream);
    if (text !== undefined) return text;
    throw new LibraConnectionError(`${job.jobId}: no driver ${stream} under ${logs} yet`);
  }
  throw new UsageError(`${job.jobId} has no ${stream} yet (${job.status})`);
}

/** The job request the submit flags describe. */
function requestOf(source: string | undefined, values: Values): JobRequestInput {
  const sql = values.sql as string | undefined;
  const python = values.python as string | undefined;
  const given = [source, sql, python].filter((value) => value !== undefined);
  if (given.length !== 1) {
    throw new UsageError(
      given.length === 0
        ? 'submit needs what to run: FILE.sql, FILE.py, s3://…, --sql TEXT or --python TEXT'
        : 'submit takes one of FILE, s3://…, --sql and --python',
    );
  }
  let body: Record<string, unknown>;
  if (sql !== undefined) body = { code: sql, kind: 'sql' };
  else if (python !== undefined) body = { code: python, kind: 'python' };
  else if (source?.startsWith('s3://')) body = { entryPoint: source };
  else {
    const kind = { '.sql': 'sql', '.py': 'python' }[extname(source ?? '').toLowerCase()];
    if (!kind) throw new UsageError(`${source}: a .sql or .py file, or an s3:// URI`);
    let code: string;
    try {
      code = readFileSync(source as string, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    body = { code, kind };
  }
  const args = values.arg as string[] | undefined;
  const mainClass = values['main-class'] as string | undefined;
  if ((args !== undefined || mainClass !== undefined) && body.entryPoint === undefined) {
    throw new UsageError('--arg and --main-class go with an s3:// entry point');
  }
  if (args !== undefined) body.entryPointArguments = args;
  if (mainClass !== undefined) body.mainClass = mainClass;

  Object.assign(body, overridesOf(values));
  if (values.pool !== undefined) body.pool = values.pool;
  if (values.mode !== undefined) body.executionMode = values.mode;
  if (values['warn-after'] !== undefined)
    body.warnAfterMinutes = minutesOf(String(values['warn-after']), '--warn-after');
  if (values['retry-on-timeout']) body.retryOnTimeout = true;
  const events = (values.events as string[] | undefined)?.flatMap((value) =>
    value.split(',').map((event) => event.trim().toUpperCase()),
  );
  if (values.webhook !== undefined) {
    body.notifications = { webhook: values.webhook, ...(events !== undefined && { events }) };
  } else if (events !== undefined) {
    throw new UsageError('--events goes with --webhook URL');
  }
  return body as JobRequestInput;
}

/** What the flags a submit and a re-run share say: conf, tags, priority, name, timeout, retries. */
function overridesOf(values: Values): RerunOverrides {
  const body: Record<string, unknown> = {};
  const conf = pairs(values.conf, '--conf');
  if (conf) body.sparkConf = conf;
  const tags = pairs(values.tag, '--tag');
  if (tags) body.tags = tags;
  if (values.priority !== undefined) body.priority = numberOf(values.priority, '--priority');
  if (values.name !== undefined) body.name = values.name;
  if (values.timeout !== undefined) body.timeoutMinutes = minutesOf(String(values.timeout));
  const retry: Record<string, number> = {};
  if (values.retries !== undefined) retry.maxRetries = numberOf(values.retries, '--retries');
  if (values.backoff !== undefined) retry.backoffMultiplier = numberOf(values.backoff, '--backoff');
  if (values['retry-delay'] !== undefined)
    retry.initialDelaySeconds = numberOf(values['retry-delay'], '--retry-delay');
  if (values['max-retry-delay'] !== undefined)
    retry.maxDelaySeconds = numberOf(values['max-retry-delay'], '--max-retry-delay');
  if (Object.keys(retry).length > 0) body.retryPolicy = retry;
  return body as RerunOverrides;
}

function pairs(value: Values[string], flag: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const result: Record<string, string> = {};
  for (const pair of value as string[]) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} ${pair}: write KEY=VALUE`);
    result[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return result;
}

function numberOf(value: Values[string], flag: string): number {
  const number = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(number)) {
    throw new UsageError(`${flag}: '${value}' is not a number`);
  }
  return number;
}

function minutesOf(text: string, flag = '--timeout'): number {
  const match = /^(\d+(?:\.\d+)?)(m|min|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${flag}: '${text}' is not minutes (90, 90m or 2h)`);
  const amount = Number(match[1]);
  return match[2] === 'h' ? amount * 60 : amount;
}

/** An error as its one line and exit code. */
function failure(error: unknown): [string, number] {
  if (error instanceof UsageError) return [error.message, EXIT.usage];
  if (error instanceof LibraApiError)
    return [error.message, error.status < 500 ? EXIT.usage : EXIT.connection];
  if (error instanceof LibraConnectionError) return [error.message, EXIT.connection];
  const failed = error as Error;
  if (failed?.name === 'CredentialsProviderError') {
    return [`no AWS credentials found (${failed.message.split('\n')[0]})`, EXIT.usage];
  }
  return [failed?.message?.split('\n')[0] ?? String(error), EXIT.connection];
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const [message, code] = failure(error);
    io.err(`libra: ${message}\n`);
    process.exitCode = code;
  },
);
