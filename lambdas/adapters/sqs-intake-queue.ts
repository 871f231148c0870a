import type * as Sqs from '@aws-sdk/client-sqs';
import type { IntakeMessage, IntakeQueue } from '#core/ports.ts';
import type { Sdk } from './sdk.ts';

export type SqsSdk = Sdk<typeof Sqs, Sqs.SQSClient>;

/** The admission intake queue in AWS. */
export class SqsIntakeQueue implements IntakeQueue {
  readonly #sqs: SqsSdk;
  readonly #queueUrl: string;

  constructor(sqs: SqsSdk, queueUrl: string) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
  }

  async send(message: IntakeMessage): Promise<void> {
    const { sdk, client } = await this.#sqs();
    await client.send(
      new sdk.SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: JSON.stringify(message) }),
    );
  }
}
