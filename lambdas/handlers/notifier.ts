import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { JOB_ID_PATTERN } from '#core/job-record.ts';
import { JOB_STATUSES } from '#core/job-states.ts';
import type { Notifier } from '#core/webhook.ts';
import * as z from '#core/zod.ts';

/** What the workflow's notify task passes (`arn:aws:states:::lambda:invoke`, Payload). */
export const notifierEventSchema = z.object({
  jobId: z.string().check(z.regex(JOB_ID_PATTERN)),
  status: z.enum(JOB_STATUSES),
});
export type NotifierEvent = z.infer<typeof notifierEventSchema>;

export interface NotifierResult {
  readonly delivered: boolean;
  readonly statusCode?: number;
  /** Why nothing was sent: the job is unknown, did not subscribe to the status, or had a 410. */
  readonly skipped?: 'unknown-job' | 'not-subscribed' | 'disabled';
}

/** The workflow passed something that is not a notify request; never retried. */
export class NotifierInputInvalid extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotifierInputInvalid';
  }
}

export interface NotifierHandlerDeps {
  readonly notifier: Notifier;
  readonly logger: Logger;
}

/**
 * The notifier Lambda, one invocation per subscribed event. It throws WebhookDeliveryFailed
 * (the ASL `Retry` retries it) or WebhookBlocked / NotifierInputInvalid (not retried); the
 * error's name is the `Error` the workflow sees. The ASL `Catch` then carries on.
 */
export function createNotifierHandler(deps: NotifierHandlerDeps) {
  return async (event: unknown, context?: Context): Promise<NotifierResult> => {
    if (context) deps.logger.addContext(context);
    const parsed = notifierEventSchema.safeParse(event);
    if (!parsed.success) {
      deps.logger.error('notify input is not valid', { issues: parsed.error.issues });
      throw new NotifierInputInvalid(`expected { jobId, status }: ${parsed.error.message}`);
    }
    const result = await deps.notifier.notify(parsed.data.jobId, parsed.data.status);
    if (result.delivered) return { delivered: true, statusCode: result.statusCode };
    if ('skipped' in result) return { delivered: false, skipped: result.skipped };
    return { delivered: false, statusCode: result.statusCode };
  };
}
