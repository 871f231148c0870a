import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createJobTableInput } from '#adapters/table-definition.ts';
import { documentClient } from '#adapters/table-stores.ts';
import { installConditionCheckItems } from '../../local/dynalite-condition-items.ts';

export interface TestDatabase {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly documentClient: ReturnType<typeof documentClient>;
  readonly tableName: string;
  stop(): Promise<void>;
}

/** A DynamoDB client for a local endpoint, with the stand-in region and credentials it needs. */
export function localDynamoDbClient(
  endpoint: string,
  options: Omit<DynamoDBClientConfig, 'endpoint' | 'region' | 'credentials'> = {},
): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    ...options,
  });
}

/** An in-memory dynalite on a free loopback port, with the job table created from its one definition. */
export async function startTestDatabase(tableName = 'libra-jobs'): Promise<TestDatabase> {
  installConditionCheckItems();
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoDbClient(endpoint);
  await client.send(new CreateTableCommand(createJobTableInput(tableName)));
  return {
    endpoint,
    client,
    documentClient: documentClient(client),
    tableName,
    async stop() {
      client.destroy();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
