import { Worker } from 'node:worker_threads';
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
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
 * dynalite in this process (on a worker thread), with the job table created from its one definition (the same
 * one the CDK construct uses). An existing table in a persisted folder is kept.
 */
export async function startLocalDynamoDB(options: LocalDynamoDBOptions): Promise<LocalDynamoDB> {
  const worker = new Worker(new URL('./dynalite-worker.ts', import.meta.url), {
    workerData: {
      port: options.port ?? 0,
      ...(options.dataDir !== undefined && { dataDir: options.dataDir }),
    },
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
  const client = new DynamoDBClient({ endpoint, ...LOCAL_AWS });
  const close = async () => {
    client.destroy();
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
