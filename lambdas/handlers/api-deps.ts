import type { LibraConfig } from '#core/config.ts';
import type { JobService } from '#core/job-service.ts';
import type { PoolStore, UsageLedger } from '#core/ports.ts';
import type { HttpDeps } from './http.ts';

/** What every API route needs; built once per Lambda (or once by the local runtime). */
export interface ApiDeps extends HttpDeps {
  readonly config: LibraConfig;
  readonly jobs: JobService;
  readonly pools: PoolStore;
  /** The usage totals (GET /usage). */
  readonly usage: Pick<UsageLedger, 'totals'>;
}

export { JOBS_PATH } from '#core/api-paths.ts';
