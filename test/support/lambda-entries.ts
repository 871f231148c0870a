import type { Context } from 'aws-lambda';

/**
 * The deployed functions' entries (lambdas/entry, and the custom resource in lib) loaded in this
 * process as Lambda loads them: each module imported once, with the environment its function has
 * in the template (deploy-time values resolved) set while it initializes, since entries read
 * their configuration at init.
 */

/** Each Libra function, by its construct path under the stack, and the module that is its handler. */
export const FUNCTION_ENTRIES: Readonly<Record<string, string>> = {
  'JobApi/SubmitJob': '../../lambdas/entry/submit-job.ts',
  'JobApi/ListJobs': '../../lambdas/entry/list-jobs.ts',
  'JobApi/GetJob': '../../lambdas/entry/get-job.ts',
  'JobApi/ListJobEvents': '../../lambdas/entry/list-job-events.ts',
  'JobApi/CancelJob': '../../lambdas/entry/cancel-job.ts',
  'JobApi/RerunJob': '../../lambdas/entry/rerun-job.ts',
  'JobApi/ListPools': '../../lambdas/entry/list-pools.ts',
  'JobApi/GetUsage': '../../lambdas/entry/get-usage.ts',
  'JobApi/GetOpenApi': '../../lambdas/entry/get-openapi.ts',
  'Admission/Admission': '../../lambdas/entry/admission.ts',
  'Admission/Tick': '../../lambdas/entry/tick.ts',
  'Workflow/Finalizer': '../../lambdas/entry/finalizer.ts',
  'Notifier/Notifier': '../../lambdas/entry/notifier.ts',
  'Notifier/SecretWriter': '../../lib/webhook-secret-handler.ts',
  'RunRecorder/RunRecorder': '../../lambdas/entry/run-recorder.ts',
  'Observability/WorkflowEnds': '../../lambdas/entry/workflow-ended.ts',
};

export type Handler = (event: unknown, context: Context) => Promise<unknown>;

let previous: string[] = [];

/** Imports a function's handler with its environment: `common` (the runtime's own variables) and `variables`. */
export async function loadEntry(
  path: string,
  common: Readonly<Record<string, string>>,
  variables: Readonly<Record<string, string>>,
): Promise<Handler> {
  const module = FUNCTION_ENTRIES[path];
  if (!module) throw new Error(`no entry known for the function ${path}: add it to FUNCTION_ENTRIES`);
  for (const name of previous) delete process.env[name];
  const environment = { ...common, ...variables };
  Object.assign(process.env, environment);
  previous = Object.keys(variables);
  const loaded = (await import(/* @vite-ignore */ new URL(module, import.meta.url).href)) as {
    handler: Handler;
  };
  return loaded.handler;
}

let invocation = 0;

/** The context Lambda hands an invocation of `functionName`, each with a request id of its own. */
export function lambdaContext(functionName: string, region = 'eu-west-1', account = '123456789012'): Context {
  invocation++;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${account}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: `c6af9ac6-7b61-11e6-9a41-${String(invocation).padStart(12, '0')}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2025/01/01/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
