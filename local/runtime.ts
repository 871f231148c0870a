import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { composeAdmission, composeApi, documentClient, type Wiring } from '#adapters/compose.ts';
import type { Admission } from '#core/admission.ts';
import type { LibraConfig } from '#core/config.ts';
import type { Finisher } from '#core/finisher.ts';
import type { JobRecord } from '#core/job-record.ts';
import type { JobStore } from '#core/ports.ts';
import type { Reconciler } from '#core/reconciler.ts';
import { createAdmissionHandler } from '#handlers/admission.ts';
import { createCancelJobHandler } from '#handlers/cancel-job.ts';
import { createGetJobHandler } from '#handlers/get-job.ts';
import { createListJobEventsHandler } from '#handlers/list-job-events.ts';
import { createListJobsHandler } from '#handlers/list-jobs.ts';
import { createListPoolsHandler } from '#handlers/list-pools.ts';
import { createSubmitJobHandler } from '#handlers/submit-job.ts';
import { createTickHandler } from '#handlers/tick.ts';
import { apiGateway, type LambdaHandler, type LocalRoute } from './api-gateway.ts';
import { startLocalDynamoDB } from './dynamodb.ts';
import { type EventSourceMapping, startEventSourceMapping } from './event-source-mapping.ts';
import { InMemoryMetrics } from './metrics.ts';
import { LocalQueue } from './queue.ts';
import { RecordingStarter } from './recording-starter.ts';

export interface LocalRuntimeOptions {
  readonly config: LibraConfig;
  /** HTTP port; 0 picks a free one. */
  readonly port: number;
  readonly host?: string;
  /** Persist the DynamoDB data here; in memory when absent. */
  readonly dataDir?: string;
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  /** Seconds between ticks (admission pass + reconciler); AWS runs it every minute. */
  readonly tickSeconds?: number;
  /** Called for each workflow start, until the job workflow runs on the local interpreter. */
  readonly onWorkflowStart?: (
    job: JobRecord,
    parts: { finisher: Finisher; jobs: JobStore },
  ) => void | Promise<void>;
}

export interface LocalRuntime {
  /** Base URL of the API, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly metrics: InMemoryMetrics;
  readonly starter: RecordingStarter;
  readonly intake: LocalQueue;
  readonly intakeDeadLetters: LocalQueue;
  /** The use cases behind the handlers, for tests and benchmarks that drive them directly. */
  readonly parts: { admission: Admission; reconciler: Reconciler; finisher: Finisher; jobs: JobStore };
  /** Runs one tick now: the reconciler, then an admission pass over every pool. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/** Local stand-ins for the intake queue's settings in the stack. */
const INTAKE_VISIBILITY_SECONDS = 30;
const INTAKE_MAX_RECEIVES = 5;

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

  const metrics = new InMemoryMetrics();
  const intakeDeadLetters = new LocalQueue({ name: 'libra-intake-dlq' });
  const intake = new LocalQueue({
    name: 'libra-intake',
    visibilityTimeoutSeconds: INTAKE_VISIBILITY_SECONDS,
    maxReceiveCount: INTAKE_MAX_RECEIVES,
    deadLetterQueue: intakeDeadLetters,
  });
  const wiring: Wiring = {
    documentClient: documentClient(dynamo.client),
    tableName: LOCAL_TABLE_NAME,
    config: options.config,
    logger,
    metrics,
    intake: {
      send: async (message) => {
        intake.send(JSON.stringify(message));
      },
    },
    // Local mode: a developer may receive webhooks on plain http.
    allowInsecureWebhooks: true,
  };
  const deps = composeApi(wiring);
  const starter = new RecordingStarter((job) => options.onWorkflowStart?.(job, { finisher, jobs }));
  // Each Lambda has its own logger; sharing one would label admission lines with an API function's context.
  const admissionLogger = logger.createChild();
  const { admission, reconciler, finisher, jobs } = composeAdmission({
    ...wiring,
    logger: admissionLogger,
    starter,
  });
  const admissionHandler = createAdmissionHandler({ admission, metrics, logger: admissionLogger });
  const tickHandler = createTickHandler({ admission, reconciler, metrics, logger: admissionLogger });
  const mapping: EventSourceMapping = startEventSourceMapping(intake, admissionHandler, {
    batchSize: 10,
    maximumConcurrency: 2,
    functionName: 'libra-admission',
    onError: (error, failure) =>
      logger.error('admission batch failed', { reason: failure.reason, error: error as Error }),
  });

  let ticking: Promise<void> | undefined;
  const tick = async (): Promise<void> => {
    // One tick at a time, as one scheduled Lambda would run: a slow tick is not overlapped.
    ticking ??= tickHandler()
      .then(() => undefined)
      .catch((error: unknown) => logger.error('tick failed', { error: error as Error }))
      .finally(() => {
        ticking = undefined;
      });
    await ticking;
  };
  const tickTimer = setInterval(() => void tick(), (options.tickSeconds ?? 60) * 1000);
  tickTimer.unref();

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
    route('GET /api/v1/spark/pools', 'libra-list-pools', createListPoolsHandler(deps)),
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
    clearInterval(tickTimer);
    await mapping.stop();
    await dynamo.close();
    throw error;
  }
  // A restart over persisted data admits what waited and mends what a crash left half-done.
  void tick();
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    dynamoEndpoint: dynamo.endpoint,
    tableName: LOCAL_TABLE_NAME,
    metrics,
    starter,
    intake,
    intakeDeadLetters,
    parts: { admission, reconciler, finisher, jobs },
    tick,
    async stop() {
      clearInterval(tickTimer);
      server.closeIdleConnections();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Requests still in flight get a moment to finish; then their sockets are closed.
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      });
      await mapping.stop();
      await ticking;
      intake.close();
      intakeDeadLetters.close();
      await dynamo.close();
    },
  };
}
