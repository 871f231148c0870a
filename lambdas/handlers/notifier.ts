import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { Notifier } from '#core/webhook.ts';
import { type NotifyRequest, notifyRequest } from './events.ts';
import { type EventContract, InputInvalid, parsing } from './parse-input.ts';

export interface NotifierResult {
  readonly delivered: boolean;
  readonly statusCode?: number;
  /** Why nothing was sent: the job is unknown, did not subscribe to the status, or had a 410. */
  readonly skipped?: 'unknown-job' | 'not-subscribed' | 'disabled';
}

/** The workflow passed something that is not a notify request; never retried. */
export class NotifierInputInvalid extends InputInvalid {
  constructor(message: string) {
    super('NotifierInputInvalid', message);
  }
}

/** The notifier's input: a notify request, or NotifierInputInvalid, which the workflow does not retry. */
export const NOTIFIER_INPUT: EventContract<typeof notifyRequest> = {
  schema: notifyRequest,
  expected: 'a notify request { jobId, status }',
  invalid: (message) => new NotifierInputInvalid(message),
};

export interface NotifierHandlerDeps {
  readonly notifier: Notifier;
  readonly logger: Logger;
}

/**
 * The notifier Lambda, one invocation per subscribed event. It throws WebhookDeliveryFailed
 * (the ASL `Retry` retries it) or WebhookBlocked / NotifierInputInvalid (not retried); the
 * error's name is the `Error` the workflow sees. The ASL `Catch` then carries on.
 */
export function createNotifier(deps: NotifierHandlerDeps) {
  return async (request: NotifyRequest): Promise<NotifierResult> => {
    const result = await deps.notifier.notify(request.jobId, request.status);
    if (result.delivered) return { delivered: true, statusCode: result.statusCode };
    if ('skipped' in result) return { delivered: false, skipped: result.skipped };
    return { delivered: false, statusCode: result.statusCode };
  };
}

/** The notifier parsing its input first, with the invocation's context in its logs when given one. */
export function createNotifierHandler(deps: NotifierHandlerDeps) {
  const notify = parsing(NOTIFIER_INPUT, deps.logger, createNotifier(deps));
  return async (event: unknown, context?: Context): Promise<NotifierResult> => {
    if (context) deps.logger.addContext(context);
    return notify(event);
  };
}
