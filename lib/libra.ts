import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type LibraConfig, parseConfig } from '#core/config.ts';
import { AdmissionFunctions } from './admission-functions.ts';
import { ArtifactsBucket } from './artifacts-bucket.ts';
import { IntakeQueue } from './intake-queue.ts';
import { JobApi } from './job-api.ts';
import { JobConsole } from './job-console.ts';
import { JobTable } from './job-table.ts';
import { JobWorkflow } from './job-workflow.ts';
import type { LibraProps } from './libra-props.ts';
import { NotifierFunction } from './notifier-function.ts';
import { Observability } from './observability.ts';
import { RunRecorderFunction } from './run-recorder-function.ts';
import { SparkBackends } from './spark-backends.ts';

/**
 * All of Libra in one construct, for LibraStack or for another team's app to embed:
 * `new Libra(this, 'Libra', { config })`.
 */
export class Libra extends Construct {
  readonly config: LibraConfig;
  readonly jobStore: JobTable;
  readonly intake: IntakeQueue;
  readonly artifacts: ArtifactsBucket;
  readonly backends: SparkBackends;
  readonly notifier: NotifierFunction;
  readonly workflow: JobWorkflow;
  readonly admission: AdmissionFunctions;
  readonly runRecorder: RunRecorderFunction;
  readonly jobApi: JobApi;
  readonly observability: Observability;
  /** The jobs console, when `console` is set. */
  readonly console: JobConsole | undefined;

  constructor(scope: Construct, id: string, props: LibraProps = {}) {
    super(scope, id);
    this.config = parseConfig(props.config);
    const logRetention = props.logRetention ?? props.api?.logRetention ?? RetentionDays.THREE_MONTHS;
    const memorySize = props.memorySize ?? 512;
    const common = { config: this.config, logRetention, memorySize };

    this.jobStore = new JobTable(this, 'JobStore', props.jobStore);
    this.intake = new IntakeQueue(this, 'Intake');
    this.artifacts = new ArtifactsBucket(this, 'Artifacts', {
      retentionDays: this.config.retention.days,
      logRetention,
      ...(props.artifactsRemovalPolicy && { removalPolicy: props.artifactsRemovalPolicy }),
    });
    this.backends = new SparkBackends(this, 'SparkBackends', {
      ...props.sparkBackends,
      config: this.config,
      artifacts: this.artifacts,
      jobTable: this.jobStore,
    });
    this.notifier = new NotifierFunction(this, 'Notifier', {
      ...props.notifier,
      ...common,
      store: this.jobStore,
    });
    this.workflow = new JobWorkflow(this, 'Workflow', {
      ...props.workflow,
      ...common,
      store: this.jobStore,
      intake: this.intake,
      notifier: this.notifier,
      backends: this.backends,
    });
    this.admission = new AdmissionFunctions(this, 'Admission', {
      ...props.admission,
      ...common,
      oldestWaitShare: props.observability?.oldestWaitShare,
      store: this.jobStore,
      intake: this.intake,
      workflow: this.workflow,
      notifier: this.notifier,
      backends: this.backends,
      artifacts: this.artifacts,
    });
    this.runRecorder = new RunRecorderFunction(this, 'RunRecorder', {
      ...common,
      store: this.jobStore,
      backends: this.backends,
      artifacts: this.artifacts,
    });
    this.jobApi = new JobApi(this, 'JobApi', {
      ...props.api,
      config: this.config,
      serverErrorRate: props.observability?.apiServerErrorRate,
      store: this.jobStore,
      intake: this.intake,
    });
    // Cancel stops the job's execution, and ends at once a job that has none: it cancels the
    // run, if any, and notifies, as the finalizer would.
    const cancel = this.jobApi.functions.CancelJob;
    this.workflow.grantControl(cancel);
    this.backends.grantCancelRuns(cancel);
    this.notifier.grantInvoke(cancel);

    this.console = this.#console(props, logRetention);

    // Observability sends every construct's alarms to its one topic and graphs the constructs' metrics.
    this.observability = new Observability(this, 'Observability', {
      config: this.config,
      api: this.jobApi,
      intake: this.intake,
      admission: this.admission,
      workflow: this.workflow,
      notifier: this.notifier,
      runRecorder: this.runRecorder,
    });
  }

  #console(props: LibraProps, logRetention: RetentionDays): JobConsole | undefined {
    if (!props.console) return undefined;
    const auth = this.config.auth;
    if (auth.mode !== 'jwt') {
      throw new Error(
        'libra console: published for JWT deployments only (auth.mode is iam): a browser cannot sign ' +
          'IAM requests; see docs/deploy.md for using the console with an IAM deployment',
      );
    }
    const jobConsole = new JobConsole(this, 'Console', {
      ...(props.console === true ? {} : props.console),
      apiUrl: this.jobApi.url,
      jwtIssuer: auth.issuer,
      accessLogsBucket: this.artifacts.accessLogsBucket,
      logRetention,
    });
    this.jobApi.allowBrowserOrigin(`https://${jobConsole.distribution.distributionDomainName}`);
    return jobConsole;
  }
}
