import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse } from 'aws-lambda';
import type { Admission, AdmitOutcome } from '#core/admission.ts';
import type { MetricsSink } from '#core/ports.ts';
import { type IntakeMessage, intakeRecordBody, sqsEvent } from './events.ts';
import { eventContract, parseInput } from './parse-input.ts';

/** Not an intake message: it fails every time and ends in the dead-letter queue, where it can be read. */
const INTAKE_MESSAGE = eventContract('IntakeMessageInvalid', intakeRecordBody, 'an intake message');

/** The SQS event itself: an event that is not one is refused whole, as no record of it can be read. */
export const SQS_EVENT = eventContract('IntakeMessageInvalid', sqsEvent, 'an SQS event');

/** What admission reads of an SQS event: each record's id, for its failure, and its body. */
export interface IntakeBatch {
  readonly Records: readonly IntakeRecord[];
}
type IntakeRecord = { readonly messageId: string; readonly body: string };

export interface AdmissionHandlerDeps {
  readonly admission: Admission;
  readonly metrics: MetricsSink;
  readonly logger: Logger;
}

/**
 * The admission Lambda on the intake queue. A batch is many wake-ups; one admission pass per
 * pool answers all of a pool's messages. Records of a pool whose pass failed are reported as
 * batch item failures and come back after the visibility timeout; a message that is not an
 * intake message fails every time and ends in the dead-letter queue, where it can be read.
 */
export function createAdmissionHandler(deps: AdmissionHandlerDeps) {
  return async (event: IntakeBatch): Promise<SQSBatchResponse> => {
    const passes = new Map<string, Promise<AdmitOutcome>>();
    const recordHandler = async (record: IntakeRecord): Promise<void> => {
      const message: IntakeMessage = parseInput(INTAKE_MESSAGE, record.body, {
        error: (text, extra) => deps.logger.error(text, { messageId: record.messageId, ...extra }),
      });
      let pass = passes.get(message.pool);
      if (!pass) {
        pass = deps.admission.admitPool(message.pool);
        passes.set(message.pool, pass);
      }
      await pass;
    };
    try {
      const processor = new BatchProcessor(EventType.SQS);
      const response = await processPartialResponse(
        { Records: [...event.Records] },
        recordHandler,
        processor,
        {
          throwOnFullBatchFailure: false,
        },
      );
      for (const [pool, pass] of passes) {
        const outcome = await pass.catch(() => undefined);
        if (outcome && (outcome.admitted.length > 0 || outcome.blockedBy)) {
          deps.logger.info('admission pass', {
            pool,
            admitted: outcome.admitted.length,
            blockedBy: outcome.blockedBy,
          });
        }
      }
      return response;
    } finally {
      deps.metrics.flush();
    }
  };
}
