import { edgeMiddlewares } from '#compose/edge.ts';
import { queueingFromEnvironment } from '#compose/submit.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createSubmitJobHandler } from '#handlers/submit-job.ts';

// POST /api/v1/spark/jobs.
export const handler = createSubmitJobHandler({
  ...queueingFromEnvironment(),
  edge: edgeMiddlewares(HTTP_EVENT),
});
