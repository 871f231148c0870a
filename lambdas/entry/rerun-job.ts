import { edgeMiddlewares } from '#compose/edge.ts';
import { composeRerun } from '#compose/rerun.ts';
import { queueingFromEnvironment } from '#compose/submit.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createRerunJobHandler } from '#handlers/rerun-job.ts';

// POST /api/v1/spark/jobs/{jobId}/rerun: a submit of a finished job's request, so composed as a
// submit is, plus the read and the link of the original on the table.
const queueing = queueingFromEnvironment();

export const handler = createRerunJobHandler({
  ...queueing,
  ...composeRerun(queueing),
  edge: edgeMiddlewares(HTTP_EVENT),
});
