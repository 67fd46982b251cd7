import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** SQS caps a message delay at 15 minutes. */
const MAX_DELAY_SECONDS = 900;

/**
 * Schedules the next reconcile pass of a bake on the timer queue. The message carries the
 * record version it was scheduled for: one chain of timers per bake, because a timer whose
 * version is stale (the bake moved on, and its mover scheduled its own) does not reschedule.
 */
export interface PassScheduler {
  schedule(bakeId: string, delaySeconds: number, version: number): Promise<void>;
  /** A later look at a lifecycle action the lifecycle function handed over. */
  scheduleLifecycle(token: string, delaySeconds: number): Promise<void>;
}

export class SqsPassScheduler implements PassScheduler {
  constructor(
    private readonly sqs: Pick<SQSClient, 'send'>,
    private readonly queueUrl: string,
  ) {}

  async schedule(bakeId: string, delaySeconds: number, version: number): Promise<void> {
    await this.send({ bakeId, version }, delaySeconds);
  }

  async scheduleLifecycle(token: string, delaySeconds: number): Promise<void> {
    await this.send({ lifecycle: token }, delaySeconds);
  }

  private async send(body: unknown, delaySeconds: number): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(body),
        DelaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.round(delaySeconds))),
      }),
    );
  }
}
