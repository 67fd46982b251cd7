import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import type { TestAws } from './aws';

/** The envelope SNS wraps around a message delivered to an SQS subscription (raw delivery off). */
const snsEnvelope = z.object({
  Type: z.literal('Notification'),
  MessageId: z.string(),
  TopicArn: z.string(),
  Subject: z.string().optional(),
  Message: z.string(),
  Timestamp: z.string(),
  MessageAttributes: z.record(z.string(), z.object({ Type: z.string(), Value: z.string() })).optional(),
});

export interface ReceivedNotification {
  readonly topicArn: string;
  readonly subject: string | undefined;
  /** The message body, parsed as JSON when it is JSON. */
  readonly message: unknown;
  readonly attributes: Readonly<Record<string, string>>;
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Reads (and deletes) notifications from the sandbox queue until `count` have arrived
 * or `timeoutMs` has passed; returns what arrived, in arrival order.
 */
export async function receiveNotifications(
  aws: TestAws,
  queueUrl: string,
  { count, timeoutMs = 5_000 }: { count: number; timeoutMs?: number },
): Promise<ReceivedNotification[]> {
  const received: ReceivedNotification[] = [];
  const deadline = Date.now() + timeoutMs;
  while (received.length < count && Date.now() < deadline) {
    const batch = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const messages = batch.Messages ?? [];
    for (const message of messages) {
      const envelope = snsEnvelope.parse(JSON.parse(message.Body ?? ''));
      received.push({
        topicArn: envelope.TopicArn,
        subject: envelope.Subject,
        message: parseBody(envelope.Message),
        attributes: Object.fromEntries(
          Object.entries(envelope.MessageAttributes ?? {}).map(([key, value]) => [key, value.Value]),
        ),
      });
    }
    if (messages.length > 0) {
      await aws.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
    }
  }
  return received;
}
