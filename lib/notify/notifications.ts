import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { BakeRecord } from '../bake/model';

export type NotificationType =
  'bake.started' | 'bake.phase' | 'bake.succeeded' | 'bake.failed' | 'bake.cancelled';
export type Severity = 'info' | 'warning' | 'error';

/** A typed event on the notifications topic. `id` is stable, so consumers can drop duplicates. */
export interface Notification {
  readonly id: string;
  readonly type: NotificationType;
  readonly severity: Severity;
  readonly subject: string;
  readonly pipeline: string;
  readonly bakeId: string;
  readonly phase: string;
  readonly at: string;
  readonly detail: Record<string, unknown>;
}

function make(
  bake: BakeRecord,
  type: NotificationType,
  severity: Severity,
  subject: string,
  detail: Record<string, unknown> = {},
  phase: string = bake.phase,
): Notification {
  return {
    id: `${bake.id}:${type}:${phase}`,
    type,
    severity,
    // SNS subjects: at most 100 printable ASCII characters.
    subject: subject.replace(/[^\x20-\x7e]/g, '?').slice(0, 100),
    pipeline: bake.pipeline,
    bakeId: bake.id,
    phase,
    at: bake.updatedAt,
    detail,
  };
}

export function bakeStarted(bake: BakeRecord): Notification {
  return make(bake, 'bake.started', 'info', `[ami-bakery] ${bake.pipeline}: bake ${bake.id} started`, {
    reason: bake.reason,
    baseImageId: bake.baseImageId,
    recipeHash: bake.recipeHash,
  });
}

/** The notifications a commit from `previous` to `next` owes: one per phase entered, in order. */
export function notificationsFor(previous: BakeRecord, next: BakeRecord): Notification[] {
  const entered = next.timeline.slice(previous.timeline.length);
  return entered.map((entry, index) => {
    const from = index === 0 ? previous.phase : (entered[index - 1]?.phase ?? previous.phase);
    switch (entry.phase) {
      case 'succeeded':
        return make(
          next,
          'bake.succeeded',
          'info',
          `[ami-bakery] ${next.pipeline}: ${next.image?.imageId ?? 'image'} published`,
          {
            imageId: next.image?.imageId,
            imageName: next.image?.name,
            copies: next.copies,
            published: next.published,
          },
        );
      case 'failed':
        return make(
          next,
          'bake.failed',
          'error',
          `[ami-bakery] ${next.pipeline}: bake ${next.id} failed in ${next.failure?.phase ?? from}`,
          {
            failure: next.failure,
          },
        );
      case 'cancelled':
        return make(
          next,
          'bake.cancelled',
          'warning',
          `[ami-bakery] ${next.pipeline}: bake ${next.id} cancelled`,
        );
      default:
        return make(
          next,
          'bake.phase',
          'info',
          `[ami-bakery] ${next.pipeline}: bake ${next.id} is ${entry.phase}`,
          { from },
          entry.phase,
        );
    }
  });
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
