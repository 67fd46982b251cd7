import { driveLifecycle, receive, type LifecycleDeps } from './engine';
import { parseSnsEvent, type LifecycleMessage } from './message';

export interface HandledMessage {
  readonly messageId: string;
  readonly kind: LifecycleMessage['kind'];
  readonly token?: string;
  readonly instanceId?: string;
  /** completed here, handed over to reconcile, a duplicate of one already done, or dropped. */
  readonly outcome: 'completed' | 'handed-over' | 'duplicate' | 'acknowledged' | 'dropped';
  readonly detail?: string;
}

/**
 * The lifecycle function's work for one SNS event: test messages acknowledged, garbled ones
 * dropped (a retry could only fail the same way), actions recorded and carried out for at most
 * `boundSeconds`, then handed to the reconcile function's timers.
 * @throws on AWS failures worth a retry (SNS invokes again; the record makes it harmless).
 */
export async function handleLifecycleEvent(
  deps: LifecycleDeps,
  event: unknown,
  boundSeconds: number,
): Promise<HandledMessage[]> {
  const handled: HandledMessage[] = [];
  for (const message of parseSnsEvent(event)) {
    if (message.kind === 'test') {
      handled.push({ messageId: message.messageId, kind: 'test', outcome: 'acknowledged' });
      continue;
    }
    if (message.kind === 'garbled') {
      handled.push({
        messageId: message.messageId,
        kind: 'garbled',
        outcome: 'dropped',
        detail: message.problem,
      });
      continue;
    }
    const { record, duplicate } = await receive(deps, message.action);
    const base = {
      messageId: message.messageId,
      kind: 'action' as const,
      token: record.token,
      instanceId: record.instanceId,
    };
    if (record.status === 'completed') {
      handled.push({
        ...base,
        outcome: duplicate ? 'duplicate' : 'completed',
        ...(record.reason ? { detail: record.reason } : {}),
      });
      continue;
    }
    const step = await driveLifecycle(deps, record, boundSeconds);
    handled.push({
      ...base,
      outcome: step.done ? 'completed' : 'handed-over',
      ...(step.record.outcome ? { detail: step.record.outcome } : {}),
    });
  }
  return handled;
}
