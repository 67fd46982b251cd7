import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';

export type NotificationType =
  | 'bake.started'
  | 'bake.skipped'
  | 'bake.phase'
  | 'bake.succeeded'
  | 'bake.failed'
  | 'bake.cancelled'
  | 'rollout.started'
  | 'rollout.awaiting-approval'
  | 'rollout.checkpoint'
  | 'rollout.waiting'
  | 'rollout.succeeded'
  | 'rollout.failed'
  | 'rollout.rolled-back'
  | 'rollout.wave-started'
  | 'rollout.wave-baking'
  | 'rollout.wave-succeeded'
  | 'rollout.wave-failed'
  | 'retention.completed'
  | 'lifecycle.abandoned'
  | 'lifecycle.drain-failed';
export type Severity = 'info' | 'warning' | 'error';

/** A typed event on the notifications topic (each domain builds its own: lib/bake, lib/lifecycle, lib/retention). `id` is stable, so consumers can drop duplicates. */
export interface Notification {
  readonly id: string;
  readonly type: NotificationType;
  readonly severity: Severity;
  readonly subject: string;
  readonly pipeline: string;
  /** The bake concerned; lifecycle notifications concern an instance instead. */
  readonly bakeId?: string;
  readonly instanceId?: string;
  readonly phase: string;
  readonly at: string;
  readonly detail: Record<string, unknown>;
}

/** An SNS subject: at most 100 printable ASCII characters. */
export function subjectLine(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
}

/** Publishes one notification with attributes subscribers can filter on (type, pipeline, severity). */
export async function publishNotification(
  sns: Pick<SNSClient, 'send'>,
  topicArn: string,
  notification: Notification,
): Promise<void> {
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: notification.subject,
      Message: JSON.stringify(notification),
      MessageAttributes: {
        type: { DataType: 'String', StringValue: notification.type },
        pipeline: { DataType: 'String', StringValue: notification.pipeline },
        severity: { DataType: 'String', StringValue: notification.severity },
      },
    }),
  );
}
