import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Admission, AdmitOutcome } from '#core/admission.ts';
import type { MetricsSink } from '#core/ports.ts';
import * as z from '#core/zod.ts';

/** What the intake queue carries: a submitted job, or a wake after capacity was released. */
export const intakeMessageSchema = z.strictObject({
  kind: z.enum(['submitted', 'wake']),
  pool: z.string().check(z.minLength(1)),
  jobId: z.optional(z.string()),
});

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
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const passes = new Map<string, Promise<AdmitOutcome>>();
    const recordHandler = async (record: SQSRecord): Promise<void> => {
      let message: z.infer<typeof intakeMessageSchema>;
      try {
        message = intakeMessageSchema.parse(JSON.parse(record.body));
      } catch (error) {
        deps.logger.error('intake message is not valid', {
          messageId: record.messageId,
          error: error as Error,
        });
        throw error;
      }
      let pass = passes.get(message.pool);
      if (!pass) {
        pass = deps.admission.admitPool(message.pool, message.kind);
        passes.set(message.pool, pass);
      }
      await pass;
    };
    try {
      const processor = new BatchProcessor(EventType.SQS);
      const response = await processPartialResponse(event, recordHandler, processor, {
        throwOnFullBatchFailure: false,
      });
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
