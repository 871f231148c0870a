import { parseArgs } from 'node:util';
import { ConfigError } from '#core/config.ts';
import { loadLocalConfig } from './config.ts';
import { type LocalRuntime, startLocalRuntime } from './runtime.ts';
import { StartError } from './start-error.ts';

/**
 * `npm start`: the whole of Libra in this process. Options: --port (or PORT, default 8080),
 * --host (default 127.0.0.1), --data DIR to keep the table between runs.
 */
const USAGE = 'usage: npm start -- [--port N] [--host ADDR] [--data DIR]';

async function main(): Promise<LocalRuntime | undefined> {
  let values: { port?: string; host?: string; data?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const portText = values.port ?? process.env.PORT ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) {
    console.error(`--port must be a port number, got "${portText}"\n${USAGE}`);
    process.exit(2);
  }

  const config = await loadLocalConfig();
  const runtime = await startLocalRuntime({
    config,
    port,
    ...(values.host !== undefined && { host: values.host }),
    ...(values.data !== undefined && { dataDir: values.data }),
    logLevel: (process.env.LOG_LEVEL?.toUpperCase() as 'INFO' | undefined) ?? 'INFO',
  });
  if (runtime.webhookSecretGenerated) {
    // Receivers need it to check signatures; set LIBRA_WEBHOOK_SECRET to keep one across restarts.
    console.log(
      `Webhook signing secret (generated; set LIBRA_WEBHOOK_SECRET to choose it): ${runtime.webhookSecret}`,
    );
  }
  console.log(
    `Libra is listening on ${runtime.url} (DynamoDB ${runtime.dynamoEndpoint}, ${values.data ? `data in ${values.data}` : 'in memory'}; pools: ${Object.keys(config.pools).join(', ')})`,
  );
  return runtime;
}

/**
 * Stops like a service: SIGTERM, SIGINT (Ctrl-C) or SIGHUP — or, when npm runs it, npm going away
 * — stops the server and every run the engine started, and the process exits. A signal during
 * start stops it as soon as it has started. Past STOP_DEADLINE_MS the process exits anyway, and
 * the engine kills whatever run is left as it exits.
 */
const STOP_DEADLINE_MS = 4_500;
let stopRequested: string | undefined;
let started: LocalRuntime | undefined;

function stop(reason: string): void {
  if (stopRequested !== undefined) return;
  stopRequested = reason;
  console.log(`${reason}: stopping`);
  setTimeout(() => {
    console.error(`libra: the stop took longer than ${STOP_DEADLINE_MS / 1000} s; exiting now`);
    process.exit(1);
  }, STOP_DEADLINE_MS).unref();
  if (started) finish(started);
}

function finish(runtime: LocalRuntime): void {
  runtime.stop().then(
    () => {
      console.log('stopped');
      process.exit(0);
    },
    (error: unknown) => {
      console.error('libra: the stop failed:', error);
      process.exit(1);
    },
  );
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
// Under `npm start`, npm is the parent: npm passes SIGINT and SIGTERM on, but once it is gone
// (killed, or exited after passing a signal on) nothing would stop an orphaned runtime.
if (process.env.npm_lifecycle_event === 'start') {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop('npm exited');
  }, 500).unref();
}

main().then(
  (runtime) => {
    if (runtime === undefined) return;
    started = runtime;
    if (stopRequested !== undefined) finish(runtime);
  },
  (error: unknown) => {
    // What the user can act on is one line; anything else is a bug, and its stack is wanted.
    if (error instanceof ConfigError || error instanceof StartError) console.error(`libra: ${error.message}`);
    else console.error(error);
    process.exit(1);
  },
);
