import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstanceStatusCommand, EC2Client } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { ConflictError } from '../../lib/errors';
import { driveLifecycle, receive, stepLifecycle, type LifecycleDeps } from '../../lib/lifecycle/engine';
import type { LifecycleRecord, LifecycleStore } from '../../lib/lifecycle/store';
import { loadPipelines, PipelineCatalog } from '../../lib/pipeline/catalog';
import type { LifecycleConfig, PipelineInput } from '../../lib/pipeline/schema';

// The AWS side of a lifecycle action, call by call, with mocked clients: the inputs sent, each
// answer and error, the heartbeat, the notification, the commit. The rules themselves are
// lifecycle-decide.test.ts; the whole path against the emulator is integration/lifecycle.test.ts.

const autoScaling = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const sns = mockClient(SNSClient);
const T0 = new Date('2026-11-30T12:00:00.000Z');
const [, minimal] = pipelines as [PipelineInput, PipelineInput];

function catalogWith(group: string, lifecycle: LifecycleConfig): PipelineCatalog {
  return new PipelineCatalog(
    loadPipelines(
      [{ ...minimal, name: 'fleet', rollout: { targets: [{ autoScalingGroup: group, lifecycle }] } }],
      {
        builderProfile: 'p',
      },
    ),
  );
}

/** A store in memory, with the real one's contract (versions, a lease, a conflict). */
class MemoryStore {
  records = new Map<string, LifecycleRecord>();
  claims = true;
  releases = 0;
  conflict: Error | undefined;
  open(record: LifecycleRecord) {
    const known = this.records.get(record.token);
    if (known) return Promise.resolve({ record: known, created: false });
    this.records.set(record.token, record);
    return Promise.resolve({ record, created: true });
  }
  claim() {
    return Promise.resolve(this.claims);
  }
  release() {
    this.releases += 1;
    return Promise.resolve();
  }
  commit(before: LifecycleRecord, next: LifecycleRecord) {
    if (this.conflict) return Promise.reject(this.conflict);
    const written = { ...next, version: before.version + 1 };
    this.records.set(next.token, written);
    return Promise.resolve(written);
  }
  gets = 0;
  get(token: string) {
    this.gets += 1;
    const found = this.records.get(token);
    return found ? Promise.resolve(found) : Promise.reject(new Error(`no ${token}`));
  }
}

let store: MemoryStore;
let scheduled: [string, number][];
let now: Date;
let client: AutoScalingClient;

function deps(config: LifecycleConfig = {}, group = 'web'): LifecycleDeps {
  return {
    region: 'us-east-1',
    autoScaling: client,
    ec2In: () => new EC2Client({ region: 'us-east-1' }),
    ssmIn: () => new SSMClient({ region: 'us-east-1' }),
    catalog: catalogWith(group, config),
    lifecycles: store as unknown as LifecycleStore,
    sns: new SNSClient({ region: 'us-east-1' }),
    topicArn: 'arn:aws:sns:us-east-1:123456789012:notes',
    scheduler: {
      scheduleLifecycle: (token, delay) => {
        scheduled.push([token, delay]);
        return Promise.resolve();
      },
    },
    clock: () => now,
    leaseSeconds: 30,
  };
}

const action = {
  transition: 'launching' as const,
  hook: 'ready',
  token: 'tok-1',
  group: 'web',
  instanceId: 'i-0a1b2c3d4e5f67890',
};

function record(patch: Partial<LifecycleRecord> = {}): LifecycleRecord {
  return {
    ...action,
    status: 'checking',
    version: 1,
    pipeline: 'fleet',
    receivedAt: T0.toISOString(),
    updatedAt: T0.toISOString(),
    lastHeartbeatAt: T0.toISOString(),
    heartbeats: 0,
    ...patch,
  };
}

const failure = (name: string, message = name) => Object.assign(new Error(message), { name });
const readiness = { readiness: { command: ['curl -fs localhost/health'], timeoutSeconds: 600 } };

beforeEach(() => {
  autoScaling.reset();
  ec2.reset();
  ssm.reset();
  sns.reset();
  // A new client per test: the heartbeat timeout cache is per client.
  client = new AutoScalingClient({ region: 'us-east-1' });
  store = new MemoryStore();
  scheduled = [];
  now = T0;
  autoScaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [{ HeartbeatTimeout: 300 }] });
  autoScaling.on(CompleteLifecycleActionCommand).resolves({});
  autoScaling.on(RecordLifecycleActionHeartbeatCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});

describe('receive', () => {
  it('records an action of a group a pipeline names, to check', async () => {
    const { record: opened, duplicate } = await receive(deps(readiness), action);

    expect(duplicate).toBe(false);
    expect(opened).toEqual({
      ...action,
      status: 'checking',
      version: 0,
      pipeline: 'fleet',
      receivedAt: T0.toISOString(),
      updatedAt: T0.toISOString(),
      lastHeartbeatAt: T0.toISOString(),
      heartbeats: 0,
    });
  });

  it('records one for a group no pipeline names as completed, not ours, and a second delivery as a duplicate', async () => {
    const stranger = { ...action, group: 'stranger' };

    const first = await receive(deps(readiness), stranger);
    const second = await receive(deps(readiness), stranger);

    expect(first.record).toMatchObject({
      status: 'completed',
      outcome: 'not-ours',
      reason: "No pipeline names group stranger: left to the hook's default result",
    });
    expect(first.record.pipeline).toBeUndefined();
    expect(second.duplicate).toBe(true);
  });
});

describe('stepLifecycle', () => {
  it('does nothing for a completed action', async () => {
    const done = record({ status: 'completed' });

    expect(await stepLifecycle(deps(), done)).toEqual({ record: done, done: true });
    expect(autoScaling.calls()).toHaveLength(0);
  });

  it('leaves an action another pass holds, to look again in 2 s', async () => {
    store.claims = false;

    expect(await stepLifecycle(deps(), record())).toEqual({
      record: record(),
      done: false,
      wakeInSeconds: 2,
    });
    expect(autoScaling.calls()).toHaveLength(0);
  });

  it('continues at once without a check, naming the action exactly, and commits', async () => {
    const step = await stepLifecycle(deps({}), record());

    expect(autoScaling.commandCalls(CompleteLifecycleActionCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'web',
      LifecycleHookName: 'ready',
      LifecycleActionToken: 'tok-1',
      LifecycleActionResult: 'CONTINUE',
      InstanceId: action.instanceId,
    });
    expect(step).toEqual({
      record: expect.objectContaining({
        status: 'completed',
        result: 'CONTINUE',
        outcome: 'no-check',
        version: 2,
      }) as unknown,
      done: true,
    });
    expect(sns.calls()).toHaveLength(0);
  });

  it('reads both status checks of the instance', async () => {
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [{ InstanceStatus: { Status: 'ok' }, SystemStatus: { Status: 'ok' } }],
    });

    const step = await stepLifecycle(
      deps({ readiness: { ec2StatusChecks: true, timeoutSeconds: 600 } }),
      record(),
    );

    expect(ec2.commandCalls(DescribeInstanceStatusCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [action.instanceId],
      IncludeAllInstances: true,
    });
    expect(step.record).toMatchObject({ status: 'completed', result: 'CONTINUE' });
  });

  it('waits while the status checks are not both ok, looking again in 5 s', async () => {
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [{ InstanceStatus: { Status: 'initializing' }, SystemStatus: { Status: 'ok' } }],
    });

    const step = await stepLifecycle(
      deps({ readiness: { ec2StatusChecks: true, timeoutSeconds: 600 } }),
      record(),
    );

    expect(step).toMatchObject({ done: false, wakeInSeconds: 5, record: { status: 'checking', version: 2 } });
  });

  it('sends the readiness command once the agent is online, and records its id', async () => {
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolves({ InstanceInformationList: [{ PingStatus: 'Online' }] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });

    const step = await stepLifecycle(deps(readiness), record());

    expect(ssm.commandCalls(DescribeInstanceInformationCommand)[0]?.args[0].input).toEqual({
      Filters: [{ Key: 'InstanceIds', Values: [action.instanceId] }],
    });
    expect(ssm.commandCalls(SendCommandCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [action.instanceId],
      DocumentName: 'AWS-RunShellScript',
      Comment: `ami-bakery lifecycle launching ${action.instanceId}`,
      Parameters: { commands: ['curl -fs localhost/health'], executionTimeout: ['600'] },
    });
    expect(step.record).toMatchObject({ status: 'checking', commandId: 'cmd-1' });
  });

  it('sends nothing while the agent is not online', async () => {
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolves({ InstanceInformationList: [{ PingStatus: 'ConnectionLost' }] });

    await stepLifecycle(deps(readiness), record());

    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('follows the command it sent: success continues', async () => {
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', ResponseCode: 0 });

    const step = await stepLifecycle(deps(readiness), record({ commandId: 'cmd-1' }));

    expect(ssm.commandCalls(GetCommandInvocationCommand)[0]?.args[0].input).toEqual({
      CommandId: 'cmd-1',
      InstanceId: action.instanceId,
    });
    expect(step.record).toMatchObject({ status: 'completed', result: 'CONTINUE', outcome: 'ready' });
  });

  it('abandons an instance whose check failed, says why with its output, and announces it', async () => {
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      ResponseCode: 7,
      StandardOutputContent: 'connecting',
      StandardErrorContent: 'refused',
    });

    const step = await stepLifecycle(deps(readiness), record({ commandId: 'cmd-1' }));

    expect(step.record).toMatchObject({
      status: 'completed',
      result: 'ABANDON',
      outcome: 'not-ready',
      reason: 'Command Failed (exit 7): refused',
    });
    const published = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(published?.TopicArn).toBe('arn:aws:sns:us-east-1:123456789012:notes');
    expect(published?.MessageAttributes?.type?.StringValue).toBe('lifecycle.abandoned');
  });

  it('announces a drain that failed, and still continues', async () => {
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', ResponseCode: 1 });
    const draining = record({ transition: 'terminating', commandId: 'cmd-1' });

    const step = await stepLifecycle(deps({ drain: { command: ['drain'], timeoutSeconds: 300 } }), draining);

    expect(step.record).toMatchObject({ result: 'CONTINUE', outcome: 'drain-failed' });
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input.MessageAttributes?.type?.StringValue).toBe(
      'lifecycle.drain-failed',
    );
  });

  it('waits for a command not visible yet (InvocationDoesNotExist)', async () => {
    ssm.on(GetCommandInvocationCommand).rejects(failure('InvocationDoesNotExist'));

    expect(await stepLifecycle(deps(readiness), record({ commandId: 'cmd-1' }))).toMatchObject({
      done: false,
      record: { status: 'checking' },
    });
  });

  it('gives up the lease and throws on any other error, to be retried', async () => {
    ssm.on(GetCommandInvocationCommand).rejects(failure('ThrottlingException'));

    await expect(stepLifecycle(deps(readiness), record({ commandId: 'cmd-1' }))).rejects.toThrow(
      'ThrottlingException',
    );
    expect(store.releases).toBe(1);
  });

  it('keeps the action alive with a heartbeat at half the hook’s timeout, reading the timeout once per client and hook', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    now = new Date(T0.getTime() + 151_000); // past half of 300 s

    const step = await stepLifecycle(deps(readiness), record());
    await stepLifecycle(deps(readiness), record());

    expect(autoScaling.commandCalls(DescribeLifecycleHooksCommand)).toHaveLength(1);
    expect(autoScaling.commandCalls(DescribeLifecycleHooksCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'web',
      LifecycleHookNames: ['ready'],
    });
    expect(autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'web',
      LifecycleHookName: 'ready',
      LifecycleActionToken: 'tok-1',
      InstanceId: action.instanceId,
    });
    expect(step.record).toMatchObject({ lastHeartbeatAt: now.toISOString(), heartbeats: 1 });
  });

  it('sends no heartbeat before half the timeout; a hook without one counts 3,600 s', async () => {
    autoScaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [] });
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    now = new Date(T0.getTime() + 1_700_000); // under 1,800 s

    const step = await stepLifecycle(deps(readiness), record());

    expect(autoScaling.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(0);
    expect(step.record.heartbeats).toBe(0);
  });

  it('ends an action whose heartbeat AWS refuses for good as gone; a throttled one is retried', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    now = new Date(T0.getTime() + 151_000);
    autoScaling
      .on(RecordLifecycleActionHeartbeatCommand)
      .rejects(failure('ValidationError', 'No active Lifecycle Action found'));

    const step = await stepLifecycle(deps(readiness), record());

    expect(step.record).toMatchObject({
      status: 'completed',
      outcome: 'gone',
      reason: 'No active Lifecycle Action found',
    });

    autoScaling.on(RecordLifecycleActionHeartbeatCommand).rejects(failure('Throttling'));
    await expect(stepLifecycle(deps(readiness), record())).rejects.toThrow('Throttling');
  });

  it.each<[string, Error, Partial<LifecycleRecord>]>([
    [
      'an action already gone',
      failure('ValidationError', 'No active Lifecycle Action found with token tok-1'),
      { outcome: 'no-check', reason: 'No active lifecycle action (already completed or expired)' },
    ],
    [
      'any other final refusal',
      failure('ValidationError', 'Token expired'),
      { outcome: 'gone', reason: 'Token expired' },
    ],
  ])('completes when CompleteLifecycleAction answers %s', async (_, error, expected) => {
    autoScaling.on(CompleteLifecycleActionCommand).rejects(error);

    const step = await stepLifecycle(deps({}), record());

    expect(step.record).toMatchObject({ status: 'completed', result: 'CONTINUE', ...expected });
  });

  it('throws a throttled CompleteLifecycleAction, to be retried', async () => {
    autoScaling.on(CompleteLifecycleActionCommand).rejects(failure('Throttling'));

    await expect(stepLifecycle(deps({}), record())).rejects.toThrow('Throttling');
  });

  it('looks again in 1 s when another pass committed first; throws any other commit error', async () => {
    store.conflict = new ConflictError('someone else');

    expect(await stepLifecycle(deps({}), record())).toEqual({
      record: record(),
      done: false,
      wakeInSeconds: 1,
    });

    store.conflict = new Error('table gone');
    await expect(stepLifecycle(deps({}), record())).rejects.toThrow('table gone');
  });
});

describe('stepLifecycle: answers with their optional fields left out', () => {
  it('counts 3,600 s for a hook AWS does not describe', async () => {
    autoScaling.on(DescribeLifecycleHooksCommand).resolves({});
    ssm.on(DescribeInstanceInformationCommand).resolves({});
    now = new Date(T0.getTime() + 1_700_000);

    const step = await stepLifecycle(deps(readiness), record());

    expect(step.record.heartbeats).toBe(0);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it.each([{}, { InstanceStatuses: [{}] }])('waits on status checks it cannot read (%j)', async (answer) => {
    ec2.on(DescribeInstanceStatusCommand).resolves(answer);

    const step = await stepLifecycle(
      deps({ readiness: { ec2StatusChecks: true, timeoutSeconds: 600 } }),
      record(),
    );

    expect(step).toMatchObject({ done: false, record: { status: 'checking' } });
  });

  it('records an empty command id when SendCommand names none, and a blank status as still running', async () => {
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolves({ InstanceInformationList: [{ PingStatus: 'Online' }] });
    ssm.on(SendCommandCommand).resolves({});
    ssm.on(GetCommandInvocationCommand).resolves({});

    const sent = await stepLifecycle(deps(readiness), record());
    const followed = await stepLifecycle(deps(readiness), record({ commandId: 'cmd-1' }));

    expect(sent.record.commandId).toBe('');
    expect(followed).toMatchObject({ done: false, record: { status: 'checking' } });
  });

  it('says “exit ?” for a failed command without an exit code, and keeps its output', async () => {
    ssm
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'TimedOut', StandardOutputContent: 'still waiting' });

    const step = await stepLifecycle(deps(readiness), record({ commandId: 'cmd-1' }));

    expect(step.record.reason).toBe('Command TimedOut (exit ?): still waiting');
  });

  it('continues an action of a group no pipeline names any more', async () => {
    const step = await stepLifecycle(deps(readiness, 'other'), record());

    expect(step.record).toMatchObject({ status: 'completed', result: 'CONTINUE', outcome: 'no-check' });
  });

  it('reads the heartbeat timeout of each hook apart', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    now = new Date(T0.getTime() + 151_000);

    await stepLifecycle(deps(readiness), record());
    await stepLifecycle(deps(readiness), record({ hook: 'other-hook' }));

    expect(
      autoScaling.commandCalls(DescribeLifecycleHooksCommand).map((c) => c.args[0].input.LifecycleHookNames),
    ).toEqual([['ready'], ['other-hook']]);
  });
});

describe('driveLifecycle', () => {
  it('steps until the action is completed', async () => {
    const step = await driveLifecycle(deps({}), record(), 5, 1);

    expect(step.done).toBe(true);
    expect(scheduled).toEqual([]);
  });

  it('reads the record again when a pass changed nothing, and hands it to the timer with its wait', async () => {
    store.claims = false;
    store.records.set('tok-1', record({ version: 7 }));

    const step = await driveLifecycle(deps(readiness), record(), 0, 1);

    expect(step.record.version).toBe(7);
    expect(scheduled).toEqual([['tok-1', 2]]);
  });

  it('hands a long check to the timer when its bound is up, with the record its commit wrote', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    store.records.set('tok-1', record());

    const step = await driveLifecycle(deps(readiness), record(), 0, 1);

    expect(step.done).toBe(false);
    expect(scheduled).toEqual([['tok-1', 5]]);
    expect(step.record.version).toBe(2);
    // The commit's own answer: no read of the store.
    expect(store.gets).toBe(0);
  });
});
