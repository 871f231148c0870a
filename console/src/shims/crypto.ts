/**
 * What the typed client takes from node:crypto, in the browser: ids from Web Crypto. SigV4
 * signing (IAM mode) hashes synchronously, which Web Crypto cannot: in the browser IAM-mode
 * deployments are reached through a signing proxy instead (docs/deploy.md), so those refuse.
 */
export function randomUUID(): string {
  return globalThis.crypto.randomUUID();
}

function noSigning(): never {
  throw new Error('IAM (SigV4) signing is not available in the browser: use a signing proxy');
}

export const createHash = noSigning;
export const createHmac = noSigning;
