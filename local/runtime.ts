import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent } from 'aws-lambda';
import { documentClient } from '#adapters/table-stores.ts';
import { HttpWebhookSender, localWebhookSecrets } from '#adapters/webhook-sender.ts';
import { type ApiWiring, composeApi } from '#compose/api.ts';
import { composeRerun } from '#compose/rerun.ts';
import { composeAdmission } from '#compose/tick.ts';
import type { Admission } from '#core/admission.ts';
import { OPENAPI_PATH } from '#core/api-paths.ts';
import type { LibraConfig } from '#core/config.ts';
import type { JobEnder } from '#core/job-ender.ts';
import type { JobRecord } from '#core/job-record.ts';
import { JobLauncher } from '#core/launcher.ts';
import type { JobStore, PoolStore, WorkflowStarter } from '#core/ports.ts';
import type { ProgressStore } from '#core/progress.ts';
import type { Reconciler } from '#core/reconciler.ts';
import { RunRecorder } from '#core/run-recorder.ts';
import type { DurationWarnings } from '#core/use-cases/duration-warnings.ts';
import { Notifier } from '#core/webhook.ts';
import type { BackendTargets } from '#core/workflow-input.ts';
import { createAdmissionHandler } from '#handlers/admission.ts';
import { createCancelJobHandler } from '#handlers/cancel-job.ts';
import { createFinalizerHandler } from '#handlers/finalizer.ts';
import { createGetJobHandler } from '#handlers/get-job.ts';
import { createGetOpenApiHandler } from '#handlers/get-openapi.ts';
import { createGetUsageHandler } from '#handlers/get-usage.ts';
import { createListJobEventsHandler } from '#handlers/list-job-events.ts';
import { createListJobsHandler } from '#handlers/list-jobs.ts';
import { createListPoolsHandler } from '#handlers/list-pools.ts';
import { createNotifierHandler } from '#handlers/notifier.ts';
import { createRerunJobHandler } from '#handlers/rerun-job.ts';
import { createSubmitJobHandler } from '#handlers/submit-job.ts';
import { createTickHandler } from '#handlers/tick.ts';
import { readJobWorkflow, substitute } from '../state-machines/job-workflow.ts';
import { apiGatewayServer, type LambdaHandler, type LocalRoute } from './api-gateway.ts';
import { CONSOLE_DIST, serveConsole } from './console-files.ts';
import { lockDataDir } from './data-lock.ts';
import { LOCAL_AWS, startLocalDynamoDB } from './dynamodb.ts';
import { isTerminal, LocalSparkEngine } from './engine/index.ts';
import { ProcessLog } from './engine/process-log.ts';
import { type EventSourceMapping, startEventSourceMapping } from './event-source-mapping.ts';
import { InMemoryMetrics } from './metrics.ts';
import { LatestProgressWriter } from './progress-writer.ts';
import { LocalQueue } from './queue.ts';
import { RecordingStarter } from './recording-starter.ts';
import { recoverAtStart } from './recovery.ts';
import { serveRunOutput } from './run-output.ts';
import { listenFailure } from './start-error.ts';
import { checkStartExecution } from './start-execution.ts';
import { Usage } from './usage.ts';
import { type LambdaFunction, localBindings } from './workflow/bindings.ts';
import { LocalWorkflow } from './workflow/runner.ts';
import { LocalArtifacts, LocalRunControl, runOnLocalEngine, runStateChange } from './workflow/spark.ts';

export interface LocalRuntimeOptions {
  readonly config: LibraConfig;
  /** HTTP port; 0 picks a free one. */
  readonly port: number;
  /** The built console served at `/`; default console/dist. */
  readonly consoleDir?: string;
  readonly host?: string;
  /** Persist the DynamoDB data here; in memory when absent. */
  readonly dataDir?: string;
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  /** Seconds between ticks (admission pass + reconciler); AWS runs it every minute. */
  readonly tickSeconds?: number;
  /**
   * The length of one minute, in ms (60,000): tests shorten it. It times the engine's execution
   * timeout (EMR's backstop) and the duration warnings' `warnAfterMinutes`.
   */
  readonly minuteMs?: number;
  /** Called for each workflow start, until the job workflow runs on the local interpreter. */
  readonly onWorkflowStart?: (
    job: JobRecord,
    parts: { jobEnder: JobEnder; jobs: JobStore },
  ) => void | Promise<void>;
}

export interface LocalRuntime {
  /** Base URL of the API, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly metrics: InMemoryMetrics;
  /** Requests, capacity units, invocations and their durations, as AWS would bill them. */
  readonly usage: Usage;
  readonly starter: WorkflowStarter;
  /** The local Spark engine the workflow runs jobs on. */
  readonly engine: LocalSparkEngine;
  /** The local Step Functions running the job workflow. */
  readonly workflow: LocalWorkflow;
  /** The webhook signing secret (LIBRA_WEBHOOK_SECRET, or generated at start). */
  readonly webhookSecret: string;
  readonly webhookSecretGenerated: boolean;
  readonly intake: LocalQueue;
  readonly intakeDeadLetters: LocalQueue;
  /** The use cases behind the handlers, for tests and benchmarks that drive them directly. */
  readonly parts: {
    admission: Admission;
    reconciler: Reconciler;
    warnings: DurationWarnings;
    jobEnder: JobEnder;
    jobs: JobStore;
    pools: PoolStore;
  };
  /** Runs one tick now: the reconciler, then an admission pass over every pool. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A stop (SIGTERM, Ctrl-C) is over within a few seconds, as a service manager expects: requests in
 * flight get this long to finish, and runs this long between SIGTERM and SIGKILL.
 */
const STOP_REQUESTS_GRACE_MS = 1_000;
const STOP_RUNS_GRACE_MS = 2_000;

/** Local stand-ins for the intake queue's settings in the stack. */
const INTAKE_VISIBILITY_SECONDS = 30;
const INTAKE_MAX_RECEIVES = 5;

export const LOCAL_TABLE_NAME = 'libra-jobs';
const LOCAL_INTAKE_URL = 'http://127.0.0.1/000000000000/libra-intake';
const LOCAL_NOTIFIER_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:libra-notifier';
const LOCAL_FINALIZER_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:libra-finalizer';
/** Locally every pool runs on the local engine; these names only fill the request EMR would get. */
const LOCAL_TARGETS: BackendTargets = {
  emrServerless: { applicationId: 'local', executionRoleArn: 'arn:aws:iam::000000000000:role/libra-local' },
  eks: {
    virtualClusterId: 'local',
    executionRoleArn: 'arn:aws:iam::000000000000:role/libra-local',
    releaseLabel: 'emr-7.5.0-latest',
  },
};

/**
 * Libra on one machine: dynalite for the table, and an HTTP server that hands each request
 * to the same Lambda handlers the stack deploys, as API Gateway events.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const logger = new Logger({ serviceName: 'libra', logLevel: options.logLevel ?? 'INFO' });
  // Before anything opens a file in it: a second runtime on the same --data is refused here.
  const lock = options.dataDir === undefined ? undefined : await lockDataDir(options.dataDir);
  // Without --data everything lives in a scratch folder removed at stop, as the in-memory table is.
  const scratch = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'libra-')) : undefined;
  const dataDir = options.dataDir ?? (scratch as string);
  const dynamo = await startLocalDynamoDB({
    tableName: LOCAL_TABLE_NAME,
    ...(options.dataDir !== undefined && { dataDir: join(options.dataDir, 'db') }),
  }).catch(async (error: unknown) => {
    await lock?.release();
    throw error;
  });

  const usage = new Usage();
  usage.instrument(dynamo.client);
  const metrics = new InMemoryMetrics();
  const intakeDeadLetters = new LocalQueue({ name: 'libra-intake-dlq' });
  const intake = new LocalQueue({
    name: 'libra-intake',
    visibilityTimeoutSeconds: INTAKE_VISIBILITY_SECONDS,
    maxReceiveCount: INTAKE_MAX_RECEIVES,
    deadLetterQueue: intakeDeadLetters,
  });
  // Each run process is recorded, so that a start after a crash can stop what was left running.
  const processLog = new ProcessLog(join(dataDir, 'engine', 'processes.jsonl'));
  // SQL runs report through the job store as each report comes (one write at a time per job);
  // python runs send theirs to the local DynamoDB themselves, as drivers on EMR do to DynamoDB.
  let progressStore: ProgressStore | undefined;
  const progressWriter = new LatestProgressWriter(
    (jobId, progress) => progressStore?.recordProgress(jobId, progress) ?? Promise.resolve(false),
    (error, jobId) => logger.warn('progress not recorded', { jobId, error: error as Error }),
  );
  const engine = new LocalSparkEngine({
    dataDir: join(dataDir, 'engine'),
    processLog,
    ...(process.env.SPARK_HOME && { sparkHome: process.env.SPARK_HOME }),
    ...(options.minuteMs !== undefined && { minuteMs: options.minuteMs }),
    onProgress: (run, progress) => progressWriter.report(run.jobId, progress),
    progressEndpoint: dynamo.endpoint,
  });
  const artifacts = new LocalArtifacts(join(dataDir, 'artifacts'), {
    table: LOCAL_TABLE_NAME,
    region: LOCAL_AWS.region,
  });
  const webhookSecrets = localWebhookSecrets(process.env);

  // The workflow, notifier and finalizer refer to each other; each is bound once built.
  let workflow: LocalWorkflow | undefined;
  let stopping = false;
  let notifier: Notifier | undefined;
  const wiring: ApiWiring = {
    documentClient: documentClient(dynamo.client),
    tableName: LOCAL_TABLE_NAME,
    config: options.config,
    logger,
    metrics,
    intake: {
      send: async (message) => {
        usage.countSqs('SendMessage');
        intake.send(JSON.stringify(message));
      },
    },
    workflows: {
      stop: async (jobId) => workflow?.stop(jobId) ?? false,
      state: async (jobId) => {
        const status = workflow?.get(jobId)?.status;
        return status === undefined ? undefined : status;
      },
    },
    runs: new LocalRunControl(engine),
    notifier: {
      notify: async (jobId, status) => {
        await notifier?.notify(jobId, status);
      },
    },
    // Local mode: a developer may receive webhooks on plain http.
    allowInsecureWebhooks: true,
  };
  const deps = composeApi(wiring);
  // Each Lambda has its own logger; sharing one would label admission lines with an API function's context.
  const workerLogger = logger.createChild();
  let baseUrl = '';
  const launcher = new JobLauncher({
    artifacts,
    locations: artifacts.locations,
    targets: () => LOCAL_TARGETS,
    executions: {
      // Refused as Step Functions refuses a start (a name it does not take, input over its
      // limit): the job ends START_FAILED here as it would in AWS.
      startExecution: async (name, input) => {
        checkStartExecution(name, input);
        return workflow?.start(name, input) === 'started' ? 'started' : 'already-started';
      },
    },
    retentionDays: options.config.retention.days,
  });
  const starter: WorkflowStarter = options.onWorkflowStart
    ? new RecordingStarter((job) => options.onWorkflowStart?.(job, { jobEnder, jobs }))
    : launcher;
  const { admission, reconciler, warnings, jobEnder, finalizer, jobs, pools, ledger } = composeAdmission({
    ...wiring,
    logger: workerLogger,
    starter,
    ...(options.minuteMs !== undefined && { minuteMs: options.minuteMs }),
  });
  progressStore = jobs;
  notifier = new Notifier({
    jobs,
    sender: new HttpWebhookSender({ allowPrivateTargets: true }),
    secrets: webhookSecrets.secrets,
    clock: () => new Date(),
    logger: workerLogger,
  });
  const recorder = new RunRecorder({ ...wiring, jobs, ledger, logger: workerLogger });
  // Each run's last report (its end, and its cost), by run id, so the run's task can wait for it.
  const endsRecorded = new Map<string, Promise<void>>();
  engine.onStateChange((run) => {
    const recorded = recorder
      .record(runStateChange(run, baseUrl))
      .catch((error: unknown) => workerLogger.error('run state not recorded', { error: error as Error }));
    if (isTerminal(run.state)) endsRecorded.set(run.runId, recorded);
  });
  /**
   * The run on the local engine, its task ending only once the run's end (with its cost) is on the
   * job: locally a job's status shows its cost as soon as it is final. In AWS the run recorder
   * hears of the end from EventBridge, and the cost follows the final status by a moment.
   */
  const runAndRecord = async (request: Record<string, unknown>): Promise<unknown> => {
    try {
      return await runOnLocalEngine(engine, request);
    } finally {
      // The engine reports a run's end on a microtask after the run ended: let it go first.
      await new Promise((resolve) => setImmediate(resolve));
      const run = engine.runsOf(String(request.Name)).find((r) => r.clientToken === request.ClientToken);
      const recorded = run === undefined ? undefined : endsRecorded.get(run.runId);
      if (run !== undefined) endsRecorded.delete(run.runId);
      await recorded;
    }
  };
  const notifierHandler = usage.lambdaFunction(
    'libra-notifier',
    createNotifierHandler({ notifier, logger: workerLogger }),
  );
  const finalizerHandler = usage.lambdaFunction(
    'libra-finalizer',
    createFinalizerHandler({ finalizer, logger: workerLogger }),
  );
  workflow = new LocalWorkflow({
    definition: substitute(readJobWorkflow(), {
      JobTableName: LOCAL_TABLE_NAME,
      IntakeQueueUrl: LOCAL_INTAKE_URL,
      NotifierFunctionArn: LOCAL_NOTIFIER_ARN,
      FinalizerFunctionArn: LOCAL_FINALIZER_ARN,
    }),
    bindings: localBindings({
      dynamodb: dynamo.client,
      queues: new Map([
        [
          LOCAL_INTAKE_URL,
          {
            send: (body: string) => {
              usage.countSqs('SendMessage');
              return intake.send(body);
            },
          },
        ],
      ]),
      functions: new Map<string, LambdaFunction>([
        [LOCAL_NOTIFIER_ARN, (payload) => notifierHandler(payload)],
        [LOCAL_FINALIZER_ARN, (payload) => finalizerHandler(payload)],
      ]),
      spark: (_kind, request) => runAndRecord(request),
    }),
    // What the EventBridge rule on execution status does in AWS.
    onEnded: async ({ execution }) => {
      if (stopping || execution.status === 'RUNNING' || execution.status === 'SUCCEEDED') return;
      await finalizerHandler({
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
        detail: { name: execution.name, status: execution.status, cause: execution.error?.message },
      }).catch((error: unknown) => workerLogger.error('finalizer failed', { error: error as Error }));
    },
  });

  const admit = createAdmissionHandler({ admission, metrics, logger: workerLogger });
  const admissionHandler = usage.lambdaFunction('libra-admission', async (event: SQSEvent) => {
    // What Lambda's event source mapping asks of SQS for a batch: a receive and a batch delete.
    usage.countSqs('ReceiveMessage');
    usage.countSqs('DeleteMessageBatch');
    return admit(event);
  });
  const tickHandler = usage.lambdaFunction(
    'libra-tick',
    createTickHandler({ admission, reconciler, warnings, metrics, logger: workerLogger }),
  );
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

  // Requests wait while the start recovers what an earlier runtime left: until then the table
  // and the pools are not what a caller should see or act on.
  let serve: () => void = () => {};
  const serving = new Promise<void>((resolve) => {
    serve = resolve;
  });
  const whenServing =
    <A extends unknown[], R>(handler: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await serving;
      return handler(...args);
    };
  const route = (
    routeKey: string,
    functionName: string,
    handler: LambdaHandler,
    maxBodyBytes?: number,
  ): LocalRoute => ({
    routeKey,
    functionName,
    handler: usage.lambdaFunction(functionName, whenServing(handler)),
    ...(maxBodyBytes !== undefined && { maxBodyBytes }),
  });
  const routes = [
    route(
      'POST /api/v1/spark/jobs/submit',
      'libra-submit-job',
      createSubmitJobHandler(deps),
      options.config.limits.maxBodyBytes,
    ),
    route('GET /api/v1/spark/jobs', 'libra-list-jobs', createListJobsHandler(deps)),
    route('GET /api/v1/spark/jobs/{jobId}', 'libra-get-job', createGetJobHandler(deps)),
    route('GET /api/v1/spark/jobs/{jobId}/events', 'libra-list-job-events', createListJobEventsHandler(deps)),
    route('DELETE /api/v1/spark/jobs/{jobId}', 'libra-cancel-job', createCancelJobHandler(deps)),
    route(
      'POST /api/v1/spark/jobs/{jobId}/rerun',
      'libra-rerun-job',
      createRerunJobHandler({ ...deps, ...composeRerun(deps) }),
      options.config.limits.maxBodyBytes,
    ),
    route('GET /api/v1/spark/pools', 'libra-list-pools', createListPoolsHandler(deps)),
    route('GET /api/v1/spark/usage', 'libra-get-usage', createGetUsageHandler(deps)),
    route(`GET ${OPENAPI_PATH}`, 'libra-get-openapi', createGetOpenApiHandler(deps)),
  ];

  const server: Server = apiGatewayServer({
    routes,
    extra: whenServing(
      async (request, response, url) =>
        (await serveRunOutput(engine, request, response, url)) ||
        (await serveConsole(options.consoleDir ?? CONSOLE_DIST, request, response, url)),
    ),
    onHandlerError: (error, routeKey) => logger.error('handler threw', { routeKey, error: error as Error }),
  });
  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => resolve());
    });
  } catch (error) {
    clearInterval(tickTimer);
    await mapping.stop();
    await engine.close();
    await progressWriter.idle();
    intake.close();
    intakeDeadLetters.close();
    await dynamo.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    await lock?.release();
    throw listenFailure(error, host, options.port);
  }
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://${host}:${port}`;
  // A restart over persisted data goes on with the jobs an earlier runtime left in flight, then
  // mends what a crash left half-done and admits what waited, so that counters and queues are
  // right before the first request, not after the first tick.
  if (options.dataDir !== undefined) {
    await recoverAtStart({
      config: options.config,
      processLog,
      jobs,
      pools,
      launch: (job, attempt) => launcher.start(job, attempt),
      startScheduled: (job) => admission.startWorkflow(job),
      runAttempt: async (jobId, runId) => {
        const dir = await engine.outputDirOf(jobId, runId);
        return dir === undefined ? undefined : Number.parseInt(basename(dir), 10);
      },
      jobEnder,
      finalizer,
      logger: workerLogger,
      clock: () => new Date(),
    }).catch((error: unknown) => logger.error('recovery at start failed', { error: error as Error }));
  }
  await tick();
  serve();

  return {
    url: baseUrl,
    port,
    dynamoEndpoint: dynamo.endpoint,
    tableName: LOCAL_TABLE_NAME,
    metrics,
    usage,
    starter,
    engine,
    workflow,
    webhookSecret: webhookSecrets.secret,
    webhookSecretGenerated: webhookSecrets.generated,
    intake,
    intakeDeadLetters,
    parts: { admission, reconciler, warnings, jobEnder, jobs, pools },
    tick,
    async stop() {
      clearInterval(tickTimer);
      server.closeIdleConnections();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Requests still in flight get a moment to finish; then their sockets are closed.
        setTimeout(() => server.closeAllConnections(), STOP_REQUESTS_GRACE_MS).unref();
      });
      await mapping.stop();
      await ticking;
      // Work still running is dropped as a crashed machine would drop it: with --data, the
      // reconciler ends those jobs at the next start.
      stopping = true;
      for (const name of workflow?.running() ?? []) workflow?.stop(name);
      await engine.close(STOP_RUNS_GRACE_MS);
      // The last reports of the runs just stopped, before the table goes.
      await progressWriter.idle();
      await workflow?.settled();
      intake.close();
      intakeDeadLetters.close();
      await dynamo.close();
      if (scratch) await rm(scratch, { recursive: true, force: true });
      // The directory is free for the next runtime, in this process too.
      await lock?.release();
    },
  };
}
