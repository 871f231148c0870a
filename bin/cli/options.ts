import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { AuthOptions } from '../../client/index.ts';

/** A command line or configuration the CLI cannot run with: one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The exit codes, as `libra --help` documents them. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  connection: 3,
  timeout: 4,
  cancelled: 5,
  interrupted: 130,
} as const;

export const USAGE = `usage: libra <command> [options]

commands:
  submit [FILE|s3://…]   submit a job: FILE.sql / FILE.py as inline code, s3://… as its entry point,
                         or --sql TEXT / --python TEXT; prints the job id (--wait: follows it)
  rerun JOB              re-run a finished job as a new one: its request, changed by the options
                         below; prints the new job's id (--wait: follows it)
  wait JOB               follow a job to its end: each status move with the elapsed time, and
                         the run's progress (bar, stages, tasks) while its driver reports it
  status JOB             the job's status, timestamps, resources, reason and output links
  list                   your jobs, newest first, as a table
  events JOB             the job's history
  logs JOB               the run's stdout (--stderr: its stderr)
  cancel JOB             cancel a job that has not finished
  pools                  each pool's capacity: used against its limits
  usage                  what runs cost, by owner, pool or tag (admins: everyone's)
  openapi                the API's OpenAPI document

submit options:
  --sql TEXT | --python TEXT   inline code       --arg VALUE       entry point argument (repeat)
  --main-class NAME            a JAR's class     --conf KEY=VALUE  Spark conf (repeat)
  --priority 1-10              --pool NAME       --tag KEY=VALUE   (repeat)   --name NAME
  --timeout MINUTES (or 90m, 2h)                 --mode auto|emr-serverless|eks
  --warn-after MINUTES (or 90m, 2h)  a DURATION_WARNING when a run goes past it
  --retries N  --backoff MULTIPLIER  --retry-delay SECONDS  --max-retry-delay SECONDS
  --retry-on-timeout           --webhook URL [--events STATUS,…]
  --idempotency-key KEY        (default: one generated per submit, kept across its retries)
  --wait                       follow the job to its end (exit code by its final status)
  --logs                       with --wait: print the run's stdout and stderr at the end

rerun options:  --priority 1-10  --conf KEY=VALUE  --tag KEY=VALUE  --name NAME  --timeout MINUTES
               --retries N  --backoff M  --retry-delay S  --max-retry-delay S  --idempotency-key KEY
               --wait  --logs      (a --conf or --tag given replaces the original's whole conf or tags)

list options:  --status STATUS  --pool NAME  --tag KEY[=VALUE]  --limit N  --next-token T  --all
logs options:  --stderr          openapi options:  --remote
wait options:  --logs  --interval SECONDS (how often the status is read; 1)
usage options: --from YYYY-MM-DD (default: the 1st of this month)  --to YYYY-MM-DD (default: today)
               --group-by owner|pool|tag  --mine (an admin's own runs only)

common options:
  --endpoint URL     (LIBRA_ENDPOINT; default http://127.0.0.1:8080, the local runtime)
  --auth local|iam|jwt  (LIBRA_AUTH; default iam for an execute-api endpoint, local otherwise)
  --token T          JWT for --auth jwt (LIBRA_TOKEN)
  --user NAME        caller for --auth local (LIBRA_USER; default local-user)
  --profile P --region R   for --auth iam (AWS_PROFILE, AWS_REGION; default credential chain)
  --config FILE      JSON with any of endpoint, auth, token, user, profile, region
                     (LIBRA_CLI_CONFIG; default ~/.config/libra/config.json when present)
  --json             print the API's JSON answer unchanged, for scripts
  -h, --help

exit codes:
  0 done (wait: SUCCEEDED)   1 FAILED   4 TIMEOUT   5 CANCELLED
  2 usage: bad command line or configuration, or the API refused the request (4xx)
  3 connection: the endpoint cannot be reached, or failed (5xx) after retries
  130 interrupted while waiting: the job was left running`;

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  endpoint: { type: 'string' },
  auth: { type: 'string' },
  token: { type: 'string' },
  user: { type: 'string' },
  profile: { type: 'string' },
  region: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  // How often a wait reads the job's status, in seconds.
  interval: { type: 'string' },
};

const WAIT: Options = { logs: { type: 'boolean' } };

/** What a re-run may change, as a submit says it. */
const RERUN: Options = {
  ...WAIT,
  conf: { type: 'string', multiple: true },
  priority: { type: 'string' },
  tag: { type: 'string', multiple: true },
  name: { type: 'string' },
  timeout: { type: 'string' },
  'warn-after': { type: 'string' },
  retries: { type: 'string' },
  backoff: { type: 'string' },
  'retry-delay': { type: 'string' },
  'max-retry-delay': { type: 'string' },
  'idempotency-key': { type: 'string' },
  wait: { type: 'boolean' },
};

const SUBMIT: Options = {
  ...RERUN,
  sql: { type: 'string' },
  python: { type: 'string' },
  arg: { type: 'string', multiple: true },
  'main-class': { type: 'string' },
  pool: { type: 'string' },
  'retry-on-timeout': { type: 'boolean' },
  webhook: { type: 'string' },
  events: { type: 'string', multiple: true },
  mode: { type: 'string' },
};

/** Each command, its options and how many positional arguments it takes. */
export const COMMANDS = {
  submit: { options: SUBMIT, positionals: [0, 1] },
  wait: { options: WAIT, positionals: [1, 1] },
  status: { options: {}, positionals: [1, 1] },
  list: {
    options: {
      status: { type: 'string' },
      pool: { type: 'string' },
      tag: { type: 'string' },
      limit: { type: 'string' },
      'next-token': { type: 'string' },
      all: { type: 'boolean' },
    },
    positionals: [0, 0],
  },
  events: { options: {}, positionals: [1, 1] },
  logs: { options: { stderr: { type: 'boolean' } }, positionals: [1, 1] },
  cancel: { options: {}, positionals: [1, 1] },
  rerun: { options: RERUN, positionals: [1, 1] },
  pools: { options: {}, positionals: [0, 0] },
  usage: {
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      'group-by': { type: 'string' },
      mine: { type: 'boolean' },
    },
    positionals: [0, 0],
  },
  openapi: { options: { remote: { type: 'boolean' } }, positionals: [0, 0] },
} satisfies Record<string, { options: Options; positionals: [number, number] }>;

export type CommandName = keyof typeof COMMANDS;

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Invocation {
  readonly command: CommandName;
  readonly args: readonly string[];
  readonly values: Values;
  readonly connection: Connection;
}

export interface Connection {
  readonly endpoint: URL;
  readonly auth: AuthOptions;
}

/** Every option of every command, to find the command in a first pass (values may repeat there). */
const ALL_OPTIONS: Options = Object.fromEntries(
  [COMMON, ...Object.values(COMMANDS).map((c) => c.options as Options)]
    .flatMap((options) => Object.entries(options))
    .map(([name, option]) => [name, option.type === 'string' ? { ...option, multiple: true } : option]),
);

function parse(argv: readonly string[], options: Options): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, tokens: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? String(error));
  }
}

/** The command line, the environment and the config file, read into what to run; 'help' for --help. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): Invocation | 'help' {
  const parsed = parse(argv, ALL_OPTIONS);
  if (parsed.values.help || parsed.positionals.length === 0) return 'help';
  const [name, ...args] = parsed.positionals;
  if (!(name !== undefined && name in COMMANDS)) {
    throw new UsageError(`unknown command '${name}'; commands: ${Object.keys(COMMANDS).join(', ')}`);
  }
  const command = name as CommandName;
  const spec = COMMANDS[command];
  for (const token of parsed.tokens ?? []) {
    if (token.kind === 'option' && !(token.name in COMMON) && !(token.name in spec.options)) {
      throw new UsageError(`${command} takes no --${token.name}`);
    }
  }
  const values = parse(argv, { ...COMMON, ...spec.options }).values as Values;
  const [least, most] = spec.positionals;
  if (args.length < least) throw new UsageError(`${command} needs a job id: libra ${command} JOB`);
  if (args.length > most) throw new UsageError(`${command}: unexpected argument '${args[most]}'`);
  return { command, args, values, connection: connectionOf(values, env) };
}

const CONFIG_KEYS = ['endpoint', 'auth', 'token', 'user', 'profile', 'region'] as const;
type ConfigFile = Partial<Record<(typeof CONFIG_KEYS)[number], string>>;

/** The config file: named by --config or LIBRA_CLI_CONFIG (must exist), else the default one if present. */
export function readConfigFile(values: Values, env: NodeJS.ProcessEnv): ConfigFile {
  const named = (values.config as string | undefined) ?? (env.LIBRA_CLI_CONFIG || undefined);
  const path =
    named ?? join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'libra', 'config.json');
  if (named === undefined && !existsSync(path)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message.split('\n')[0];
    throw new UsageError(`config file ${path}: ${why}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`config file ${path}: must be a JSON object`);
  }
  for (const [key, value] of Object.entries(raw)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      throw new UsageError(`config file ${path}: unknown key '${key}'; keys: ${CONFIG_KEYS.join(', ')}`);
    }
    if (typeof value !== 'string') throw new UsageError(`config file ${path}: '${key}' must be a string`);
  }
  return raw as ConfigFile;
}

/** Endpoint and auth: flags first, then the environment, then the config file, then the defaults. */
function connectionOf(values: Values, env: NodeJS.ProcessEnv): Connection {
  const file = readConfigFile(values, env);
  const pick = (flag: string, envName: string | undefined, key: keyof ConfigFile): string | undefined =>
    (values[flag] as string | undefined) ?? (envName ? env[envName] || undefined : undefined) ?? file[key];
  const endpointText = pick('endpoint', 'LIBRA_ENDPOINT', 'endpoint') ?? 'http://127.0.0.1:8080';
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw new UsageError(`--endpoint: '${endpointText}' is not a URL`);
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
    throw new UsageError(`--endpoint: '${endpointText}' is not an http(s) URL`);
  }
  const mode =
    pick('auth', 'LIBRA_AUTH', 'auth') ?? (/\.execute-api\./.test(endpoint.hostname) ? 'iam' : 'local');
  const region = pick('region', 'AWS_REGION', 'region');
  const profile = pick('profile', 'AWS_PROFILE', 'profile');
  switch (mode) {
    case 'local': {
      const user = pick('user', 'LIBRA_USER', 'user');
      return { endpoint, auth: { mode: 'local', ...(user !== undefined && { user }) } };
    }
    case 'jwt': {
      const token = pick('token', 'LIBRA_TOKEN', 'token');
      if (!token) throw new UsageError('--auth jwt needs a token: --token T or LIBRA_TOKEN');
      return { endpoint, auth: { mode: 'jwt', token } };
    }
    case 'iam':
      return {
        endpoint,
        auth: {
          mode: 'iam',
          ...(region !== undefined && { region }),
          ...(profile !== undefined && { profile }),
        },
      };
    default:
      throw new UsageError(`--auth must be local, iam or jwt, not '${mode}'`);
  }
}
