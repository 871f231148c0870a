import {
  type DynamoDBClient,
  PutItemCommand,
  type PutItemCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { LocalQueue } from '../queue.ts';
import type { ResourceBindings } from './runner.ts';

/**
 * The local implementations of the job workflow's service integrations, keyed by the resource
 * ARN the ASL names: DynamoDB calls go to the local DynamoDB as they are written, SQS sends to
 * the local queue, Lambda invokes to the in-process handler, and Spark runs to the local engine.
 * Errors carry the names Step Functions gives them (`DynamoDB.ConditionalCheckFailedException`,
 * the Lambda's error type …) so the ASL's Retry and Catch see what they would see in AWS.
 */

export type LambdaFunction = (payload: unknown) => Promise<unknown>;

export type SparkRun = (kind: 'emr-serverless' | 'eks', request: Record<string, unknown>) => Promise<unknown>;

export interface LocalIntegrations {
  readonly dynamodb: DynamoDBClient;
  /** Queues by URL. */
  readonly queues: ReadonlyMap<string, Pick<LocalQueue, 'send'>>;
  /** Functions by ARN (the ASL names them by ARN). */
  readonly functions: ReadonlyMap<string, LambdaFunction>;
  readonly spark: SparkRun;
}

export class TaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

function stripMetadata<T extends { $metadata?: unknown }>(output: T): Omit<T, '$metadata'> {
  const { $metadata: _metadata, ...rest } = output;
  return rest;
}

async function dynamo<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const name = (error as Error).name;
    throw new TaskError(`DynamoDB.${name}`, (error as Error).message);
  }
}

export function localBindings(integrations: LocalIntegrations): ResourceBindings {
  return {
    'arn:aws:states:::dynamodb:updateItem': async (input) =>
      stripMetadata(
        await dynamo(() =>
          integrations.dynamodb.send(new UpdateItemCommand(input as UpdateItemCommandInput)),
        ),
      ),
    'arn:aws:states:::dynamodb:putItem': async (input) =>
      stripMetadata(
        await dynamo(() => integrations.dynamodb.send(new PutItemCommand(input as PutItemCommandInput))),
      ),
    'arn:aws:states:::sqs:sendMessage': async (input) => {
      const { QueueUrl, MessageBody } = input as { QueueUrl: string; MessageBody: unknown };
      const queue = integrations.queues.get(QueueUrl);
      if (!queue) throw new TaskError('SQS.QueueDoesNotExistException', `no local queue at ${QueueUrl}`);
      // Step Functions serializes a JSON MessageBody to a string, as here.
      const body = typeof MessageBody === 'string' ? MessageBody : JSON.stringify(MessageBody);
      const { messageId } = queue.send(body);
      return { MessageId: messageId };
    },
    'arn:aws:states:::lambda:invoke': async (input) => {
      const { FunctionName, Payload } = input as { FunctionName: string; Payload: unknown };
      const fn = integrations.functions.get(FunctionName);
      if (!fn) throw new TaskError('Lambda.ResourceNotFoundException', `no local function ${FunctionName}`);
      try {
        return { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: await fn(Payload) };
      } catch (error) {
        // A function error reaches the workflow under the function's own error type.
        throw new TaskError((error as Error).name || 'Error', (error as Error).message);
      }
    },
    'arn:aws:states:::emr-serverless:startJobRun.sync': (input) =>
      integrations.spark('emr-serverless', input as Record<string, unknown>),
    'arn:aws:states:::emr-containers:startJobRun.sync': (input) =>
      integrations.spark('eks', input as Record<string, unknown>),
  };
}
