import {
  CompleteLifecycleActionCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstanceStatusCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { SNSClient } from '@aws-sdk/client-sns';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { ConflictError, describeError, isAwsError, isTransient } from '../errors';
import { publishNotification } from '../notify/notifications';
import { lifecycleNotification } from './notifications';
import type { PipelineCatalog } from '../pipeline/catalog';
import { targetsOf, type LifecycleConfig } from '../pipeline/schema';
import {
  heartbeatDue,
  lifecycleReads,
  lifecycleVerdict,
  type LifecycleReads,
  type LifecycleSeen,
  type LifecycleVerdict,
} from './decide';
import type { LifecycleAction } from './message';
import type { LifecycleRecord, LifecycleStore } from './store';

/**
 * What lifecycle actions need, and no more: the pipelines (for the group's checks), AWS, their
 * records, the topic, a clock and the timer that carries a long check on. (A Bakery has them all.)
 */
export interface LifecycleDeps {
  readonly region: string;
  readonly autoScaling: Pick<AutoScalingClient, 'send'>;
  readonly ec2In: (region: string) => Pick<EC2Client, 'send'>;
  readonly ssmIn: (region: string) => Pick<SSMClient, 'send'>;
  readonly catalog: PipelineCatalog;
  readonly lifecycles: LifecycleStore;
  readonly sns: Pick<SNSClient, 'send'>;
  readonly topicArn: string;
  readonly scheduler: { scheduleLifecycle(token: string, delaySeconds: number): Promise<void> };
  readonly clock: () => Date;
  /** How long one pass may hold an action. */
  readonly leaseSeconds: number;
}

/** The lifecycle configuration for a group: its target's, else its pipeline's; none if no pipeline names it. */
export function lifecycleFor(
  catalog: PipelineCatalog,
  group: string,
): { pipeline: string; config: LifecycleConfig } | undefined {
  for (const pipeline of catalog.all) {
    const target = pipeline.rollout && targetsOf(pipeline.rollout).find((t) => t.autoScalingGroup === group);
    if (target) return { pipeline: pipeline.name, config: target.lifecycle ?? pipeline.lifecycle ?? {} };
  }
  return undefined;
}

/**
 * Hook heartbeat timeouts rarely change: read once per container, per Auto Scaling client (so per
 * account and region) and hook.
 */
const heartbeatTimeouts = new WeakMap<object, Map<string, number>>();

async function heartbeatTimeoutOf(deps: LifecycleDeps, record: LifecycleRecord): Promise<number> {
  const known = heartbeatTimeouts.get(deps.autoScaling) ?? new Map<string, number>();
  heartbeatTimeouts.set(deps.autoScaling, known);
  const cacheKey = `${record.group}\n${record.hook}`;
  const cached = known.get(cacheKey);
  if (cached !== undefined) return cached;
  const hooks = await deps.autoScaling.send(
    new DescribeLifecycleHooksCommand({
      AutoScalingGroupName: record.group,
      LifecycleHookNames: [record.hook],
    }),
  );
  const seconds = hooks.LifecycleHooks?.[0]?.HeartbeatTimeout ?? 3600;
  known.set(cacheKey, seconds);
  return seconds;
}

/**
 * Records a hook's notification as a lifecycle action to carry out (once: a duplicate delivery
 * gets the first one's record).
 */
export async function receive(
  deps: LifecycleDeps,
  action: LifecycleAction,
): Promise<{ record: LifecycleRecord; duplicate: boolean }> {
  const now = deps.clock().toISOString();
  const owner = lifecycleFor(deps.catalog, action.group);
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
  const opened = await deps.lifecycles.open(fresh);
  return { record: opened.record, duplicate: !opened.created };
}

/** Reads what the check needs on this look (`lifecycleReads`), nothing more. */
async function look(
  deps: LifecycleDeps,
  record: LifecycleRecord,
  reads: LifecycleReads,
  now: Date,
): Promise<LifecycleSeen> {
  const ssm = deps.ssmIn(deps.region);
  switch (reads) {
    case 'nothing':
      return { now };
    case 'status-checks': {
      const answer = await deps
        .ec2In(deps.region)
        .send(
          new DescribeInstanceStatusCommand({ InstanceIds: [record.instanceId], IncludeAllInstances: true }),
        );
      const status = answer.InstanceStatuses?.[0];
      return { now, statusChecks: [status?.InstanceStatus?.Status, status?.SystemStatus?.Status] };
    }
    case 'agent': {
      const agents = await ssm.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: [record.instanceId] }],
        }),
      );
      return { now, agentOnline: agents.InstanceInformationList?.[0]?.PingStatus === 'Online' };
    }
    case 'invocation':
      try {
        const invocation = await ssm.send(
          new GetCommandInvocationCommand({ CommandId: record.commandId, InstanceId: record.instanceId }),
        );
        return {
          now,
          invocation: {
            status: invocation.Status ?? '',
            ...(invocation.ResponseCode !== undefined ? { exitCode: invocation.ResponseCode } : {}),
            ...(invocation.StandardOutputContent ? { stdout: invocation.StandardOutputContent } : {}),
            ...(invocation.StandardErrorContent ? { stderr: invocation.StandardErrorContent } : {}),
          },
        };
      } catch (error) {
        if (!isAwsError(error, 'InvocationDoesNotExist')) throw error; // just sent: not visible yet
        return { now };
      }
  }
}

/** Sends the check's command; its id goes on the record, for the next looks to follow. */
async function sendCheck(
  deps: LifecycleDeps,
  record: LifecycleRecord,
  send: NonNullable<Extract<LifecycleVerdict, { kind: 'wait' }>['send']>,
): Promise<string> {
  const sent = await deps.ssmIn(deps.region).send(
    new SendCommandCommand({
      InstanceIds: [record.instanceId],
      DocumentName: 'AWS-RunShellScript',
      // Stryker disable next-line MethodExpression: AWS's 100-character limit; a transition and an instance id never reach it.
      Comment: `ami-bakery lifecycle ${record.transition} ${record.instanceId}`.slice(0, 100),
      Parameters: { commands: [...send.commands], executionTimeout: [String(send.timeoutSeconds)] },
    }),
  );
  return sent.Command?.CommandId ?? '';
}

function isGone(error: unknown): boolean {
  return isAwsError(error, 'ValidationError') && /No active Lifecycle Action/i.test((error as Error).message);
}

/** CompleteLifecycleAction; an action already gone (completed by us before, or expired) counts as done. */
async function complete(
  deps: LifecycleDeps,
  record: LifecycleRecord,
  verdict: Extract<LifecycleVerdict, { kind: 'complete' }>,
): Promise<LifecycleRecord> {
  const done: LifecycleRecord = {
    ...record,
    status: 'completed',
    result: verdict.result,
    outcome: verdict.outcome,
    ...(verdict.reason ? { reason: verdict.reason } : {}),
  };
  try {
    await deps.autoScaling.send(
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
export async function stepLifecycle(deps: LifecycleDeps, record: LifecycleRecord): Promise<StepResult> {
  if (record.status === 'completed') return { record, done: true };
  const now = deps.clock();
  if (!(await deps.lifecycles.claim(record, now, deps.leaseSeconds))) {
    return { record, done: false, wakeInSeconds: 2 }; // another pass is on it
  }
  try {
    return await stepClaimed(deps, record, now);
  } catch (error) {
    await deps.lifecycles.release(record).catch(() => undefined);
    throw error;
  }
}

async function stepClaimed(deps: LifecycleDeps, record: LifecycleRecord, now: Date): Promise<StepResult> {
  const config = lifecycleFor(deps.catalog, record.group)?.config ?? {};
  let next: LifecycleRecord = { ...record, updatedAt: now.toISOString() };
  const seen = await look(deps, record, lifecycleReads(record, config, now), now);
  const verdict = lifecycleVerdict(record, config, seen);
  if (verdict.kind === 'complete') {
    next = { ...(await complete(deps, next, verdict)), updatedAt: now.toISOString() };
    const type =
      next.outcome === 'drain-failed'
        ? 'lifecycle.drain-failed'
        : next.result === 'ABANDON'
          ? 'lifecycle.abandoned'
          : undefined;
    if (type) await publishNotification(deps.sns, deps.topicArn, lifecycleNotification(next, type));
  } else {
    if (verdict.send) next = { ...next, commandId: await sendCheck(deps, record, verdict.send) };
    if (heartbeatDue(record, now, await heartbeatTimeoutOf(deps, record))) {
      try {
        await deps.autoScaling.send(
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
    const written = await deps.lifecycles.commit(record, next);
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
  deps: LifecycleDeps,
  record: LifecycleRecord,
  boundSeconds: number,
  pauseMs = 1000,
): Promise<StepResult> {
  const until = Date.now() + boundSeconds * 1000;
  let current = record;
  for (;;) {
    const step = await stepLifecycle(deps, current);
    if (step.done) return step;
    current =
      step.record.version === current.version ? await deps.lifecycles.get(current.token) : step.record;
    if (Date.now() + pauseMs > until) {
      await deps.scheduler.scheduleLifecycle(current.token, step.wakeInSeconds ?? 5);
      return { ...step, record: current };
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
