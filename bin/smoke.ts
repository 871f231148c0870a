import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { runSmoke } from './smoke/checks.ts';
import { type Auth, describeAnswer, LibraClient } from './smoke/client.ts';
import { parseSmokeArgs, type SmokeCommand, USAGE, UsageError } from './smoke/options.ts';
import { startWebhookReceiver, type WebhookReceiver } from './smoke/receiver.ts';
import { formatTable } from './smoke/table.ts';

/**
 * `npm run smoke -- --endpoint URL …`: checks a running Libra — deployed or local — end to end
 * and prints a pass/fail table. Exit 0 when every check passed, 1 when one failed, 2 when the
 * smoke could not run at all (bad options, no credentials, no port for the receiver), 130 when
 * interrupted (after cancelling its jobs).
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
  const client = new LibraClient({ endpoint: command.endpoint, auth });
  const submitted: string[] = [];
  let interruption: Promise<never> | undefined;
  process.once('SIGINT', () => {
    interruption = interrupted(client, submitted);
  });
  try {
    const rows = await runSmoke({
      client,
      timeoutMs: command.timeoutMs,
      ...(command.pool !== undefined && { pool: command.pool }),
      ...(receiver && { receiver }),
      progress: (line) => console.error(`  ${line}`),
      submitted: (jobId) => submitted.push(jobId),
    });
    // Ctrl-C: its cancels end the jobs the checks wait on, so the checks may finish first; their
    // table is not the smoke's result, and the interruption exits 130.
    if (interruption) return await interruption;
    console.log(formatTable(rows));
    return rows.some((row) => row.outcome === 'FAIL') ? 1 : 0;
  } finally {
    await receiver?.close();
  }
}

/**
 * Ctrl-C: the smoke's jobs are cancelled rather than left running (deployed, each is an EMR run),
 * and it exits 130 with no table.
 */
async function interrupted(client: LibraClient, jobs: readonly string[]): Promise<never> {
  console.error('libra smoke: interrupted; cancelling the jobs it submitted');
  await Promise.all(
    jobs.map(async (jobId) => {
      const said = await client.request('DELETE', `/api/v1/spark/jobs/${jobId}`).then(
        (answer) =>
          answer.status === 409
            ? 'had already ended'
            : answer.status < 300
              ? answer.body?.status
              : describeAnswer(answer),
        (error: unknown) => (error as Error).message,
      );
      console.error(`  ${jobId}: ${said}`);
    }),
  );
  process.exit(130);
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
