import { DescribeTagsCommand } from '@aws-sdk/client-ec2';
import { describeError, NotFoundError } from '../errors';
import { stepLifecycle } from '../lifecycle/engine';
import type { BakeRecord } from '../bake/model';
import { bakesConcernedBy, reconcile, type Bakery } from '../bake/service';
import { TAG_BAKE_ID } from '../aws/tags';
import type { Trigger } from './parse';

/** A bake that may have created an instance or image its record does not name yet (a pass died). */
function awaitsUnrecordedResource(bake: BakeRecord): boolean {
  switch (bake.phase) {
    case 'requested': // its first pass launches, and may die before committing 'launching'
    case 'launching':
      return !bake.builder?.instanceId;
    case 'stopping':
    case 'imaging':
      return !bake.image?.imageId;
    case 'testing':
      return !bake.tester?.instanceId;
    default:
      return false;
  }
}

/** The active bakes whose tag the event's EC2 resources carry. */
async function bakesTaggedOn(
  bakery: Bakery,
  active: readonly BakeRecord[],
  resourceIds: readonly string[],
): Promise<string[]> {
  const ec2Ids = resourceIds.filter((id) => id.startsWith('i-') || id.startsWith('ami-'));
  if (ec2Ids.length === 0) return [];
  const tags = await bakery.ec2In(bakery.region).send(
    new DescribeTagsCommand({
      Filters: [
        { Name: 'resource-id', Values: ec2Ids },
        { Name: 'key', Values: [TAG_BAKE_ID] },
      ],
    }),
  );
  const activeIds = new Set(active.map((bake) => bake.id));
  return [...new Set((tags.Tags ?? []).map((tag) => tag.Value ?? ''))].filter((id) => activeIds.has(id));
}

/** A lifecycle record untouched this long has lost its timer (a failed send): the sweep takes it up. */
const STALE_LIFECYCLE_MS = 30_000;

/**
 * One look at each lifecycle action named (or, for the sweep, each one gone quiet); those still
 * waiting get their next timer. Returns the tokens whose look failed (to be retried).
 */
async function lifecycles(bakery: Bakery, tokens?: readonly string[]): Promise<string[]> {
  const now = bakery.clock().getTime();
  const records = tokens
    ? await Promise.all(
        tokens.map((token) =>
          bakery.lifecycles.get(token).catch((error: unknown) => {
            if (error instanceof NotFoundError) return undefined;
            throw error;
          }),
        ),
      )
    : (await bakery.lifecycles.inProgress()).filter(
        (r) => now - Date.parse(r.updatedAt) > STALE_LIFECYCLE_MS,
      );
  const failed: string[] = [];
  for (const record of records) {
    if (!record) continue;
    try {
      const step = await stepLifecycle(bakery, record);
      if (!step.done) await bakery.scheduler.scheduleLifecycle(record.token, step.wakeInSeconds ?? 5);
    } catch (error) {
      bakery.log.warn('lifecycle step failed; it will be retried', {
        token: record.token,
        instanceId: record.instanceId,
        error: describeError(error),
      });
      failed.push(record.token);
    }
  }
  return failed;
}

export interface WakeResult {
  readonly trigger: Trigger['kind'];
  readonly reconciled: number;
  readonly outcomes: Record<string, string>;
  /** Timer messages to hand back to SQS for another delivery. */
  readonly failedMessageIds: readonly string[];
}

async function pass(
  bakery: Bakery,
  trigger: Trigger['kind'],
  bakeIds?: readonly string[],
  chains?: ReadonlyMap<string, number>,
): Promise<WakeResult> {
  if (bakeIds?.length === 0) return { trigger, reconciled: 0, outcomes: {}, failedMessageIds: [] };
  const report = await reconcile(bakery, bakeIds, chains);
  return { trigger, reconciled: report.examined, outcomes: report.outcomes, failedMessageIds: [] };
}

/**
 * Runs the pass a trigger calls for: every active bake for the sweep, the bakes an AWS event
 * concerns (by the ids their records hold, else by the resource's bake tag), or the bakes timer
 * messages name. A pass that fails as a whole (observing failed)
 * returns its timer messages for redelivery; an event or the sweep is covered by the next sweep.
 */
export async function wake(bakery: Bakery, trigger: Trigger): Promise<WakeResult> {
  switch (trigger.kind) {
    case 'sweep': {
      await lifecycles(bakery);
      return pass(bakery, trigger.kind);
    }
    case 'event': {
      const active = (await bakery.store.active()).map((stored) => stored.bake);
      let ids = bakesConcernedBy(active, trigger.resourceIds);
      if (ids.length === 0 && active.some(awaitsUnrecordedResource)) {
        ids = await bakesTaggedOn(bakery, active, trigger.resourceIds);
      }
      return pass(bakery, trigger.kind, ids);
    }
    case 'timers': {
      const chains = new Map(
        trigger.messages.flatMap((m) =>
          m.bakeId && m.version !== undefined ? [[m.bakeId, m.version] as const] : [],
        ),
      );
      const ids = [...chains.keys()];
      const tokens = trigger.messages.flatMap((m) => (m.lifecycleToken ? [m.lifecycleToken] : []));
      const failedTokens = tokens.length > 0 ? await lifecycles(bakery, tokens) : [];
      const failedLifecycles = trigger.messages
        .filter((m) => m.lifecycleToken && failedTokens.includes(m.lifecycleToken))
        .map((m) => m.messageId);
      try {
        const result = await pass(bakery, trigger.kind, ids, chains);
        return { ...result, failedMessageIds: failedLifecycles };
      } catch (error) {
        bakery.log.warn('timer pass failed; SQS will deliver it again', {
          error: describeError(error).code,
          bakeIds: ids,
        });
        const failedMessageIds = [
          ...trigger.messages.filter((m) => m.bakeId).map((m) => m.messageId),
          ...failedLifecycles,
        ];
        return { trigger: trigger.kind, reconciled: 0, outcomes: {}, failedMessageIds };
      }
    }
  }
}
