import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { documentClient } from '#adapters/compose.ts';
import { createJobTableInput } from '#adapters/table-definition.ts';

export interface TestDatabase {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly documentClient: ReturnType<typeof documentClient>;
  readonly tableName: string;
  stop(): Promise<void>;
}

/** An in-memory dynalite on a free loopback port, with the job table created from its one definition. */
export async function startTestDatabase(tableName = 'libra-jobs'): Promise<TestDatabase> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
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
