import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** SQS caps a message delay at 15 minutes. */
const MAX_DELAY_SECONDS = 900;

/** Schedules the next reconcile pass of a bake on the timer queue. */
export interface PassScheduler {
  schedule(bakeId: string, delaySeconds: number): Promise<void>;
}

export class SqsPassScheduler implements PassScheduler {
  constructor(
    private readonly sqs: Pick<SQSClient, 'send'>,
    private readonly queueUrl: string,
  ) {}

  async schedule(bakeId: string, delaySeconds: number): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify({ bakeId }),
        DelaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.round(delaySeconds))),
      }),
    );
  }
}
