import {
  CompleteLifecycleActionCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstanceStatusCommand } from '@aws-sdk/client-ec2';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import type { Bakery } from '../bake/service';
import { ConflictError, describeError, isAwsError, isTransient } from '../errors';
import { lifecycleNotification, publishNotification } from '../notify/notifications';
import type { PipelineCatalog } from '../pipeline/catalog';
import type { LifecycleConfig } from '../pipeline/schema';
import type { LifecycleAction } from './message';
import type { LifecycleOutcome, LifecycleRecord } from './store';

/** Auto Scaling's cap on how long heartbeats can keep one action waiting (48 h). */
const MAX_GLOBAL_TIMEOUT_SECONDS = 172_800;
const TAIL = 1024;

/** The lifecycle configuration for a group: its target's, else its pipeline's; none if no pipeline names it. */
export function lifecycleFor(
  catalog: PipelineCatalog,
  group: string,
): { pipeline: string; config: LifecycleConfig } | undefined {
  for (const pipeline of catalog.all) {
    const target = pipeline.rollout?.targets.find((t) => t.autoScalingGroup === group);
    if (target) return { pipeline: pipeline.name, config: target.lifecycle ?? pipeline.lifecycle ?? {} };
  }
  return undefined;
}

/** Hook heartbeat timeouts rarely change: read once per container (and per hook). */
const heartbeatTimeouts = new Map<string, number>();

async function heartbeatTimeoutOf(bakery: Bakery, record: LifecycleRecord): Promise<number> {
  const cacheKey = `${record.group}\n${record.hook}`;
  const known = heartbeatTimeouts.get(cacheKey);
  if (known !== undefined) return known;
  const hooks = await bakery.autoScaling.send(
    new DescribeLifecycleHooksCommand({
      AutoScalingGroupName: record.group,
      LifecycleHookNames: [record.hook],
    }),
  );
  const seconds = hooks.LifecycleHooks?.[0]?.HeartbeatTimeout ?? 3600;
  heartbeatTimeouts.set(cacheKey, seconds);
  return seconds;
}

/**
 * Records a hook's notification as a lifecycle action to carry out (once: a duplicate delivery
 * gets the first one's record).
 */
export async function receive(
  bakery: Bakery,
  action: LifecycleAction,
): Promise<{ record: LifecycleRecord; duplicate: boolean }> {
  const now = bakery.clock().toISOString();
  const owner = lifecycleFor(bakery.catalog, action.group);
  const fresh: LifecycleRecord = {
    ...action,
    status: owner ? 'checking' : 'completed',
    version: 0,
    receivedAt: now,
    updatedAt: now,
    lastHeartbeatAt: now,
    heartbeats: 0,
    ...(owner
      ? { pipeline: owner.pipeline }
      : {
          outcome: 'not-ours' as const,
          reason: `No pipeline names group ${action.group}: left to the hook's default result`,
        }),
  };
  const opened = await bakery.lifecycles.open(fresh);
  return { record: opened.record, duplicate: !opened.created };
}

type Verdict =
  | { readonly kind: 'wait'; readonly patch?: Partial<LifecycleRecord> }
  | {
      readonly kind: 'complete';
      readonly result: 'CONTINUE' | 'ABANDON';
      readonly outcome: LifecycleOutcome;
      readonly reason?: string;
    };

const FINAL_COMMAND = new Set(['Failed', 'TimedOut', 'Cancelled']);

/** Looks at the check of a record and says what comes next (sending its command when due). */
async function check(bakery: Bakery, record: LifecycleRecord, config: LifecycleConfig): Promise<Verdict> {
  const launching = record.transition === 'launching';
  const spec = launching ? config.readiness : config.drain;
  if (!spec) return { kind: 'complete', result: 'CONTINUE', outcome: 'no-check' };
  const failed = (reason: string): Verdict =>
    launching
      ? { kind: 'complete', result: 'ABANDON', outcome: 'not-ready', reason }
      : { kind: 'complete', result: 'CONTINUE', outcome: 'drain-failed', reason };
  const elapsed = (bakery.clock().getTime() - Date.parse(record.receivedAt)) / 1000;
  if (elapsed > spec.timeoutSeconds) {
    const reason = `No answer within ${spec.timeoutSeconds} s`;
    return launching ? { kind: 'complete', result: 'ABANDON', outcome: 'timed-out', reason } : failed(reason);
  }
  const ok: Verdict = { kind: 'complete', result: 'CONTINUE', outcome: launching ? 'ready' : 'drained' };

  if ('ec2StatusChecks' in spec) {
    const answer = await bakery
      .ec2In(bakery.region)
      .send(
        new DescribeInstanceStatusCommand({ InstanceIds: [record.instanceId], IncludeAllInstances: true }),
      );
    const status = answer.InstanceStatuses?.[0];
    const states = [status?.InstanceStatus?.Status, status?.SystemStatus?.Status];
    if (states.every((s) => s === 'ok')) return ok;
    if (states.includes('impaired')) return failed('EC2 status checks impaired');
    return { kind: 'wait' };
  }

  const ssm = bakery.ssmIn(bakery.region);
  if (!record.commandId) {
    const agents = await ssm.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'InstanceIds', Values: [record.instanceId] }],
      }),
    );
    if (agents.InstanceInformationList?.[0]?.PingStatus !== 'Online') return { kind: 'wait' };
    const sent = await ssm.send(
      new SendCommandCommand({
        InstanceIds: [record.instanceId],
        DocumentName: 'AWS-RunShellScript',
        Comment: `ami-bakery lifecycle ${record.transition} ${record.instanceId}`.slice(0, 100),
        Parameters: {
          commands: [...spec.command],
          executionTimeout: [String(spec.timeoutSeconds)],
        },
      }),
    );
    return { kind: 'wait', patch: { commandId: sent.Command?.CommandId ?? '' } };
  }
  try {
    const invocation = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: record.commandId, InstanceId: record.instanceId }),
    );
    if (invocation.Status === 'Success') return ok;
    if (FINAL_COMMAND.has(invocation.Status ?? '')) {
      const output =
        [invocation.StandardErrorContent, invocation.StandardOutputContent]
          .find((text) => text)
          ?.slice(-TAIL) ?? '';
      return failed(
        `Command ${invocation.Status ?? ''} (exit ${invocation.ResponseCode ?? '?'})${output ? `: ${output}` : ''}`,
      );
    }
  } catch (error) {
    if (!isAwsError(error, 'InvocationDoesNotExist')) throw error; // just sent: not visible yet
  }
  return { kind: 'wait' };
}

function isGone(error: unknown): boolean {
  return isAwsError(error, 'ValidationError') && /No active Lifecycle Action/i.test((error as Error).message);
}

/** CompleteLifecycleAction; an action already gone (completed by us before, or expired) counts as done. */
async function complete(
  bakery: Bakery,
  record: LifecycleRecord,
  verdict: Extract<Verdict, { kind: 'complete' }>,
): Promise<LifecycleRecord> {
  const done: LifecycleRecord = {
    ...record,
    status: 'completed',
    result: verdict.result,
    outcome: verdict.outcome,
    ...(verdict.reason ? { reason: verdict.reason } : {}),
  };
  try {
    await bakery.autoScaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: record.group,
        LifecycleHookName: record.hook,
        LifecycleActionToken: record.token,
        LifecycleActionResult: verdict.result,
        InstanceId: record.instanceId,
      }),
    );
    return done;
  } catch (error) {
    if (isTransient(error)) throw error;
    if (isGone(error))
      return { ...done, reason: 'No active lifecycle action (already completed or expired)' };
    // A final refusal (an expired token, say): retrying would only repeat it.
    return { ...done, outcome: 'gone', reason: describeError(error).message };
  }
}

export interface StepResult {
  readonly record: LifecycleRecord;
  readonly done: boolean;
  /** When to look again, if not done. */
  readonly wakeInSeconds?: number;
}

/**
 * One look at a lifecycle action: check, then complete it, or keep it alive with a heartbeat
 * (never past the hook's global timeout) and wait. Guarded by a lease; committed with a version check.
 */
export async function stepLifecycle(bakery: Bakery, record: LifecycleRecord): Promise<StepResult> {
  if (record.status === 'completed') return { record, done: true };
  const now = bakery.clock();
  if (!(await bakery.lifecycles.claim(record, now, bakery.leaseSeconds))) {
    return { record, done: false, wakeInSeconds: 2 }; // another pass is on it
  }
  try {
    return await stepClaimed(bakery, record, now);
  } catch (error) {
    await bakery.lifecycles.release(record).catch(() => undefined);
    throw error;
  }
}

async function stepClaimed(bakery: Bakery, record: LifecycleRecord, now: Date): Promise<StepResult> {
  const config = lifecycleFor(bakery.catalog, record.group)?.config ?? {};
  let next: LifecycleRecord = { ...record, updatedAt: now.toISOString() };
  const verdict = await check(bakery, record, config);
  if (verdict.kind === 'complete') {
    next = { ...(await complete(bakery, next, verdict)), updatedAt: now.toISOString() };
    const type =
      next.outcome === 'drain-failed'
        ? 'lifecycle.drain-failed'
        : next.result === 'ABANDON'
          ? 'lifecycle.abandoned'
          : undefined;
    if (type) await publishNotification(bakery.sns, bakery.topicArn, lifecycleNotification(next, type));
  } else {
    next = { ...next, ...verdict.patch };
    const timeout = await heartbeatTimeoutOf(bakery, record);
    const sinceBeat = (now.getTime() - Date.parse(record.lastHeartbeatAt)) / 1000;
    const sinceStart = (now.getTime() - Date.parse(record.receivedAt)) / 1000;
    const globalTimeout = Math.min(100 * timeout, MAX_GLOBAL_TIMEOUT_SECONDS);
    if (sinceBeat >= timeout / 2 && sinceStart + timeout < globalTimeout) {
      try {
        await bakery.autoScaling.send(
          new RecordLifecycleActionHeartbeatCommand({
            AutoScalingGroupName: record.group,
            LifecycleHookName: record.hook,
            LifecycleActionToken: record.token,
            InstanceId: record.instanceId,
          }),
        );
        next = { ...next, lastHeartbeatAt: now.toISOString(), heartbeats: record.heartbeats + 1 };
      } catch (error) {
        if (isTransient(error)) throw error;
        next = { ...next, status: 'completed', outcome: 'gone', reason: describeError(error).message };
      }
    }
  }
  try {
    const written = await bakery.lifecycles.commit(record, next);
    const done = written.status === 'completed';
    // Look again soon, but well inside the heartbeat window.
    return done ? { record: written, done } : { record: written, done, wakeInSeconds: 5 };
  } catch (error) {
    if (error instanceof ConflictError) return { record, done: false, wakeInSeconds: 1 };
    throw error;
  }
}

/**
 * Steps an action until it is completed or `boundSeconds` have passed; then the reconcile
 * function's timers take over (the Lambda never waits long).
 */
export async function driveLifecycle(
  bakery: Bakery,
  record: LifecycleRecord,
  boundSeconds: number,
  pauseMs = 1000,
): Promise<StepResult> {
  const until = Date.now() + boundSeconds * 1000;
  let current = record;
  for (;;) {
    const step = await stepLifecycle(bakery, current);
    if (step.done) return step;
    current =
      step.record.version === current.version ? await bakery.lifecycles.get(current.token) : step.record;
    if (Date.now() + pauseMs > until) {
      await bakery.scheduler.scheduleLifecycle(current.token, step.wakeInSeconds ?? 5);
      return { ...step, record: current };
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
