import { Finalizer } from '#core/finalizer.ts';
import type { SparkRunControl } from '#core/ports.ts';
import { composeJobEnder, type JobEnderWiring } from './job-ender.ts';

/** What the finalizer needs besides the job ender: stopping a Spark run that may still be going. */
export interface FinalizerWiring extends JobEnderWiring {
  readonly runs: SparkRunControl;
}

/** The job ender, and the finalizer of jobs whose workflow execution ended. */
export function composeFinalizer(wiring: FinalizerWiring) {
  const ends = composeJobEnder(wiring);
  const finalizer = new Finalizer({
    jobs: ends.jobs,
    jobEnder: ends.jobEnder,
    runs: wiring.runs,
    clock: ends.clock,
    logger: wiring.logger,
  });
  return { ...ends, finalizer };
}
