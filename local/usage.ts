import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * What the local runtime asked of each AWS service, counted the way AWS bills it: requests
 * and capacity units per DynamoDB operation, SQS requests, Lambda invocations and their
 * duration, Step Functions state transitions (counted by the workflow runner). The cost
 * benchmark reads it; nothing else depends on it.
 */
export class Usage {
  readonly dynamodb = new Map<string, { requests: number; capacityUnits: number }>();
  readonly sqs = new Map<string, number>();
  readonly lambda = new Map<string, { invocations: number; milliseconds: number }>();

  reset(): void {
    this.dynamodb.clear();
    this.sqs.clear();
    this.lambda.clear();
  }

  countSqs(operation: string, requests = 1): void {
    this.sqs.set(operation, (this.sqs.get(operation) ?? 0) + requests);
  }

  /** Wraps a Lambda handler so each call counts as one invocation with its duration. */
  lambdaFunction<A extends unknown[], R>(
    name: string,
    handler: (...args: A) => Promise<R>,
  ): (...args: A) => Promise<R> {
    return async (...args: A) => {
      const started = performance.now();
      try {
        return await handler(...args);
      } finally {
        const entry = this.lambda.get(name) ?? { invocations: 0, milliseconds: 0 };
        entry.invocations++;
        entry.milliseconds += performance.now() - started;
        this.lambda.set(name, entry);
      }
    };
  }

  /**
   * Counts every request the client sends, asking DynamoDB (dynalite models it) for the
   * capacity each one consumed.
   */
  instrument(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as Record<string, unknown>;
        if (!('ReturnConsumedCapacity' in input) && context.commandName !== 'CreateTableCommand') {
          input.ReturnConsumedCapacity = 'TOTAL';
        }
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const entry = this.dynamodb.get(operation) ?? { requests: 0, capacityUnits: 0 };
        this.dynamodb.set(operation, entry);
        entry.requests++;
        try {
          const result = await next(args);
          const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } })
            .ConsumedCapacity;
          entry.capacityUnits += consumed?.CapacityUnits ?? 0;
          return result;
        } catch (error) {
          // A write whose condition fails still costs a write unit.
          entry.capacityUnits += 1;
          throw error;
        }
      },
      { step: 'initialize', name: 'libraUsage' },
    );
  }
}
