import * as z from '../zod';
import { BAKE_ID } from '../bake/model';

/** What woke the reconciler: a timer message, an AWS event about a resource, or the sweep. */
export type Trigger =
  | { readonly kind: 'sweep' }
  | { readonly kind: 'event'; readonly detailType: string; readonly resourceIds: readonly string[] }
  | {
      readonly kind: 'timers';
      readonly messages: readonly {
        readonly messageId: string;
        readonly bakeId: string | undefined;
        /** The record version the timer was scheduled for. */
        readonly version?: number;
        /** A lifecycle action handed over by the lifecycle function. */
        readonly lifecycleToken?: string;
      }[];
    };

const sqsEvent = z.object({
  Records: z
    .array(z.object({ messageId: z.string(), body: z.string(), eventSource: z.literal('aws:sqs') }))
    .check(z.minLength(1)),
});

const eventBridgeEvent = z.object({
  'detail-type': z.string(),
  source: z.string(),
  resources: z._default(z.array(z.string()), []),
  detail: z.record(z.string(), z.unknown()),
});

const timerBody = z.object({
  bakeId: z.string().check(z.regex(BAKE_ID)),
  version: z.int().check(z.minimum(0)),
});
const lifecycleTimerBody = z.object({ lifecycle: z.string().check(z.minLength(1), z.maxLength(64)) });

/** Ids an EC2, SSM or Auto Scaling event names: instance, image, command and refresh ids, group names. */
function resourceIds(event: z.infer<typeof eventBridgeEvent>): string[] {
  const { detail } = event;
  const named = [
    'instance-id',
    'ImageId',
    'command-id',
    'EC2InstanceId',
    'InstanceRefreshId',
    'AutoScalingGroupName',
  ].map((key) => detail[key]);
  const fromArns = event.resources.map((arn) => arn.split('/').pop());
  return [
    ...new Set([...named, ...fromArns].filter((id): id is string => typeof id === 'string' && id.length > 0)),
  ];
}

export class UnknownTriggerError extends Error {
  override readonly name = 'UnknownTriggerError';
}

/**
 * Parses the reconcile function's event.
 * @throws UnknownTriggerError for anything that is none of the three triggers.
 */
export function parseTrigger(event: unknown): Trigger {
  const timers = sqsEvent.safeParse(event);
  if (timers.success) {
    return {
      kind: 'timers',
      messages: timers.data.Records.map((record) => {
        let body: unknown;
        try {
          body = JSON.parse(record.body);
        } catch {
          body = undefined;
        }
        const parsed = timerBody.safeParse(body);
        if (parsed.success)
          return { messageId: record.messageId, bakeId: parsed.data.bakeId, version: parsed.data.version };
        const lifecycle = lifecycleTimerBody.safeParse(body);
        return lifecycle.success
          ? { messageId: record.messageId, bakeId: undefined, lifecycleToken: lifecycle.data.lifecycle }
          : { messageId: record.messageId, bakeId: undefined };
      }),
    };
  }
  const bridged = eventBridgeEvent.safeParse(event);
  if (bridged.success) {
    if (bridged.data['detail-type'] === 'Scheduled Event') return { kind: 'sweep' };
    return { kind: 'event', detailType: bridged.data['detail-type'], resourceIds: resourceIds(bridged.data) };
  }
  throw new UnknownTriggerError(
    'The event is neither an SQS timer batch, an EventBridge event nor a schedule',
  );
}
