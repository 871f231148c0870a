import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { runSmoke } from './smoke/checks.ts';
import { type Auth, LibraClient } from './smoke/client.ts';
import { parseSmokeArgs, type SmokeCommand, USAGE, UsageError } from './smoke/options.ts';
import { startWebhookReceiver, type WebhookReceiver } from './smoke/receiver.ts';
import { formatTable } from './smoke/table.ts';

/**
 * `npm run smoke -- --endpoint URL …`: checks a running Libra — deployed or local — end to end
 * and prints a pass/fail table. Exit 0 when every check passed, 1 when one failed, 2 when the
 * smoke could not run at all (bad options, no credentials, no port for the receiver).
 */
async function main(): Promise<number> {
  let command: SmokeCommand | 'help';
  try {
    command = parseSmokeArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`libra smoke: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (command === 'help') {
    console.log(USAGE);
    return 0;
  }

  let auth: Auth;
  try {
    auth = await authOf(command);
  } catch (error) {
    console.error(`libra smoke: ${(error as Error).message}`);
    return 2;
  }
  let receiver: WebhookReceiver | undefined;
  if (command.receiver) {
    try {
      receiver = await startWebhookReceiver(command.receiver);
    } catch (error) {
      console.error(`libra smoke: ${(error as Error).message}`);
      return 2;
    }
  }
  console.error(
    `libra smoke: ${command.endpoint.href} (auth ${command.auth.mode}${receiver ? `, webhooks to ${receiver.url}` : ''})`,
  );
  try {
    const rows = await runSmoke({
      client: new LibraClient({ endpoint: command.endpoint, auth }),
      timeoutMs: command.timeoutMs,
      ...(command.pool !== undefined && { pool: command.pool }),
      ...(receiver && { receiver }),
      progress: (line) => console.error(`  ${line}`),
    });
    console.log(formatTable(rows));
    return rows.some((row) => row.outcome === 'FAIL') ? 1 : 0;
  } finally {
    await receiver?.close();
  }
}

/** The caller's credentials are resolved before any check, so that missing ones are said once. */
async function authOf(command: SmokeCommand): Promise<Auth> {
  const option = command.auth;
  if (option.mode !== 'iam') return option;
  const provider = defaultProvider();
  try {
    await provider();
  } catch (error) {
    throw new Error(`--auth iam: no AWS credentials found (${(error as Error).message.split('\n')[0]})`);
  }
  return { mode: 'iam', region: option.region, credentials: () => provider() };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`libra smoke: ${(error as Error).message?.split('\n')[0] ?? String(error)}`);
    process.exitCode = 2;
  },
);
