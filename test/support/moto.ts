import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/**
 * Reaching the suite's moto_server (test/global/moto.ts). One server serves every test file at
 * once, so resources are named with `motoName` and never reset.
 */

export const MOTO_REGION = 'us-east-1';
/** moto's default account: the one ARNs of resources made with any credentials carry. */
export const MOTO_ACCOUNT = '123456789012';

export function motoEndpoint(): string {
  return inject('motoEndpoint');
}

/** SDK client options that send a client to moto. */
export function motoClientConfig() {
  return {
    endpoint: motoEndpoint(),
    region: MOTO_REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
}

/** A resource name unique to this test run: `prefix-<hex>`. */
export function motoName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** Sets moto's configuration (POST /moto-api/config), e.g. Step Functions' real execution. */
export async function configureMoto(config: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${motoEndpoint()}/moto-api/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(config),
  });
  if (!response.ok) throw new Error(`moto config refused: ${response.status} ${await response.text()}`);
}
