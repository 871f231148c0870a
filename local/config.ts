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
  const cdkJson = (await readJson(resolve(cwd, 'cdk.json'), 'cdk.json').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  })) as { context?: { libra?: unknown } };
  return parseConfig(cdkJson.context?.libra ?? {}, 'libra');
}

async function readJson(path: string, what: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}
