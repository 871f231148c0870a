import { CreateQueueCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { motoClientConfig, motoName } from '../support/moto.ts';

describe("the suite's moto_server", () => {
  it('speaks the SQS wire protocol to the SDK', async () => {
    const sqs = new SQSClient(motoClientConfig());
    const name = motoName('probe');
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    expect(QueueUrl).toContain(name);
    const { QueueUrls } = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: name }));
    expect(QueueUrls).toEqual([QueueUrl]);
    sqs.destroy();
  });
});
