import { composeRerun } from '#adapters/compose.ts';
import { edgeMiddlewares } from '#adapters/edge.ts';
import { queueingWiringFromEnvironment } from '#adapters/queueing-wiring.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createRerunJobHandler } from '#handlers/rerun-job.ts';

// POST /api/v1/spark/jobs/{jobId}/rerun: a submit of a finished job's request.
// At init: DynamoDB (every re-run reads the original, writes the new job, reserves its place and
// links the two) and SQS (every accepted re-run wakes admission). Never: Step Functions, EMR,
// Lambda, S3 — a re-run stops nothing and ends no job.
export const handler = createRerunJobHandler({
  ...composeRerun(queueingWiringFromEnvironment()),
  edge: edgeMiddlewares(HTTP_EVENT),
});
