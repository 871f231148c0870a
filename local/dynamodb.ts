import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
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
 * dynalite in this process, with the job table created from its one definition (the same
 * one the CDK construct uses). An existing table in a persisted folder is kept.
 */
export async function startLocalDynamoDB(options: LocalDynamoDBOptions): Promise<LocalDynamoDB> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.dataDir !== undefined && { path: options.dataDir }),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, ...LOCAL_AWS });
  try {
    await client.send(new CreateTableCommand(createJobTableInput(options.tableName)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  return {
    endpoint,
    client,
    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
