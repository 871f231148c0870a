import { parseArgs } from 'node:util';
import { ConfigError } from '#core/config.ts';
import { loadLocalConfig } from './config.ts';
import { startLocalRuntime } from './runtime.ts';

/**
 * `npm start`: the whole of Libra in this process. Options: --port (or PORT, default 8080),
 * --host (default 127.0.0.1), --data DIR to keep the table between runs.
 */
const USAGE = 'usage: npm start -- [--port N] [--host ADDR] [--data DIR]';

async function main(): Promise<void> {
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
    return;
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

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    await runtime.stop();
    console.log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error(error);
  process.exit(1);
});
