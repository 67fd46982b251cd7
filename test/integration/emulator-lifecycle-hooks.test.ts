import {
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  PutLifecycleHookCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsForTest, controlFor, eventually, type TestAws } from '../support/aws';
import { allowHookRole } from '../../emulator/hooks';
import { receiveNotifications } from '../support/notifications';
import { createSandbox, describeGroup, type Sandbox } from '../../emulator/sandbox';

// Lifecycle hooks that work (part b): wait states, notifications to the hook's SNS topic,
// completion by token or instance id, heartbeats, timeouts with the default result.

interface LifecycleMessage {
  LifecycleActionToken: string;
  EC2InstanceId: string;
  LifecycleTransition: string;
  LifecycleHookName: string;
  AutoScalingGroupName: string;
  NotificationMetadata?: string;
  Origin: string;
  Destination: string;
  Service: string;
  AccountId: string;
  RequestId: string;
  Time: string;
}

async function setUp(name: string, key: string): Promise<{ aws: TestAws; sandbox: Sandbox }> {
  const aws = awsForTest(`${import.meta.url}#${key}`);
  const sandbox = await createSandbox(aws, { name, desiredCapacity: 1 });
  return { aws, sandbox };
}

async function putHook(
  aws: TestAws,
  sandbox: Sandbox,
  name: string,
  transition: string,
  extra = {},
): Promise<void> {
  const hookRole = `arn:aws:iam::${aws.accountId}:role/hook-publisher`;
  await allowHookRole(controlFor(aws), hookRole, sandbox.topicArn);
  await aws.autoScaling.send(
    new PutLifecycleHookCommand({
      AutoScalingGroupName: sandbox.autoScalingGroupName,
      LifecycleHookName: name,
      LifecycleTransition: transition,
      NotificationTargetARN: sandbox.topicArn,
      RoleARN: hookRole,
      ...extra,
    }),
  );
}

async function lifecycleMessages(aws: TestAws, sandbox: Sandbox, count: number): Promise<LifecycleMessage[]> {
  const received = await receiveNotifications(aws, sandbox.queueUrl, { count });
  return received
    .map((notification) => notification.message as LifecycleMessage)
    .filter((m) => 'LifecycleActionToken' in m);
}

async function states(aws: TestAws, sandbox: Sandbox): Promise<Record<string, string>> {
  const group = await describeGroup(aws, sandbox.autoScalingGroupName);
  return Object.fromEntries((group.Instances ?? []).map((i) => [i.InstanceId ?? '', i.LifecycleState ?? '']));
}

async function registeredTargets(aws: TestAws, sandbox: Sandbox): Promise<string[]> {
  const health = await aws.elb.send(
    new DescribeTargetHealthCommand({ TargetGroupArn: sandbox.targetGroupArn }),
  );
  return health.TargetHealthDescriptions?.map((target) => target.Target?.Id ?? '') ?? [];
}

describe('launch hooks', () => {
  let aws: TestAws;
  let sandbox: Sandbox;

  beforeAll(async () => {
    ({ aws, sandbox } = await setUp('launch', 'launch'));
  });

  it('keeps the hook settings and sends a test notification to the target', async () => {
    await putHook(aws, sandbox, 'ready', 'autoscaling:EC2_INSTANCE_LAUNCHING', {
      HeartbeatTimeout: 300,
      DefaultResult: 'ABANDON',
      NotificationMetadata: '{"check":"http"}',
    });

    const [test] = await receiveNotifications(aws, sandbox.queueUrl, { count: 1 });
    const hooks = await aws.autoScaling.send(
      new DescribeLifecycleHooksCommand({ AutoScalingGroupName: sandbox.autoScalingGroupName }),
    );

    expect(test?.message).toMatchObject({
      Event: 'autoscaling:TEST_NOTIFICATION',
      AutoScalingGroupName: sandbox.autoScalingGroupName,
      AccountId: aws.accountId,
    });
    expect(hooks.LifecycleHooks?.[0]).toMatchObject({
      LifecycleHookName: 'ready',
      NotificationTargetARN: sandbox.topicArn,
      RoleARN: `arn:aws:iam::${aws.accountId}:role/hook-publisher`,
      NotificationMetadata: '{"check":"http"}',
      HeartbeatTimeout: 300,
      GlobalTimeout: 30000,
      DefaultResult: 'ABANDON',
    });
  });

  it('holds a new instance in Pending:Wait, out of InService everywhere, until CONTINUE', async () => {
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        DesiredCapacity: 2,
      }),
    );
    const [message] = await lifecycleMessages(aws, sandbox, 1);
    if (!message) throw new Error('no lifecycle notification');
    const waiting = message.EC2InstanceId;

    expect(message).toMatchObject({
      Origin: 'EC2',
      Destination: 'AutoScalingGroup',
      LifecycleHookName: 'ready',
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      AutoScalingGroupName: sandbox.autoScalingGroupName,
      Service: 'AWS Auto Scaling',
      AccountId: aws.accountId,
      NotificationMetadata: '{"check":"http"}',
    });
    expect(message.RequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await states(aws, sandbox))[waiting]).toBe('Pending:Wait');
    const described = await aws.autoScaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [waiting] }),
    );
    expect(described.AutoScalingInstances?.[0]?.LifecycleState).toBe('Pending:Wait');
    // Still one instance launched: a waiting instance counts toward desired capacity.
    expect(Object.keys(await states(aws, sandbox))).toHaveLength(2);
    // ...and it is not registered with the load balancer until it is InService.
    expect(await registeredTargets(aws, sandbox)).not.toContain(waiting);

    await aws.autoScaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        LifecycleHookName: 'ready',
        LifecycleActionToken: message.LifecycleActionToken,
        LifecycleActionResult: 'CONTINUE',
      }),
    );

    await eventually(async () => ((await states(aws, sandbox))[waiting] === 'InService' ? true : undefined));
    expect(await registeredTargets(aws, sandbox)).toContain(waiting);
  });

  it('rejects completing an action twice, and an unknown token or instance', async () => {
    const complete = (input: { LifecycleActionToken?: string; InstanceId?: string }) =>
      aws.autoScaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: sandbox.autoScalingGroupName,
          LifecycleHookName: 'ready',
          LifecycleActionResult: 'CONTINUE',
          ...input,
        }),
      );

    await expect(
      complete({ LifecycleActionToken: '11111111-2222-3333-4444-555555555555' }),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'No active Lifecycle Action found with token 11111111-2222-3333-4444-555555555555',
    });
    await expect(complete({ InstanceId: 'i-0123456789abcdef0' })).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'No active Lifecycle Action found with instance ID i-0123456789abcdef0',
    });
  });

  it('completes by instance id, with ABANDON: the instance is terminated and replaced', async () => {
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        DesiredCapacity: 3,
      }),
    );
    const [message] = await lifecycleMessages(aws, sandbox, 1);
    if (!message) throw new Error('no lifecycle notification');

    await aws.autoScaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        LifecycleHookName: 'ready',
        InstanceId: message.EC2InstanceId,
        LifecycleActionResult: 'ABANDON',
      }),
    );

    const [replacement] = await lifecycleMessages(aws, sandbox, 1);
    const instance = await aws.ec2.send(
      new DescribeInstancesCommand({ InstanceIds: [message.EC2InstanceId] }),
    );
    expect(instance.Reservations?.[0]?.Instances?.[0]?.State?.Name).toMatch(/shutting-down|terminated/);
    expect(replacement?.EC2InstanceId).not.toBe(message.EC2InstanceId);
    expect((await states(aws, sandbox))[replacement?.EC2InstanceId ?? '']).toBe('Pending:Wait');
  });
});

describe('hook timeouts', () => {
  it('applies the default result when no heartbeat comes, and heartbeats hold it off', async () => {
    const { aws, sandbox } = await setUp('timeout', 'timeout');
    // 30 s heartbeat timeout at 1/50 speed: 0.6 s.
    await controlFor(aws).configure({ timeScale: 0.02 });
    await putHook(aws, sandbox, 'ready', 'autoscaling:EC2_INSTANCE_LAUNCHING', {
      HeartbeatTimeout: 30,
      DefaultResult: 'CONTINUE',
    });
    await receiveNotifications(aws, sandbox.queueUrl, { count: 1 }); // the test notification
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        DesiredCapacity: 2,
      }),
    );
    const [message] = await lifecycleMessages(aws, sandbox, 1);
    if (!message) throw new Error('no lifecycle notification');
    const started = Date.now();

    for (let beat = 0; beat < 4; beat += 1) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await aws.autoScaling.send(
        new RecordLifecycleActionHeartbeatCommand({
          AutoScalingGroupName: sandbox.autoScalingGroupName,
          LifecycleHookName: 'ready',
          LifecycleActionToken: message.LifecycleActionToken,
        }),
      );
      expect((await states(aws, sandbox))[message.EC2InstanceId]).toBe('Pending:Wait');
    }

    await eventually(async () =>
      (await states(aws, sandbox))[message.EC2InstanceId] === 'InService' ? true : undefined,
    );
    expect(Date.now() - started).toBeGreaterThan(1_200 + 500);
  });
});

describe('terminate hooks', () => {
  it('holds a scaled-in instance in Terminating:Wait until the action completes', async () => {
    const { aws, sandbox } = await setUp('drain', 'drain');
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        DesiredCapacity: 2,
      }),
    );
    await putHook(aws, sandbox, 'drain', 'autoscaling:EC2_INSTANCE_TERMINATING', { HeartbeatTimeout: 600 });
    await receiveNotifications(aws, sandbox.queueUrl, { count: 1 });

    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        DesiredCapacity: 1,
      }),
    );
    const [message] = await lifecycleMessages(aws, sandbox, 1);
    if (!message) throw new Error('no lifecycle notification');

    expect(message).toMatchObject({
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
    });
    expect((await states(aws, sandbox))[message.EC2InstanceId]).toBe('Terminating:Wait');
    const running = await aws.ec2.send(
      new DescribeInstancesCommand({ InstanceIds: [message.EC2InstanceId] }),
    );
    expect(running.Reservations?.[0]?.Instances?.[0]?.State?.Name).toBe('running');

    await aws.autoScaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        LifecycleHookName: 'drain',
        LifecycleActionToken: message.LifecycleActionToken,
        LifecycleActionResult: 'CONTINUE',
      }),
    );

    expect(Object.keys(await states(aws, sandbox))).not.toContain(message.EC2InstanceId);
    const gone = await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [message.EC2InstanceId] }));
    expect(gone.Reservations?.[0]?.Instances?.[0]?.State?.Name).toMatch(/shutting-down|terminated/);
  });
});
