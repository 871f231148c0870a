import { Construct } from 'constructs';
import { type LibraConfig, parseConfig } from '#core/config.ts';
import { IntakeQueue } from './intake-queue.ts';
import { JobApi } from './job-api.ts';
import { JobStore } from './job-store.ts';
import type { LibraProps } from './libra-props.ts';

/**
 * All of Libra in one construct, for LibraStack or for another team's app to embed:
 * `new Libra(this, 'Libra', { config })`.
 */
export class Libra extends Construct {
  readonly config: LibraConfig;
  readonly jobStore: JobStore;
  readonly intake: IntakeQueue;
  readonly jobApi: JobApi;

  constructor(scope: Construct, id: string, props: LibraProps = {}) {
    super(scope, id);
    this.config = parseConfig(props.config);
    this.jobStore = new JobStore(this, 'JobStore', props.jobStore);
    this.intake = new IntakeQueue(this, 'Intake');
    this.jobApi = new JobApi(this, 'JobApi', {
      ...props.api,
      config: this.config,
      store: this.jobStore,
      intake: this.intake,
    });
  }
}
