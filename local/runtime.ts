import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { composeApi, documentClient } from '#adapters/compose.ts';
import type { LibraConfig } from '#core/config.ts';
import { createCancelJobHandler } from '#handlers/cancel-job.ts';
import { createGetJobHandler } from '#handlers/get-job.ts';
import { createListJobEventsHandler } from '#handlers/list-job-events.ts';
import { createListJobsHandler } from '#handlers/list-jobs.ts';
import { createSubmitJobHandler } from '#handlers/submit-job.ts';
import { apiGateway, type LambdaHandler, type LocalRoute } from './api-gateway.ts';
import { startLocalDynamoDB } from './dynamodb.ts';

export interface LocalRuntimeOptions {
  readonly config: LibraConfig;
  /** HTTP port; 0 picks a free one. */
  readonly port: number;
  readonly host?: string;
  /** Persist the DynamoDB data here; in memory when absent. */
  readonly dataDir?: string;
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
}

export interface LocalRuntime {
  /** Base URL of the API, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  stop(): Promise<void>;
}

export const LOCAL_TABLE_NAME = 'libra-jobs';

/**
 * Libra on one machine: dynalite for the table, and an HTTP server that hands each request
 * to the same Lambda handlers the stack deploys, as API Gateway events.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const logger = new Logger({ serviceName: 'libra', logLevel: options.logLevel ?? 'INFO' });
  const dynamo = await startLocalDynamoDB({
    tableName: LOCAL_TABLE_NAME,
    ...(options.dataDir !== undefined && { dataDir: options.dataDir }),
  });

  const deps = composeApi({
    documentClient: documentClient(dynamo.client),
    tableName: LOCAL_TABLE_NAME,
    config: options.config,
    logger,
    // Local mode: a developer may receive webhooks on plain http.
    allowInsecureWebhooks: true,
  });
  const route = (routeKey: string, functionName: string, handler: LambdaHandler): LocalRoute => ({
    routeKey,
    functionName,
    handler,
  });
  const routes = [
    route('POST /api/v1/spark/jobs/submit', 'libra-submit-job', createSubmitJobHandler(deps)),
    route('GET /api/v1/spark/jobs', 'libra-list-jobs', createListJobsHandler(deps)),
    route('GET /api/v1/spark/jobs/{jobId}', 'libra-get-job', createGetJobHandler(deps)),
    route('GET /api/v1/spark/jobs/{jobId}/events', 'libra-list-job-events', createListJobEventsHandler(deps)),
    route('DELETE /api/v1/spark/jobs/{jobId}', 'libra-cancel-job', createCancelJobHandler(deps)),
  ];

  const server: Server = createServer(
    apiGateway({
      routes,
      onHandlerError: (error, routeKey) => logger.error('handler threw', { routeKey, error: error as Error }),
    }),
  );
  server.keepAliveTimeout = 5_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
    });
  } catch (error) {
    await dynamo.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    dynamoEndpoint: dynamo.endpoint,
    tableName: LOCAL_TABLE_NAME,
    async stop() {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Requests still in flight get a moment to finish; then their sockets are closed.
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      });
      await dynamo.close();
    },
  };
}
