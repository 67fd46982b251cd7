import type { Trigger } from './triggers';
import { bakesConcernedBy, reconcile, type Bakery } from './service';

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
 * concerns, or the bakes timer messages name. A pass that fails as a whole (observing failed)
 * returns its timer messages for redelivery; an event or the sweep is covered by the next sweep.
 */
export async function wake(bakery: Bakery, trigger: Trigger): Promise<WakeResult> {
  switch (trigger.kind) {
    case 'sweep':
      return pass(bakery, trigger.kind);
    case 'event': {
      const active = (await bakery.store.active()).map((stored) => stored.bake);
      return pass(bakery, trigger.kind, bakesConcernedBy(active, trigger.resourceIds));
    }
    case 'timers': {
      const chains = new Map(
        trigger.messages.flatMap((m) =>
          m.bakeId && m.version !== undefined ? [[m.bakeId, m.version] as const] : [],
        ),
      );
      const ids = [...chains.keys()];
      try {
        return await pass(bakery, trigger.kind, ids, chains);
      } catch (error) {
        bakery.log.warn('timer pass failed; SQS will deliver it again', {
          error: (error as Error).name,
          bakeIds: ids,
        });
        const failedMessageIds = trigger.messages.filter((m) => m.bakeId).map((m) => m.messageId);
        return { trigger: trigger.kind, reconciled: 0, outcomes: {}, failedMessageIds };
      }
    }
  }
}
