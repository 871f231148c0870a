import { composeApi } from '#adapters/compose.ts';
import { edgeMiddlewares } from '#adapters/edge.ts';
import { queueingWiringFromEnvironment } from '#adapters/queueing-wiring.ts';
import { HTTP_EVENT } from '#handlers/http.ts';
import { createSubmitJobHandler } from '#handlers/submit-job.ts';

// POST /api/v1/spark/jobs.
// At init: DynamoDB (every submit writes the job and reserves its place) and SQS (every accepted
// submit wakes admission). Never: Step Functions, EMR, Lambda, S3 — a submit stops nothing and
// ends no job.
export const handler = createSubmitJobHandler({
  ...composeApi(queueingWiringFromEnvironment()),
  edge: edgeMiddlewares(HTTP_EVENT),
});
