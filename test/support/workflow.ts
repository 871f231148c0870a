import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { DynamoPoolStore } from '#adapters/dynamo-pool-store.ts';
import { DynamoUsageLedger } from '#adapters/dynamo-usage-ledger.ts';
import { createJobTableInput } from '#adapters/table-definition.ts';
import { localWebhookSecrets } from '#adapters/webhook-sender.ts';
import { finalizeStoppedBy } from '#compose/cancel.ts';
import { Admission } from '#core/admission.ts';
import type { LibraConfig } from '#core/config.ts';
import { Finalizer } from '#core/finalizer.ts';
import { JobEnder } from '#core/job-ender.ts';
import { type JobEvent, newJobId } from '#core/job-record.ts';
import { JobLauncher } from '#core/launcher.ts';
import type {
  ExecutionStarter,
  IntakeMessage,
  IntakeQueue,
  Lease,
  SparkRunControl,
  WorkflowControl,
} from '#core/ports.ts';
import { RunRecorder } from '#core/run-recorder.ts';
import { type CancelResult, cancelJob } from '#core/use-cases/cancel-job.ts';
import { type SubmitResult, submitJob } from '#core/use-cases/submit-job.ts';
import { Notifier, type WebhookJob, type WebhookRequest, type WebhookResponse } from '#core/webhook.ts';
import type { BackendTargets, WorkflowInput } from '#core/workflow-input.ts';
import { createFinalizerHandler } from '#handlers/finalizer.ts';
import { createNotifierHandler } from '#handlers/notifier.ts';
import { InMemoryMetrics } from '../../local/metrics.ts';
import { LocalQueue } from '../../local/queue.ts';
import { type LambdaFunction, localBindings, TaskError } from '../../local/workflow/bindings.ts';
import { type ExecutionEnd, type LocalExecution, LocalWorkflow } from '../../local/workflow/runner.ts';
import { readJobWorkflow, substitute } from '../../state-machines/job-workflow.ts';
import { iamCaller, silentLogger, testConfig } from './api.ts';
import type { TestDatabase } from './dynalite.ts';

/**
 * The job workflow (state-machines/job.asl.json) on the local interpreter, for named ASL
 * scenarios: the real job record, pool lease, history, intake queue and use cases (submitJob
 * and cancelJob, Admission, JobEnder, Finalizer, Notifier) over dynalite and a LocalQueue,
 * with only the outside world scripted per scenario — the Spark backend (each StartJobRun
 * call follows the next step of a script) and the webhook receiver.
 */

export const OWNER = iamCaller('asl-scenarios');

const INTAKE_URL = 'http://127.0.0.1/000000000000/asl-intake';
const NOTIFIER_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:asl-notifier';
const FINALIZER_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:asl-finalizer';
const TARGETS: BackendTargets = {
  emrServerless: { applicationId: 'app-asl', executionRoleArn: 'arn:aws:iam::000000000000:role/asl' },
  eks: {
    virtualClusterId: 'vc-asl',
    executionRoleArn: 'arn:aws:iam::000000000000:role/asl',
    releaseLabel: 'emr-7.5.0-latest',
  },
};

/**
 * What one StartJobRun.sync call does:
 * - `succeed`: the run starts and ends in SUCCESS;
 * - `fail`: the run starts and ends in FAILED (the `.sync` task fails with States.TaskFailed);
 * - `throw`: the API call itself fails with this error (e.g. EMRServerless.ThrottlingException), no run;
 * - `hang`: the run starts and never ends until it is cancelled (CancelJobRun through the finalizer);
 * - `endsUnseen`: the run ends in `state` (its event recorded) but the `.sync` task has not seen it
 *   yet, and does not until the run is cancelled: a cancel racing the run's end.
 */
export type SparkStep =
  | { readonly kind: 'succeed' }
  | { readonly kind: 'fail'; readonly message: string }
  | { readonly kind: 'throw'; readonly error: string }
  | { readonly kind: 'hang' }
  /** Runs until finish(jobId), then succeeds; a cancel stops it as it stops a hanging run. */
  | { readonly kind: 'held' }
  | { readonly kind: 'endsUnseen'; readonly state: 'SUCCESS' | 'FAILED' };

export const succeed: SparkStep = { kind: 'succeed' };
export const hang: SparkStep = { kind: 'hang' };
export const held: SparkStep = { kind: 'held' };
export const fail = (message = 'Job failed: ERROR Executor lost'): SparkStep => ({ kind: 'fail', message });
export const throwError = (error: string): SparkStep => ({ kind: 'throw', error });
export const endsUnseen = (state: 'SUCCESS' | 'FAILED'): SparkStep => ({ kind: 'endsUnseen', state });

export interface SparkCall {
  readonly kind: 'emr-serverless' | 'eks';
  readonly jobId: string;
  readonly clientToken: string;
  readonly attempt: number;
  readonly request: Readonly<Record<string, unknown>>;
  readonly step: SparkStep | 'unexpected';
  readonly startedAt: number;
  endedAt?: number;
  /** SUCCESS, FAILED, CANCELLED for runs; the error name for calls that failed before a run. */
  end?: string;
}

/**
 * A Spark backend that follows a script, one step per StartJobRun call, and reports its runs'
 * states as EMR's job-run state-change events are recorded (RunRecorder): run id, state.
 * A call beyond the script is recorded as 'unexpected' and fails.
 */
export class ScriptedSpark implements SparkRunControl {
  readonly calls: SparkCall[] = [];
  /** Job ids whose runs the finalizer asked to cancel. */
  readonly cancels: string[] = [];
  readonly #script: readonly SparkStep[];
  readonly #hanging = new Map<SparkCall, () => void>();
  readonly #finishing = new Map<SparkCall, () => void>();
  #recorder: RunRecorder | undefined;

  constructor(script: readonly SparkStep[]) {
    this.#script = script;
  }

  attach(recorder: RunRecorder): void {
    this.#recorder = recorder;
  }

  get unexpected(): SparkCall[] {
    return this.calls.filter((call) => call.step === 'unexpected');
  }

  /** Milliseconds from the end of call `index - 1` to the start of call `index`. */
  pauseBefore(index: number): number {
    const before = this.calls[index - 1];
    const call = this.calls[index];
    if (before?.endedAt === undefined || call === undefined)
      throw new Error(`no calls ${index - 1} and ${index}`);
    return call.startedAt - before.endedAt;
  }

  /** Runs that are still going. */
  get running(): SparkCall[] {
    return [...this.#hanging.keys()];
  }

  readonly run = async (
    kind: 'emr-serverless' | 'eks',
    request: Record<string, unknown>,
  ): Promise<unknown> => {
    const jobId = String(request.Name);
    const clientToken = String(request.ClientToken);
    const step = this.#script[this.calls.length] ?? 'unexpected';
    const call: SparkCall = {
      kind,
      jobId,
      clientToken,
      attempt: Number(/-(\d+)$/.exec(clientToken)?.[1]),
      request,
      step,
      startedAt: Date.now(),
    };
    this.calls.push(call);
    const runId = `jr-${clientToken}`;
    if (step === 'unexpected') {
      call.end = 'unexpected';
      call.endedAt = Date.now();
      throw new TaskError('States.TaskFailed', 'a StartJobRun call the scenario did not script');
    }
    if (step.kind === 'throw') {
      call.end = step.error;
      call.endedAt = Date.now();
      throw new TaskError(step.error, `${step.error}: scripted`);
    }
    await this.#report(jobId, runId, 'RUNNING');
    let state: string;
    let details = '';
    if (step.kind === 'hang') {
      await new Promise<void>((resolve) => this.#hanging.set(call, resolve));
      state = 'CANCELLED';
      details = 'Job run cancelled';
    } else if (step.kind === 'held') {
      const finished = await new Promise<boolean>((resolve) => {
        this.#hanging.set(call, () => resolve(false));
        this.#finishing.set(call, () => resolve(true));
      });
      this.#hanging.delete(call);
      this.#finishing.delete(call);
      state = finished ? 'SUCCESS' : 'CANCELLED';
    } else if (step.kind === 'endsUnseen') {
      state = step.state;
      await this.#report(jobId, runId, state);
      await new Promise<void>((resolve) => this.#hanging.set(call, resolve));
    } else if (step.kind === 'fail') {
      state = 'FAILED';
      details = step.message;
    } else {
      state = 'SUCCESS';
    }
    // The run's end is known before it is reported: the report (its cost included) takes its own time.
    call.end = state;
    if (step.kind !== 'endsUnseen') await this.#report(jobId, runId, state, details);
    call.endedAt = Date.now();
    const description = { JobRunId: runId, State: state, StateDetails: details };
    if (state === 'SUCCESS') return description;
    throw new TaskError('States.TaskFailed', JSON.stringify(description));
  };

  /** Ends the job's held runs with SUCCESS. */
  finish(jobId: string): void {
    for (const [call, end] of this.#finishing) if (call.jobId === jobId) end();
  }

  /** CancelJobRun for every run of the job still going. */
  async cancelRun(job: { readonly jobId: string }): Promise<void> {
    this.cancels.push(job.jobId);
    for (const [call, end] of this.#hanging) {
      if (call.jobId !== job.jobId) continue;
      this.#hanging.delete(call);
      end();
    }
  }

  async #report(jobId: string, runId: string, state: string, details?: string): Promise<void> {
    await this.#recorder?.record({
      jobId,
      runId,
      state,
      ...(details && { details }),
      at: new Date().toISOString(),
    });
  }
}

/** A webhook receiver as the notifier's sender sees it: answers with the scripted status codes. */
export class ScriptedSender {
  readonly sent: WebhookRequest[] = [];
  readonly #answer: (request: WebhookRequest, index: number) => number;

  constructor(answer: (request: WebhookRequest, index: number) => number = () => 200) {
    this.#answer = answer;
  }

  async send(request: WebhookRequest): Promise<WebhookResponse> {
    this.sent.push(request);
    return { outcome: 'response', statusCode: this.#answer(request, this.sent.length - 1), durationMs: 1 };
  }

  /** The `type` of each message sent, e.g. job.running. */
  get types(): string[] {
    return this.sent.map((request) => (JSON.parse(request.body) as { type: string }).type);
  }
}

export interface HarnessOptions {
  readonly spark: readonly SparkStep[];
  readonly sender?: ScriptedSender;
  /** Changes the workflow input admission computed, e.g. a 1-second run timeout. */
  readonly input?: (input: WorkflowInput) => WorkflowInput;
  readonly config?: LibraConfig;
  /** Admission's StartExecution is held until releaseStarts(): a job cancelled before it runs. */
  readonly holdStarts?: boolean;
}

export interface StartedJob {
  readonly jobId: string;
  readonly execution: LocalExecution;
}

export interface ScenarioWorldOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly config?: LibraConfig;
  readonly sender?: ScriptedSender;
  readonly spark: ScriptedSpark;
  /** Where submit and the job ender send intake messages. */
  readonly intake: IntakeQueue;
  /** Admission's StartExecution, with the input admission computed. */
  readonly executions: ExecutionStarter;
  /** The cancel's StopExecution and DescribeExecution. */
  readonly workflows: WorkflowControl;
}

/** Submit and cancel, as the API's routes call them, on one scenario's stores. */
export interface ScenarioService {
  submit(principal: string, body: unknown): Promise<SubmitResult>;
  cancel(principal: string, jobId: string): Promise<CancelResult>;
}

/**
 * The use cases around one scenario's workflow, whatever interpreter runs it: job and pool stores
 * on the scenario's table, submit and cancel (as their routes call them), admission with the launcher, and the
 * finalizer and notifier with their Lambda handlers; only the Spark backend and the webhook
 * receiver are scripted.
 */
export function scenarioWorld(options: ScenarioWorldOptions) {
  const config = options.config ?? testConfig();
  const logger = silentLogger();
  const clock = () => new Date();
  const { intake, spark } = options;
  const sender = options.sender ?? new ScriptedSender();
  const jobs = new DynamoJobStore({
    client: options.client,
    tableName: options.tableName,
    retentionDays: config.retention.days,
  });
  const pools = new DynamoPoolStore({ client: options.client, tableName: options.tableName });
  const ledger = new DynamoUsageLedger({ client: options.client, tableName: options.tableName });
  const notifier = new Notifier({ jobs, sender, secrets: localWebhookSecrets({}).secrets, clock, logger });
  const notify = {
    notify: async (jobId: string, status: Parameters<Notifier['notify']>[1]) => {
      await notifier.notify(jobId, status);
    },
  };
  const metrics = new InMemoryMetrics();
  const jobEnder = new JobEnder({ jobs, pools, intake, notifier: notify, clock, logger, metrics });
  const finalizer = new Finalizer({ jobs, jobEnder, runs: spark, clock, logger });
  const launcher = new JobLauncher({
    artifacts: { putCode: async () => undefined },
    locations: {
      runnersUri: 's3://asl-artifacts/runners/',
      codeUri: (jobId, jobType) =>
        `s3://asl-artifacts/jobs/${jobId}/code.${jobType === 'sql' ? 'sql' : 'py'}`,
    },
    targets: () => TARGETS,
    executions: options.executions,
    retentionDays: config.retention.days,
  });
  const admission = new Admission({
    config,
    jobs,
    pools,
    starter: launcher,
    jobEnder,
    metrics,
    clock,
    logger,
  });
  const service: ScenarioService = {
    submit: (principal, body) =>
      submitJob(
        {
          jobs,
          pools,
          spend: ledger,
          intake,
          metrics,
          logger,
          config,
          clock,
          newJobId,
          allowInsecureWebhooks: true,
        },
        principal,
        body,
      ),
    cancel: (principal, jobId) =>
      cancelJob(
        {
          jobs,
          config,
          workflows: options.workflows,
          jobEnder,
          finalizeStopped: finalizeStoppedBy(finalizer),
          clock,
        },
        principal,
        jobId,
      ),
  };
  return {
    config,
    logger,
    sender,
    metrics,
    jobs,
    pools,
    ledger,
    finalizer,
    admission,
    service,
    /** The run recorder on the scenario's table, as the deployed function composes it. */
    recorder: new RunRecorder({ jobs, ledger, config, metrics, logger }),
    finalizerHandler: createFinalizerHandler({ finalizer, logger }),
    notifierHandler: createNotifierHandler({ notifier, logger }),
    /** Submits the job as its route does and admits it (lease, SCHEDULED, StartExecution). */
    async submitAndAdmit(body: Record<string, unknown>): Promise<string> {
      const { job } = await service.submit(OWNER, body);
      const outcome = await admission.admitPool(job.pool);
      if (!outcome.admitted.includes(job.jobId)) {
        throw new Error(`job ${job.jobId} was not admitted: ${JSON.stringify(outcome)}`);
      }
      return job.jobId;
    },
  };
}

let tables = 0;

/** One scenario's world: its own table on the shared dynalite, queue, workflow and use cases. */
export class WorkflowHarness {
  readonly tableName: string;
  readonly intake: LocalQueue;
  readonly spark: ScriptedSpark;
  readonly sender: ScriptedSender;
  /** What the job ender and admission counted (jobsFinished for the ends outside the workflow). */
  readonly metrics: InMemoryMetrics;
  readonly jobs: DynamoJobStore;
  readonly pools: DynamoPoolStore;
  readonly service: ScenarioService;
  readonly admission: Admission;
  readonly workflow: LocalWorkflow;
  /** Payloads the workflow's lambda:invoke tasks sent to the finalizer function (StopRun). */
  readonly finalizerInvocations: unknown[] = [];
  /** Payloads the workflow's lambda:invoke tasks sent to the notifier function. */
  readonly notifierInvocations: unknown[] = [];
  /** Executions that ended other than by succeeding (what the EventBridge rule sees). */
  readonly ended: ExecutionEnd[] = [];
  readonly #received: IntakeMessage[] = [];
  readonly #world: ReturnType<typeof scenarioWorld>;
  readonly #held: (() => void)[] = [];

  private constructor(db: TestDatabase, tableName: string, options: HarnessOptions) {
    this.tableName = tableName;
    this.intake = new LocalQueue({ name: 'asl-intake', visibilityTimeoutSeconds: 300 });
    this.spark = new ScriptedSpark(options.spark);
    const adjust = options.input ?? ((input) => input);
    const world = scenarioWorld({
      client: db.documentClient,
      tableName,
      ...(options.config && { config: options.config }),
      ...(options.sender && { sender: options.sender }),
      spark: this.spark,
      intake: {
        send: async (message) => {
          this.intake.send(JSON.stringify(message));
        },
      },
      executions: {
        startExecution: async (name, input) => {
          const start = () => this.workflow.start(name, adjust(input as WorkflowInput));
          if (options.holdStarts) {
            this.#held.push(() => void start());
            return 'started';
          }
          return start() === 'started' ? 'started' : 'already-started';
        },
      },
      workflows: {
        stop: async (jobId) => this.workflow.stop(jobId),
        state: async (jobId) => this.workflow.get(jobId)?.status,
      },
    });
    this.#world = world;
    this.sender = world.sender;
    this.metrics = world.metrics;
    this.jobs = world.jobs;
    this.pools = world.pools;
    this.service = world.service;
    this.admission = world.admission;
    this.spark.attach(world.recorder);
    const { finalizerHandler, notifierHandler } = world;

    this.workflow = new LocalWorkflow({
      definition: substitute(readJobWorkflow(), {
        JobTableName: tableName,
        IntakeQueueUrl: INTAKE_URL,
        NotifierFunctionArn: NOTIFIER_ARN,
        FinalizerFunctionArn: FINALIZER_ARN,
      }),
      bindings: localBindings({
        dynamodb: db.client,
        queues: new Map([[INTAKE_URL, this.intake]]),
        functions: new Map<string, LambdaFunction>([
          [
            NOTIFIER_ARN,
            (payload) => {
              this.notifierInvocations.push(payload);
              return notifierHandler(payload);
            },
          ],
          [
            FINALIZER_ARN,
            (payload) => {
              this.finalizerInvocations.push(payload);
              return finalizerHandler(payload);
            },
          ],
        ]),
        spark: this.spark.run,
      }),
      // The EventBridge rule on ABORTED / FAILED / TIMED_OUT, as the local runtime wires it.
      onEnded: async (end) => {
        this.ended.push(end);
        await finalizerHandler({
          source: 'aws.states',
          'detail-type': 'Step Functions Execution Status Change',
          detail: {
            name: end.execution.name,
            status: end.execution.status,
            cause: end.execution.error?.message,
          },
        });
      },
    });
  }

  static async create(db: TestDatabase, options: HarnessOptions): Promise<WorkflowHarness> {
    const tableName = `asl-${process.pid}-${++tables}`;
    await db.client.send(new CreateTableCommand(createJobTableInput(tableName)));
    return new WorkflowHarness(db, tableName, options);
  }

  /** Submits the job as its route does and admits it (lease, SCHEDULED, StartExecution). */
  async start(body: Record<string, unknown>): Promise<StartedJob> {
    const jobId = await this.#world.submitAndAdmit(body);
    const execution = this.workflow.get(jobId);
    if (!execution) throw new Error(`no execution started for ${jobId}`);
    return { jobId, execution };
  }

  /** Submits and admits the job with its start held (options.holdStarts); releaseStarts() starts it. */
  async admitHeld(body: Record<string, unknown>): Promise<string> {
    return this.#world.submitAndAdmit(body);
  }

  /** Starts the executions admission started while starts were held. */
  releaseStarts(): void {
    for (const start of this.#held.splice(0)) start();
  }

  async job(jobId: string): Promise<WebhookJob> {
    const job = await this.jobs.getJob(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    return job;
  }

  async events(jobId: string): Promise<(JobEvent & Record<string, unknown>)[]> {
    return (await this.jobs.listEvents(jobId)) as (JobEvent & Record<string, unknown>)[];
  }

  /** The STATUS history items' statuses, oldest first. */
  async statusHistory(jobId: string): Promise<string[]> {
    return (await this.events(jobId)).filter((e) => e.type === 'STATUS').map((e) => String(e.status));
  }

  async lease(jobId: string, pool = 'default'): Promise<Lease | undefined> {
    return (await this.pools.getPool(pool)).leases[jobId];
  }

  /** Every message sent to the intake queue so far (received and kept here). */
  intakeMessages(): IntakeMessage[] {
    for (;;) {
      const batch = this.intake.receive(10);
      if (batch.length === 0) break;
      for (const message of batch) {
        this.#received.push(JSON.parse(message.body) as IntakeMessage);
        this.intake.deleteMessage(message.receiptHandle);
      }
    }
    return [...this.#received];
  }

  wakes(jobId: string): IntakeMessage[] {
    return this.intakeMessages().filter((message) => message.kind === 'wake' && message.jobId === jobId);
  }

  /** Ends whatever still runs: hanging runs cancelled, executions stopped. */
  async close(): Promise<void> {
    for (const name of this.workflow.running()) this.workflow.stop(name);
    for (const call of this.spark.running) await this.spark.cancelRun(call);
    await this.workflow.settled();
    this.intake.close();
  }
}

/** Polls until `check` returns something other than undefined or false. */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
