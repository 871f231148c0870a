import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

/** What a signer needs of a credential: an access key pair and, for temporary credentials, a token. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** SHA-256, or HMAC-SHA256 when given a key: the hash the signer is built with, from node:crypto. */
class NodeSha256 {
  readonly #hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash =
      secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret) as Uint8Array);
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytesOf(data) as Uint8Array);
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

function bytesOf(data: string | ArrayBuffer | ArrayBufferView): Uint8Array | string {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** An HTTP request as it goes on the wire: what is signed is exactly what is sent. */
export interface WireRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface SigV4Options {
  readonly region: string;
  /** The signing name; `execute-api` for API Gateway. */
  readonly service?: string;
  readonly credentials: () => Promise<SigningCredentials>;
  /** The signing time; now when absent. */
  readonly signingDate?: Date;
}

type SignableRequest = Parameters<SignatureV4['sign']>[0];

/**
 * Signs a request with AWS Signature Version 4 (header form): returns its headers with
 * `authorization`, `x-amz-date` and, for temporary credentials, `x-amz-security-token` added.
 * No `x-amz-content-sha256` header is added: API Gateway does not need it, and AWS's SDKs leave
 * it out for every service but S3.
 */
export async function signRequest(
  request: WireRequest,
  options: SigV4Options,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: options.service ?? 'execute-api',
    region: options.region,
    credentials: options.credentials,
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of request.url.searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  const signable: SignableRequest = {
    method: request.method,
    protocol: request.url.protocol,
    hostname: request.url.hostname,
    path: request.url.pathname,
    query,
    // The host header is signed; fetch sends the URL's host, port included when not the default.
    headers: { ...request.headers, host: request.url.host },
    ...(request.body !== undefined && { body: request.body }),
    ...(request.url.port !== '' && { port: Number(request.url.port) }),
  };
  const signed = await signer.sign(signable, {
    ...(options.signingDate !== undefined && { signingDate: options.signingDate }),
  });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) {
    // fetch sets Host itself from the URL, and refuses to be given one.
    if (name.toLowerCase() !== 'host') headers[name] = String(value);
  }
  return headers;
}

/** The region of an API Gateway endpoint (`<id>.execute-api.<region>.amazonaws.com`), if it is one. */
export function regionOfEndpoint(url: URL): string | undefined {
  return /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];
}
