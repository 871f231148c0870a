import { type RerunJobDeps, rerunJob } from '#core/use-cases/rerun-job.ts';
import { type SubmitJobDeps, submitJob } from '#core/use-cases/submit-job.ts';

/** What a re-run needs: a submit's deps, with a job store that also links the two jobs. */
export type RerunWiring = SubmitJobDeps & { readonly jobs: SubmitJobDeps['jobs'] & RerunJobDeps['jobs'] };

/** The re-run route: the original read and linked on the table, the new job through the submit path. */
export function composeRerun(wiring: RerunWiring) {
  const { config, logger } = wiring;
  return {
    rerun: rerunJob({
      jobs: wiring.jobs,
      config,
      logger,
      submit: (principal, body, key, options) => submitJob(wiring, principal, body, key, options),
    }),
  };
}
