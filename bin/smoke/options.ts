import { parseArgs } from 'node:util';
import { isWebhookSecret } from '#adapters/webhook-sender.ts';
import { regionOfEndpoint } from '../../client/sigv4.ts';

export const USAGE =
  'usage: npm run smoke -- --endpoint URL [--auth iam|jwt|local] [--token T] [--region R] [--user NAME]\n' +
  '         [--pool NAME] [--timeout 15m] [--webhook-receiver local|URL [--webhook-listen [HOST:]PORT]]\n' +
  '         [--webhook-secret whsec_…]';

/** A command line the smoke cannot run with: said in one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type AuthOption =
  | { readonly mode: 'local'; readonly user: string }
  | { readonly mode: 'jwt'; readonly token: string }
  | { readonly mode: 'iam'; readonly region: string };

export interface ReceiverOption {
  readonly host: string;
  readonly port: number;
  /** The URL deliveries are sent to, when it is not the listening address (a tunnel or proxy to it). */
  readonly publicUrl?: string;
  readonly secret: string;
}

export interface SmokeCommand {
  readonly endpoint: URL;
  readonly auth: AuthOption;
  readonly pool?: string;
  readonly timeoutMs: number;
  readonly receiver?: ReceiverOption;
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;

/** The smoke's command line, and the environment it falls back on (`LIBRA_TOKEN`, `AWS_REGION`, `LIBRA_WEBHOOK_SECRET`). */
export function parseSmokeArgs(args: readonly string[], env: NodeJS.ProcessEnv): SmokeCommand | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        endpoint: { type: 'string' },
        auth: { type: 'string' },
        token: { type: 'string' },
        region: { type: 'string' },
        user: { type: 'string' },
        pool: { type: 'string' },
        timeout: { type: 'string' },
        'webhook-receiver': { type: 'string' },
        'webhook-listen': { type: 'string' },
        'webhook-secret': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const text = (name: string) => values[name] as string | undefined;

  const endpointText = text('endpoint');
  if (endpointText === undefined) throw new UsageError("--endpoint is required: the stack's ApiUrl output");
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw new UsageError(`--endpoint must be a URL, got "${endpointText}"`);
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:')
    throw new UsageError(`--endpoint must be an http(s) URL, got "${endpointText}"`);
  if (endpoint.search !== '' || endpoint.hash !== '')
    throw new UsageError("--endpoint must be the API's base URL, without a query or fragment");

  const timeoutText = text('timeout');
  const timeoutMs = timeoutText === undefined ? DEFAULT_TIMEOUT_MS : duration(timeoutText);
  const pool = text('pool');
  if (pool !== undefined && !/^[a-z0-9][a-z0-9-]{0,39}$/.test(pool))
    throw new UsageError(`--pool must be a pool name, got "${pool}"`);

  return {
    endpoint,
    auth: auth(text, endpoint, env),
    timeoutMs,
    ...(pool !== undefined && { pool }),
    ...receiver(text, env),
  };
}

function auth(text: (name: string) => string | undefined, endpoint: URL, env: NodeJS.ProcessEnv): AuthOption {
  const mode = text('auth') ?? (isLoopback(endpoint.hostname) ? 'local' : 'iam');
  switch (mode) {
    case 'local':
      return { mode, user: text('user') ?? 'libra-smoke' };
    case 'jwt': {
      const token = text('token') ?? env.LIBRA_TOKEN;
      if (!token) throw new UsageError('--auth jwt needs a token: --token T or LIBRA_TOKEN');
      return { mode, token };
    }
    case 'iam': {
      const region = text('region') ?? regionOfEndpoint(endpoint) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
      if (!region)
        throw new UsageError(
          `--auth iam needs the API's region: ${endpoint.hostname} does not name one; give --region R`,
        );
      return { mode, region };
    }
    default:
      throw new UsageError(`--auth must be iam, jwt or local, got "${mode}"`);
  }
}

function receiver(
  text: (name: string) => string | undefined,
  env: NodeJS.ProcessEnv,
): { receiver?: ReceiverOption } {
  const where = text('webhook-receiver');
  const listen = text('webhook-listen');
  if (where === undefined) {
    if (listen !== undefined) throw new UsageError('--webhook-listen goes with --webhook-receiver');
    return {};
  }
  const secret = text('webhook-secret') ?? env.LIBRA_WEBHOOK_SECRET;
  if (!secret)
    throw new UsageError(
      "--webhook-receiver needs the pool's signing secret: --webhook-secret whsec_… or LIBRA_WEBHOOK_SECRET",
    );
  if (!isWebhookSecret(secret))
    throw new UsageError(
      '--webhook-secret must be a Standard Webhooks secret: whsec_ followed by base64 of 24 to 64 bytes',
    );
  if (where === 'local') {
    const address = listen === undefined ? { host: '127.0.0.1', port: 0 } : hostPort(listen);
    return { receiver: { ...address, secret } };
  }
  let publicUrl: URL;
  try {
    publicUrl = new URL(where);
  } catch {
    throw new UsageError(`--webhook-receiver must be "local" or a URL, got "${where}"`);
  }
  if (publicUrl.protocol !== 'https:' && publicUrl.protocol !== 'http:')
    throw new UsageError(`--webhook-receiver must be an http(s) URL, got "${where}"`);
  if (listen === undefined)
    throw new UsageError(
      `--webhook-receiver ${where} needs --webhook-listen [HOST:]PORT: where the smoke listens for what that URL forwards`,
    );
  return { receiver: { ...hostPort(listen), publicUrl: publicUrl.href, secret } };
}

function hostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65_535) throw new UsageError(`--webhook-listen must be [HOST:]PORT, got "${text}"`);
  return { host: match[1] ?? match[2] ?? '127.0.0.1', port };
}

/** `90`, `90s`, `15m`, `1h`: seconds unless a unit says otherwise. */
function duration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text);
  const amount = Number(match?.[1]);
  if (!match || !(amount > 0))
    throw new UsageError(`--timeout must be a duration such as 90s, 15m or 1h, got "${text}"`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000;
  return amount * unit;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}
