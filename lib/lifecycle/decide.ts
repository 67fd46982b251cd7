/**
 * The rules of a lifecycle action, pure: what to read, what the check's answer means
 * (CONTINUE, ABANDON, or wait), and when a heartbeat is due. `engine.ts` reads AWS and acts.
 */
import type { LifecycleConfig } from '../pipeline/schema';
import type { LifecycleOutcome, LifecycleRecord } from './store';

/** Auto Scaling's cap on how long heartbeats can keep one action waiting (48 h). */
export const MAX_GLOBAL_TIMEOUT_SECONDS = 172_800;
/** The output a failed check keeps for its reason. */
const TAIL = 1024;

/** What the check reads from AWS on this look: nothing once it has no check or has run out of time. */
export type LifecycleReads = 'nothing' | 'status-checks' | 'agent' | 'invocation';

/** What a look saw: only the part `lifecycleReads` asked for. */
export interface LifecycleSeen {
  readonly now: Date;
  /** EC2's instance and system status checks (`ok`, `impaired`, `initializing`, ...). */
  readonly statusChecks?: readonly (string | undefined)[];
  /** The SSM agent answers (before the check's command is sent). */
  readonly agentOnline?: boolean;
  /** The command's invocation; absent while SSM does not show it yet (InvocationDoesNotExist). */
  readonly invocation?: {
    readonly status: string;
    readonly exitCode?: number;
    readonly stdout?: string;
    readonly stderr?: string;
  };
}

export type LifecycleVerdict =
  | {
      readonly kind: 'complete';
      readonly result: 'CONTINUE' | 'ABANDON';
      readonly outcome: LifecycleOutcome;
      readonly reason?: string;
    }
  /** Not decided yet; `send` when the check's command is due now. */
  | {
      readonly kind: 'wait';
      readonly send?: { readonly commands: readonly string[]; readonly timeoutSeconds: number };
    };

type Spec = NonNullable<LifecycleConfig['readiness'] | LifecycleConfig['drain']>;

function specOf(record: LifecycleRecord, config: LifecycleConfig): Spec | undefined {
  return record.transition === 'launching' ? config.readiness : config.drain;
}

function timedOut(record: LifecycleRecord, spec: Spec, now: Date): boolean {
  return (now.getTime() - Date.parse(record.receivedAt)) / 1000 > spec.timeoutSeconds;
}

export function lifecycleReads(record: LifecycleRecord, config: LifecycleConfig, now: Date): LifecycleReads {
  const spec = specOf(record, config);
  if (!spec || timedOut(record, spec, now)) return 'nothing';
  if ('ec2StatusChecks' in spec) return 'status-checks';
  return record.commandId ? 'invocation' : 'agent';
}

const FINAL_COMMAND = new Set(['Failed', 'TimedOut', 'Cancelled']);

/**
 * What the check's answer means. Launching: CONTINUE once it passes, ABANDON when it fails or
 * outlasts its timeout (the instance never takes traffic). Terminating: CONTINUE in every case
 * (a drain that fails or times out must not keep the instance alive), recorded as drain-failed.
 * No check configured: CONTINUE at once.
 */
export function lifecycleVerdict(
  record: LifecycleRecord,
  config: LifecycleConfig,
  seen: LifecycleSeen,
): LifecycleVerdict {
  const launching = record.transition === 'launching';
  const spec = specOf(record, config);
  if (!spec) return { kind: 'complete', result: 'CONTINUE', outcome: 'no-check' };
  const failed = (reason: string): LifecycleVerdict =>
    launching
      ? { kind: 'complete', result: 'ABANDON', outcome: 'not-ready', reason }
      : { kind: 'complete', result: 'CONTINUE', outcome: 'drain-failed', reason };
  if (timedOut(record, spec, seen.now)) {
    const reason = `No answer within ${spec.timeoutSeconds} s`;
    return launching ? { kind: 'complete', result: 'ABANDON', outcome: 'timed-out', reason } : failed(reason);
  }
  const ok: LifecycleVerdict = {
    kind: 'complete',
    result: 'CONTINUE',
    outcome: launching ? 'ready' : 'drained',
  };

  if ('ec2StatusChecks' in spec) {
    // Stryker disable next-line ArrayDeclaration: equivalent, any list without 'ok' twice or 'impaired' waits
    const states = seen.statusChecks ?? [];
    if (states.length > 0 && states.every((s) => s === 'ok')) return ok;
    if (states.includes('impaired')) return failed('EC2 status checks impaired');
    return { kind: 'wait' };
  }
  if (!record.commandId) {
    return seen.agentOnline
      ? { kind: 'wait', send: { commands: spec.command, timeoutSeconds: spec.timeoutSeconds } }
      : { kind: 'wait' };
  }
  const invocation = seen.invocation;
  if (invocation?.status === 'Success') return ok;
  if (invocation && FINAL_COMMAND.has(invocation.status)) {
    const output = [invocation.stderr, invocation.stdout].find((text) => text)?.slice(-TAIL) ?? '';
    return failed(
      `Command ${invocation.status} (exit ${invocation.exitCode ?? '?'})${output ? `: ${output}` : ''}`,
    );
  }
  return { kind: 'wait' };
}

/**
 * Whether a waiting action needs a heartbeat now: half its heartbeat timeout has passed since the
 * last one, and another would not carry it past the hook's global timeout (100 heartbeat
 * timeouts, at most 48 h), which no heartbeat can extend.
 */
export function heartbeatDue(record: LifecycleRecord, now: Date, heartbeatTimeoutSeconds: number): boolean {
  const sinceBeat = (now.getTime() - Date.parse(record.lastHeartbeatAt)) / 1000;
  const sinceStart = (now.getTime() - Date.parse(record.receivedAt)) / 1000;
  const globalTimeout = Math.min(100 * heartbeatTimeoutSeconds, MAX_GLOBAL_TIMEOUT_SECONDS);
  return sinceBeat >= heartbeatTimeoutSeconds / 2 && sinceStart + heartbeatTimeoutSeconds < globalTimeout;
}
