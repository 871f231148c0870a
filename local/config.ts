import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, type LibraConfig, parseConfig } from '#core/config.ts';

/**
 * The local runtime's configuration: the JSON file named by LIBRA_CONFIG, or else the
 * `libra` key of cdk.json's context — the very configuration a deploy would use.
 */
export async function loadLocalConfig(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Promise<LibraConfig> {
  const file = env.LIBRA_CONFIG;
  if (file) {
    const path = resolve(cwd, file);
    return parseConfig(await readJson(path, `LIBRA_CONFIG (${path})`), 'libra');
  }
  // No cdk.json (a copy of the runtime outside the repository): the defaults.
  const cdkJson = ((await readJson(resolve(cwd, 'cdk.json'), 'cdk.json', { optional: true })) ?? {}) as {
    context?: { libra?: unknown };
  };
  return parseConfig(cdkJson.context?.libra ?? {}, 'libra');
}

/** The file's JSON; a file that cannot be read or parsed is a ConfigError naming it, in one line. */
async function readJson(path: string, what: string, { optional = false } = {}): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`${what} cannot be read: ${unreadable(error as NodeJS.ErrnoException)}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

function unreadable(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory, not a file';
    default:
      return error.code ? `${error.code}, ${error.message}` : error.message;
  }
}
