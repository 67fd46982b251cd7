/** The notifications lifecycle actions owe: built here, published by lib/notify. */
import { subjectLine, type Notification } from '../notify/notifications';
import type { LifecycleRecord } from './store';

/** A lifecycle action that did not go as hoped: an instance abandoned, or a drain that failed. */
export function lifecycleNotification(
  record: LifecycleRecord,
  type: 'lifecycle.abandoned' | 'lifecycle.drain-failed',
): Notification {
  const what =
    type === 'lifecycle.abandoned'
      ? `${record.instanceId} abandoned (not ready)`
      : `drain of ${record.instanceId} failed`;
  return {
    id: `${record.token}:${type}`,
    type,
    severity: 'warning',
    subject: subjectLine(`[ami-bakery] ${record.group}: ${what}`),
    pipeline: record.pipeline ?? '',
    instanceId: record.instanceId,
    phase: record.transition,
    at: record.updatedAt,
    detail: {
      group: record.group,
      hook: record.hook,
      instanceId: record.instanceId,
      outcome: record.outcome,
      result: record.result,
      reason: record.reason,
    },
  };
}
