import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readJobWorkflow } from '../../state-machines/job-workflow.ts';

/** The state-machine files and what the ASL checks need of them. */

export const STATE_MACHINES_DIR = new URL('../../state-machines/', import.meta.url);

export interface AslRetrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts: number;
  readonly BackoffRate?: number;
}

export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly TimeoutSeconds?: number;
  readonly TimeoutSecondsPath?: string;
  readonly Retry?: readonly AslRetrier[];
  readonly Iterator?: AslDefinition;
  readonly ItemProcessor?: AslDefinition;
  readonly Branches?: readonly AslDefinition[];
}

export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
}

/** Every `*.asl.json` under state-machines/, by file name. */
export function aslFiles(): { name: string; text: string }[] {
  return readdirSync(STATE_MACHINES_DIR)
    .filter((name) => name.endsWith('.asl.json'))
    .sort()
    .map((name) => ({ name, text: readFileSync(new URL(name, STATE_MACHINES_DIR), 'utf8') }));
}

export function jobWorkflowDefinition(): AslDefinition {
  return JSON.parse(readJobWorkflow()) as AslDefinition;
}

/** Every state with its path, nested Map and Parallel states included. */
export function allStates(definition: AslDefinition, prefix = ''): { path: string; state: AslState }[] {
  const found: { path: string; state: AslState }[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    const path = `${prefix}${name}`;
    found.push({ path, state });
    for (const nested of [state.Iterator, state.ItemProcessor, ...(state.Branches ?? [])]) {
      if (nested) found.push(...allStates(nested, `${path}/`));
    }
  }
  return found;
}

/** The Retry entry of a state that retries `error`. */
export function retrierOf(definition: AslDefinition, stateName: string, error: string): AslRetrier {
  const retrier = definition.States[stateName]?.Retry?.find((r) => r.ErrorEquals.includes(error));
  if (!retrier) throw new Error(`${stateName} has no Retry for ${error}`);
  return retrier;
}

export interface AslValidation {
  readonly isValid: boolean;
  readonly errors: readonly unknown[];
  errorsText(separator?: string): string;
}

type AslValidator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => AslValidation;

/** asl-validator's JS API (a CommonJS module without types). */
export const validateAsl = createRequire(import.meta.url)('asl-validator') as AslValidator;

/** The states a successful run on EMR Serverless enters, in order. */
export const HAPPY_PATH_STATES = [
  'MarkRunning',
  'RecordRunning',
  'BeforeRun',
  'RunOnEmrServerless',
  'MarkSucceeded',
  'RecordFinal',
  'Release',
  'Wake',
  'NotifyFinal',
];

/** The states a run whose state timed out (no retry on timeout) enters, in order. */
export const TIMEOUT_PATH_STATES = [
  'MarkRunning',
  'RecordRunning',
  'BeforeRun',
  'RunOnEmrServerless',
  'TimedOut',
  'OnTimeout',
  'MarkTimeout',
  'StopRun',
  'RecordFinal',
  'Release',
  'Wake',
  'NotifyFinal',
];
