import { parse } from '@aws-lambda-powertools/parser';
import type * as z from '#core/zod.ts';

/**
 * Parsing a function's input against its contract with Powertools' parser (its Standard Schema
 * path): used by the deployed edge (lambdas/compose/edge.ts) and by the handlers called directly.
 */

/** Where a refused input is logged. */
export interface InvalidInputLog {
  error(message: string, extra: { issues: unknown }): void;
}

/** Input that is not what a function takes: no retry will make it valid. Its name is what the caller sees. */
export class InputInvalid extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A contract whose refusals are InputInvalid errors named `name`. */
export function eventContract<S extends z.ZodMiniType>(
  name: string,
  schema: S,
  expected: string,
): EventContract<S> {
  return { schema, expected, invalid: (message) => new InputInvalid(name, message) };
}

/** What a function's input must be, and the error it throws (its name is what the caller sees) when it is not. */
export interface EventContract<S extends z.ZodMiniType> {
  readonly schema: S;
  /** What the input should have been, for the log line and the error. */
  readonly expected: string;
  readonly invalid: (message: string) => Error;
}

/**
 * The input parsed by the contract's schema, with Powertools' parser. Input that is not what the
 * contract expects is logged once, with its issues, and refused with the contract's error: no
 * retry will make it valid.
 */
export function parseInput<S extends z.ZodMiniType>(
  contract: EventContract<S>,
  event: unknown,
  logger: InvalidInputLog,
): z.infer<S> {
  const result = parse(event, undefined, contract.schema, true);
  if (result.success) return result.data as z.infer<S>;
  const issues = result.error.cause as readonly { message: string; path?: readonly unknown[] }[];
  logger.error(`input is not ${contract.expected}`, { issues });
  const summary = issues
    .slice(0, 5)
    .map((issue) => `${(issue.path ?? []).map(String).join('.') || '(input)'}: ${issue.message}`)
    .join('; ');
  throw contract.invalid(`expected ${contract.expected}: ${summary}`);
}

/** A handler that parses its input first: the form the local runtime and the tests call. */
export function parsing<S extends z.ZodMiniType, C, R>(
  contract: EventContract<S>,
  logger: InvalidInputLog,
  handle: (input: z.infer<S>, context?: C) => Promise<R>,
): (event: unknown, context?: C) => Promise<R> {
  return async (event, context) => handle(parseInput(contract, event, logger), context);
}
