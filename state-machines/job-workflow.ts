import { readFileSync } from 'node:fs';

/**
 * The job workflow's `${...}` placeholders: the one list both the CDK stack (as
 * definitionSubstitutions) and the local runtime fill in before running
 * state-machines/job.asl.json.
 */
export const JOB_WORKFLOW_PLACEHOLDERS = [
  'JobTableName',
  'IntakeQueueUrl',
  'NotifierFunctionArn',
  'FinalizerFunctionArn',
] as const;

export type JobWorkflowPlaceholder = (typeof JOB_WORKFLOW_PLACEHOLDERS)[number];
export type JobWorkflowSubstitutions = Readonly<Record<JobWorkflowPlaceholder, string>>;

export const JOB_WORKFLOW_FILE = new URL('./job.asl.json', import.meta.url);

export function readJobWorkflow(): string {
  return readFileSync(JOB_WORKFLOW_FILE, 'utf8');
}

/** The definition with every placeholder filled; an unknown or unfilled placeholder is an error. */
export function substitute(definition: string, values: JobWorkflowSubstitutions): string {
  const filled = definition.replace(/\$\{(\w+)\}/g, (match, name: string) => {
    if (!(JOB_WORKFLOW_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new Error(`job.asl.json uses an unknown placeholder ${match}`);
    }
    return values[name as JobWorkflowPlaceholder];
  });
  for (const name of JOB_WORKFLOW_PLACEHOLDERS) {
    if (!values[name]) throw new Error(`no value for the job workflow placeholder \${${name}}`);
  }
  return filled;
}

/** Placeholders the definition actually uses, for the stack's check that it fills them all. */
export function placeholdersIn(definition: string): string[] {
  return [...new Set([...definition.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1] ?? ''))];
}
