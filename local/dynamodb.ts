import { Readable } from 'node:stream';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import {
  CreateTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { createJobTableInput } from '#adapters/table-definition.ts';

export interface LocalDynamoDB {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  close(): Promise<void>;
}

export interface LocalDynamoDBOptions {
  readonly tableName: string;
  /** Persist to this folder; in memory when absent. */
  readonly dataDir?: string;
  readonly port?: number;
}

/** Credentials and region the local clients use: nothing here ever reaches AWS. */
export const LOCAL_AWS = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/**
 * dynalite checks that a request carries SigV4's headers, never what they say. Computing the
 * signature (a canonical request, a SHA-256 of the body and an HMAC per request) was a third of
 * the client's CPU time per call on the runtime's main thread, which also serves the API and runs
 * admission; the local clients write the headers without it.
 */
const unsignedForDynalite: NonNullable<DynamoDBClientConfig['signer']> = {
  async sign(request) {
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    request.headers['x-amz-date'] = amzDate;
    request.headers.authorization = `AWS4-HMAC-SHA256 Credential=${LOCAL_AWS.credentials.accessKeyId}/${amzDate.slice(0, 8)}/${LOCAL_AWS.region}/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=unsigned-local`;
    return request;
  },
};

/** A DynamoDB client for the local DynamoDB at `endpoint`, as the local runtime's handlers use it. */
export function localDynamoDBClient(endpoint: string, port?: MessagePort): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    ...LOCAL_AWS,
    signer: unsignedForDynalite,
    ...(port && { requestHandler: portRequestHandler(port) }),
  });
}

interface PortReply {
  readonly id: number;
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * The SDK's HTTP handler, replaced for clients in the same process as dynalite: the request
 * goes to dynalite's thread as a message, and its answer comes back the same way — the same
 * request and response bytes, without a socket, HTTP parsing and framing on both threads.
 */
function portRequestHandler(port: MessagePort) {
  let next = 0;
  const waiting = new Map<number, (reply: PortReply) => void>();
  port.on('message', (reply: PortReply) => {
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
  });
  port.unref();
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(request: { method: string; headers: Record<string, string>; body?: unknown }) {
      const id = next++;
      const reply = await new Promise<PortReply>((resolve) => {
        waiting.set(id, resolve);
        port.postMessage({
          id,
          method: request.method,
          headers: request.headers,
          body:
            typeof request.body === 'string'
              ? request.body
              : request.body instanceof Uint8Array
                ? Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength).toString(
                    'utf8',
                  )
                : '',
        });
      });
      return {
        response: {
          statusCode: reply.statusCode,
          reason: '',
          headers: reply.headers,
          body: Readable.from([Buffer.from(reply.body)]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() {
      return {};
    },
    destroy() {},
  };
}

/**
 * dynalite in this process (on a worker thread), with the job table created from its one definition (the same
 * one the CDK construct uses). An existing table in a persisted folder is kept.
 */
export async function startLocalDynamoDB(options: LocalDynamoDBOptions): Promise<LocalDynamoDB> {
  const channel = new MessageChannel();
  const worker = new Worker(new URL('./dynalite-worker.ts', import.meta.url), {
    workerData: {
      port: options.port ?? 0,
      ...(options.dataDir !== undefined && { dataDir: options.dataDir }),
      requests: channel.port2,
    },
    transferList: [channel.port2],
  });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the local DynamoDB stopped at start (exit ${code})`)));
    worker.once('message', (message: { type: string; port?: number; message?: string }) => {
      if (message.type === 'listening' && message.port !== undefined) resolve(message.port);
      else reject(new Error(`the local DynamoDB did not start: ${message.message ?? message.type}`));
    });
  });
  worker.removeAllListeners('exit');
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoDBClient(endpoint, channel.port1);
  const close = async () => {
    client.destroy();
    channel.port1.close();
    const closed = new Promise<void>((resolve) => {
      worker.once('message', () => resolve());
      worker.once('exit', () => resolve());
    });
    worker.postMessage({ type: 'close' });
    await closed;
    await worker.terminate();
  };
  try {
    await client.send(new CreateTableCommand(createJobTableInput(options.tableName)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) {
      await close();
      throw error;
    }
  }
  return { endpoint, client, close };
}
