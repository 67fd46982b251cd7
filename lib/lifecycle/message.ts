import * as z from '../zod';

/**
 * A lifecycle hook notification, as Auto Scaling publishes it to the hook's SNS topic
 * (https://docs.aws.amazon.com/autoscaling/ec2/userguide/prepare-for-lifecycle-notifications.html).
 */
const actionMessage = z.object({
  LifecycleTransition: z.enum(['autoscaling:EC2_INSTANCE_LAUNCHING', 'autoscaling:EC2_INSTANCE_TERMINATING']),
  LifecycleHookName: z.string().check(z.minLength(1), z.maxLength(255)),
  LifecycleActionToken: z.string().check(z.minLength(1), z.maxLength(64)),
  AutoScalingGroupName: z.string().check(z.minLength(1), z.maxLength(255)),
  EC2InstanceId: z.string().check(z.regex(/^i-[0-9a-f]{8,17}$/)),
  Time: z.optional(z.string()),
  NotificationMetadata: z.optional(z.string()),
});

const testMessage = z.object({ Event: z.literal('autoscaling:TEST_NOTIFICATION') });

const snsRecord = z.object({
  EventSource: z.literal('aws:sns'),
  Sns: z.object({ MessageId: z.string(), Message: z.string() }),
});
const snsEvent = z.object({ Records: z.array(snsRecord).check(z.minLength(1)) });

export interface LifecycleAction {
  readonly transition: 'launching' | 'terminating';
  readonly hook: string;
  readonly token: string;
  readonly group: string;
  readonly instanceId: string;
}

export type LifecycleMessage =
  | { readonly kind: 'action'; readonly messageId: string; readonly action: LifecycleAction }
  | { readonly kind: 'test'; readonly messageId: string }
  | { readonly kind: 'garbled'; readonly messageId: string; readonly problem: string };

/** One SNS message of the lifecycle topic: an action, Auto Scaling's test message, or something unreadable. */
export function parseLifecycleMessage(messageId: string, text: string): LifecycleMessage {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: 'garbled', messageId, problem: 'not JSON' };
  }
  if (testMessage.safeParse(body).success) return { kind: 'test', messageId };
  const parsed = actionMessage.safeParse(body);
  if (!parsed.success) {
    const problem = parsed.error.issues
      .map((issue) => {
        // Stryker disable next-line StringLiteral: the schema is flat, so a path has one element and its separator never shows.
        const field = issue.path.join('.');
        return `${field}: ${issue.message}`;
      })
      .join('; ');
    return { kind: 'garbled', messageId, problem };
  }
  const m = parsed.data;
  return {
    kind: 'action',
    messageId,
    action: {
      transition:
        m.LifecycleTransition === 'autoscaling:EC2_INSTANCE_LAUNCHING' ? 'launching' : 'terminating',
      hook: m.LifecycleHookName,
      token: m.LifecycleActionToken,
      group: m.AutoScalingGroupName,
      instanceId: m.EC2InstanceId,
    },
  };
}

export class NotAnSnsEventError extends Error {
  override readonly name = 'NotAnSnsEventError';
}

/**
 * The messages of an SNS-to-Lambda event.
 * @throws NotAnSnsEventError when the event is not one.
 */
export function parseSnsEvent(event: unknown): LifecycleMessage[] {
  const parsed = snsEvent.safeParse(event);
  if (!parsed.success) throw new NotAnSnsEventError('The event is not an SNS notification');
  return parsed.data.Records.map((r) => parseLifecycleMessage(r.Sns.MessageId, r.Sns.Message));
}
