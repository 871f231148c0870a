import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '#adapters/table-stores.ts';
import { localDynamoDbClient, type TestDatabase } from './dynalite.ts';

/**
 * A document client on the test database that counts the DynamoDB requests sent through it, by
 * operation, with a middleware on the SDK client: every round trip the SDK makes, retries too.
 */
export interface CountingClient {
  readonly documentClient: DynamoDBDocumentClient;
  /** Requests sent of one operation (`Query`, `GetItem` …) since the last reset. */
  count(operation: string): number;
  /** Items DynamoDB evaluated (ScannedCount) for the Query and Scan requests since the last reset. */
  scanned(): number;
  reset(): void;
  destroy(): void;
}

export function countingClient(db: TestDatabase): CountingClient {
  const counts = new Map<string, number>();
  let scanned = 0;
  const client = localDynamoDbClient(db.endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? '').replace(/Command$/, '');
      counts.set(operation, (counts.get(operation) ?? 0) + 1);
      const result = await next(args);
      const output = result.output as { ScannedCount?: number };
      scanned += output.ScannedCount ?? 0;
      return result;
    },
    // After the retry step, so each attempt the SDK makes is counted.
    { step: 'finalizeRequest', name: 'countRequests' },
  );
  return {
    documentClient: documentClient(client),
    count: (operation) => counts.get(operation) ?? 0,
    scanned: () => scanned,
    reset: () => {
      counts.clear();
      scanned = 0;
    },
    destroy: () => client.destroy(),
  };
}
