import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { inject, vi } from 'vitest';
import { createJobTableInput } from '#adapters/table-definition.ts';

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

/**
 * The AWS SDK's standard environment that sends every client made with `new XClient({})` (as the
 * deployed entries make theirs) to `endpoint`, moto by default. Set it before an entry is imported.
 */
export function motoSdkEnvironment(endpoint = motoEndpoint()): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: MOTO_REGION,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  };
}

/**
 * Sets environment variables until the returned function puts back what was there: an entry
 * (lambdas/entry) reads its configuration and its clients' endpoint from the environment.
 */
export function setEnvironment(variables: Readonly<Record<string, string>>): () => void {
  const before = new Map(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  return () => {
    for (const [name, value] of before) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/**
 * A deployed entry imported afresh, in a module graph of its own, so that its module-level
 * wiring (configuration, SDK clients) reads the environment as it is now.
 */
export async function importEntry<M>(entry: string): Promise<M> {
  vi.resetModules();
  return (await import(
    /* @vite-ignore */ new URL(`../../lambdas/entry/${entry}.ts`, import.meta.url).href
  )) as M;
}

/** The job table on moto, created from its one definition (lambdas/adapters/table-definition.ts). */
export async function createMotoTable(name = motoName('libra-jobs')): Promise<string> {
  const client = new DynamoDBClient(motoClientConfig());
  try {
    await client.send(new CreateTableCommand(createJobTableInput(name)));
  } finally {
    client.destroy();
  }
  return name;
}

/** What the signer hashes. */
type SourceData = string | ArrayBuffer | ArrayBufferView;

/** SHA-256 for the signer, from node:crypto. */
class Sha256 {
  readonly #hash;
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/**
 * A signed AWS query-protocol call (IAM has no client in this project's dependencies), for setting
 * moto up: e.g. the role Lambda's CreateFunction requires to exist.
 */
export async function motoQuery(service: string, params: Readonly<Record<string, string>>): Promise<string> {
  const url = new URL(motoEndpoint());
  const body = new URLSearchParams(params).toString();
  const signer = new SignatureV4({
    service,
    region: MOTO_REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
  const response = await fetch(`${motoEndpoint()}/`, { method: 'POST', headers: signed.headers, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`moto ${service} ${params.Action} refused: ${response.status} ${text}`);
  return text;
}

/** An IAM role on moto that Lambda may assume, as CreateFunction requires; returns its ARN. */
export async function createLambdaRole(name = motoName('lambda-role')): Promise<string> {
  await motoQuery('iam', {
    Action: 'CreateRole',
    Version: '2010-05-08',
    RoleName: name,
    AssumeRolePolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    }),
  });
  return `arn:aws:iam::${MOTO_ACCOUNT}:role/${name}`;
}

/** One request that went through a WireRecorder, and moto's answer to it. */
export interface WireCall {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The service the request was signed for (its credential scope). */
  readonly service: string | undefined;
  readonly body: string;
  readonly status: number;
  readonly responseHeaders: Readonly<Record<string, string | string[] | undefined>>;
  readonly responseBody: string;
}

export interface WireRecorder {
  /** Where to send clients: a loopback proxy in front of moto. */
  readonly endpoint: string;
  readonly calls: WireCall[];
  close(): Promise<void>;
}

/**
 * A loopback proxy in front of moto that keeps every request and answer, for asserting what an
 * entry sent over the wire (and what moto said) when the entry makes its own clients.
 */
export async function startWireRecorder(target = motoEndpoint()): Promise<WireRecorder> {
  const calls: WireCall[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = { ...request.headers };
      delete headers.host;
      fetch(`${target}${request.url ?? '/'}`, {
        method: request.method ?? 'GET',
        headers: Object.entries(headers).flatMap(([name, value]) =>
          value === undefined
            ? []
            : [[name, Array.isArray(value) ? value.join(', ') : value] as [string, string]],
        ),
        ...(body.length > 0 && { body }),
      })
        .then(async (answer) => {
          const answerBody = Buffer.from(await answer.arrayBuffer());
          const responseHeaders = Object.fromEntries(answer.headers.entries());
          const scope = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(
            String(request.headers.authorization),
          );
          calls.push({
            method: request.method ?? 'GET',
            path: request.url ?? '/',
            headers: request.headers,
            service: scope?.[1],
            body: body.toString('utf8'),
            status: answer.status,
            responseHeaders,
            responseBody: answerBody.toString('utf8'),
          });
          delete responseHeaders['content-encoding'];
          delete responseHeaders['transfer-encoding'];
          responseHeaders['content-length'] = String(answerBody.length);
          response.writeHead(answer.status, responseHeaders);
          response.end(answerBody);
        })
        .catch((error: unknown) => {
          response.writeHead(502);
          response.end(String(error));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
