import {
  CompleteLifecycleActionCommand,
  CreateAutoScalingGroupCommand,
  DescribeInstanceRefreshesCommand,
  SetInstanceProtectionCommand,
  PutLifecycleHookCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  DeleteLaunchTemplateCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { createSandbox, describeGroup } from '../../emulator/sandbox';
import type { RolloutTarget } from '../../lib/bake/model';
import { cancelBake, reconcile, startBake } from '../../lib/bake/service';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { awsForTest, controlFor, type TestAws } from '../support/aws';
import { allowHookRole } from '../../emulator/hooks';
import { bakeryForTest, runToEnd } from '../support/bakery';
import { receiveNotifications } from '../support/notifications';

// After publishing, the fleet moves to the new image: template versions, then Instance Refresh.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];

function rolling(
  targets: string[],
  extra: Partial<NonNullable<PipelineInput['rollout']>> = {},
): PipelineInput {
  return {
    ...minimal,
    name: 'fleet',
    publish: { parameter: '/ami-bakery/fleet/latest' },
    rollout: {
      targets: targets.map((autoScalingGroup) => ({ autoScalingGroup })),
      refresh: { minHealthyPercentage: 50, instanceWarmupSeconds: 60 },
      ...extra,
    },
  };
}

async function setUp(key: string, pipeline: PipelineInput) {
  const aws = awsForTest(`${import.meta.url}#${key}`);
  const sandbox = await createSandbox(aws, { name: key, desiredCapacity: 2 });
  const bakery = await bakeryForTest(aws, sandbox, [pipeline]);
  await controlFor(aws).configure({ timeScale: 0.002 });
  return { aws, sandbox, bakery };
}

async function versionsIn(aws: TestAws, group: string): Promise<(string | undefined)[]> {
  return (await describeGroup(aws, group)).Instances?.map((i) => i.LaunchTemplate?.Version).sort() ?? [];
}

describe('a rollout with a bake time', () => {
  it('waits while the refresh bakes, then succeeds', async () => {
    const pipeline = rolling(['baked-app'], {
      refresh: { minHealthyPercentage: 50, instanceWarmupSeconds: 0, bakeTimeSeconds: 500 }, // 1 s here
    });
    const { aws, bakery } = await setUp('baked', pipeline);

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'fleet')).id);

    expect(bake.phase).toBe('succeeded');
    const refreshes = await aws.autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'baked-app' }),
    );
    const refresh = refreshes.InstanceRefreshes?.[0];
    expect(refresh?.Preferences?.BakeTime).toBe(500);
    const baked = (refresh?.EndTime?.getTime() ?? 0) - (refresh?.StartTime?.getTime() ?? 0);
    expect(baked).toBeGreaterThanOrEqual(1000);
  });
});

describe('a fleet with an instance protected from scale in', () => {
  it('waits for it visibly (record and rollout.waiting), and goes on once the protection is lifted', async () => {
    const { aws, sandbox, bakery } = await setUp('protected', rolling(['protected-app']));
    const [first] = (await describeGroup(aws, 'protected-app')).Instances ?? [];
    const protection = (ProtectedFromScaleIn: boolean) =>
      aws.autoScaling.send(
        new SetInstanceProtectionCommand({
          AutoScalingGroupName: 'protected-app',
          InstanceIds: [first?.InstanceId ?? ''],
          ProtectedFromScaleIn,
        }),
      );
    await protection(true);
    const { id } = await startBake(bakery.as('api'), 'fleet');

    const waiting = await runToEnd(bakery, id, {
      until: ({ bake }) => bake.rollout?.[0]?.reason?.startsWith('Waiting for') === true,
    });
    await protection(false);
    const bake = await runToEnd(bakery, id);

    expect(waiting.rollout?.[0]).toMatchObject({
      status: 'refreshing',
      reason: 'Waiting for 1 instance(s) protected from scale in.',
    });
    expect(bake.phase).toBe('succeeded');
    expect(bake.rollout?.[0]?.reason).toBeUndefined();
    const types = (await receiveNotifications(aws, sandbox.queueUrl, { count: 30, timeoutMs: 1_500 })).map(
      (n) => n.attributes.type,
    );
    expect(types.filter((type) => type === 'rollout.waiting')).toHaveLength(1);
  });
});

describe('a rollout cancelled half way', () => {
  it('stops the refresh, puts the default back and says where the fleet was left', async () => {
    const pipeline = rolling(['halfway-app'], {
      refresh: {
        minHealthyPercentage: 50,
        instanceWarmupSeconds: 0,
        checkpointPercentages: [50, 100],
        checkpointDelaySeconds: 3_600, // 7 s here: the bake is cancelled during it
      },
    });
    const { aws, sandbox, bakery } = await setUp('halfway', pipeline);
    const { id } = await startBake(bakery.as('api'), 'fleet');
    await runToEnd(bakery, id, { until: ({ bake }) => bake.rollout?.[0]?.checkpoint === 50 });

    await cancelBake(bakery.as('api'), id);
    const bake = await runToEnd(bakery, id);

    expect(bake.phase).toBe('cancelled');
    // The group names $Default: with the bake's version left as default, its next launch would use
    // the cancelled image. Half the fleet was replaced and stays so (AWS does not undo a cancel).
    expect(bake.rollout?.[0]).toMatchObject({
      status: 'cancelled',
      sourceVersion: 1,
      version: 2,
      ended: {
        groupVersion: '$Default',
        instances: [
          { version: '1', count: 1 },
          { version: '2', count: 1 },
        ],
        defaultVersion: 1,
        defaultRestoredFrom: 2,
      },
    });
    const template = await aws.ec2.send(
      new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [sandbox.launchTemplateId] }),
    );
    expect(template.LaunchTemplates?.[0]?.DefaultVersionNumber).toBe(1);
    const refreshes = await aws.autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'halfway-app' }),
    );
    expect(refreshes.InstanceRefreshes?.[0]?.Status).toMatch(/^Cancel/);
    const cancelled = (
      await receiveNotifications(aws, sandbox.queueUrl, { count: 30, timeoutMs: 1_500 })
    ).find((n) => n.attributes.type === 'bake.cancelled');
    const detail = (cancelled?.message as { detail?: { targets?: RolloutTarget[] } } | undefined)?.detail;
    expect(detail?.targets?.[0]?.ended).toEqual(bake.rollout?.[0]?.ended);
  });
});

describe('a rollout to a group whose launch template was deleted', () => {
  it('fails that target with why, and still rolls the other group (the pass never errors)', async () => {
    const { aws, sandbox, bakery } = await setUp('orphan', rolling(['orphan-app', 'orphan-kept']));
    const [first] =
      (
        await aws.ec2.send(
          new DescribeLaunchTemplateVersionsCommand({
            LaunchTemplateId: sandbox.launchTemplateId,
            Versions: ['1'],
          }),
        )
      ).LaunchTemplateVersions ?? [];
    const kept = await aws.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'orphan-kept',
        LaunchTemplateData: { ImageId: first?.LaunchTemplateData?.ImageId, InstanceType: 't3.micro' },
      }),
    );
    await aws.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'orphan-kept',
        LaunchTemplate: { LaunchTemplateId: kept.LaunchTemplate?.LaunchTemplateId, Version: '1' },
        MinSize: 0,
        MaxSize: 1,
        DesiredCapacity: 0,
        VPCZoneIdentifier: sandbox.subnetIds.join(','),
      }),
    );
    // AWS lets a template in use be deleted; the group keeps naming it.
    await aws.ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: sandbox.launchTemplateId }));

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'fleet')).id);

    expect(bake.phase).toBe('failed');
    expect(bake.rollout).toEqual([
      expect.objectContaining({
        group: 'orphan-app',
        status: 'failed',
        reason: 'Group orphan-app not found, or not using a launch template',
      }),
      expect.objectContaining({ group: 'orphan-kept', status: 'succeeded', sourceVersion: 1, version: 2 }),
    ]);
  });
});

describe('a rollout to two groups', () => {
  it('gives each its version and refreshes both', async () => {
    const { aws, sandbox, bakery } = await setUp('two', rolling(['two-app', 'two-blue']));
    await aws.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'two-blue',
        LaunchTemplate: { LaunchTemplateId: sandbox.launchTemplateId, Version: '1' },
        MinSize: 1,
        MaxSize: 2,
        DesiredCapacity: 1,
        VPCZoneIdentifier: sandbox.subnetIds.join(','),
      }),
    );

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'fleet')).id);

    expect(bake.phase).toBe('succeeded');
    expect(bake.rollout).toEqual([
      expect.objectContaining({ group: 'two-app', status: 'succeeded', sourceVersion: 1, version: 2 }),
      // The second group named version 1 explicitly; the bake's version (already made) serves it too.
      expect.objectContaining({ group: 'two-blue', status: 'succeeded', sourceVersion: 1, version: 2 }),
    ]);
    expect(await versionsIn(aws, 'two-app')).toEqual(['2', '2']);
    expect(await versionsIn(aws, 'two-blue')).toEqual(['2']);
    const refresh = await aws.autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'two-blue' }),
    );
    expect(refresh.InstanceRefreshes?.[0]?.DesiredConfiguration?.LaunchTemplate?.Version).toBe('2');
  });
});

describe('a replacement abandoned by its launch hook', () => {
  it('rolls the group back, fails the bake, and says so', async () => {
    const { aws, sandbox, bakery } = await setUp('abandon', rolling(['abandon-app']));
    // Rollback needs a group on an explicit version (AWS cannot roll back one on $Default).
    await aws.autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: 'abandon-app',
        LaunchTemplate: { LaunchTemplateId: sandbox.launchTemplateId, Version: '1' },
      }),
    );
    const hookRole = `arn:aws:iam::${aws.accountId}:role/hook-publisher`;
    await allowHookRole(controlFor(aws), hookRole, sandbox.topicArn);
    await aws.autoScaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: 'abandon-app',
        LifecycleHookName: 'ready',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        NotificationTargetARN: sandbox.topicArn,
        RoleARN: hookRole,
        HeartbeatTimeout: 3600,
      }),
    );
    const { id } = await startBake(bakery.as('api'), 'fleet');
    let decided = 0;
    const types: string[] = [];
    for (let pass = 0; pass < 400; pass += 1) {
      await reconcile(bakery, [id]);
      const { bake } = await bakery.store.get(id);
      if (bake.phase === 'succeeded' || bake.phase === 'failed') break;
      // Answer launch hooks: the first replacement is abandoned, later launches continue.
      for (const n of await receiveNotifications(aws, sandbox.queueUrl, { count: 20, timeoutMs: 1 })) {
        if (n.attributes.type) types.push(n.attributes.type);
        const message = n.message as { LifecycleActionToken?: string };
        if (!message.LifecycleActionToken) continue;
        await aws.autoScaling
          .send(
            new CompleteLifecycleActionCommand({
              AutoScalingGroupName: 'abandon-app',
              LifecycleHookName: 'ready',
              LifecycleActionToken: message.LifecycleActionToken,
              LifecycleActionResult: decided++ === 0 ? 'ABANDON' : 'CONTINUE',
            }),
          )
          .catch(() => undefined); // a rolled-back replacement may be gone already
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const { bake } = await bakery.store.get(id);
    expect(bake.phase).toBe('failed');
    expect(bake.failure).toMatchObject({ phase: 'refreshing', code: 'RolloutFailed' });
    expect(bake.rollout?.[0]).toMatchObject({ group: 'abandon-app', status: 'rolled-back' });
    expect(await versionsIn(aws, 'abandon-app')).toEqual(['1', '1']);
    await runToEnd(bakery, id); // the outbox is delivered
    for (const n of await receiveNotifications(aws, sandbox.queueUrl, { count: 40, timeoutMs: 1_500 })) {
      if (n.attributes.type) types.push(n.attributes.type);
    }
    expect(types).toEqual(
      expect.arrayContaining(['rollout.started', 'rollout.failed', 'rollout.rolled-back', 'bake.failed']),
    );
  });
});

describe.each(['wait', 'cancel'] as const)('a refresh already in progress, policy %s', (policy) => {
  it(policy === 'wait' ? 'waits for it, then refreshes' : 'cancels it, then refreshes', async () => {
    const { aws, sandbox, bakery } = await setUp(
      `busy-${policy}`,
      rolling([`busy-${policy}-app`], { whenRefreshInProgress: policy }),
    );
    // Someone else's refresh with a long warm-up holds the group.
    await controlFor(aws).configure({ timeScale: 0.02 });
    const foreign = await aws.autoScaling.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        Preferences: { MinHealthyPercentage: 50, InstanceWarmup: 100, SkipMatching: false },
      }),
    );

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'fleet')).id, {
      timeoutMs: 30_000,
    });

    const refreshes = await aws.autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: sandbox.autoScalingGroupName }),
    );
    const theirs = refreshes.InstanceRefreshes?.find(
      (r) => r.InstanceRefreshId === foreign.InstanceRefreshId,
    );
    expect(bake.phase).toBe('succeeded');
    expect(theirs?.Status).toBe(policy === 'wait' ? 'Successful' : 'Cancelled');
    expect(refreshes.InstanceRefreshes?.[0]?.InstanceRefreshId).toBe(bake.rollout?.[0]?.refreshId);
    expect(await versionsIn(aws, sandbox.autoScalingGroupName)).toEqual(['2', '2']);
  });
});

describe('a rollout under 25% throttling of Auto Scaling calls', () => {
  it('still completes, with a single refresh started', async () => {
    const { aws, bakery } = await setUp('throttled', rolling(['throttled-app']));
    const control = controlFor(aws);
    await control.setFaults([{ kind: 'throttle', service: 'autoscaling', probability: 0.25 }], 11);
    await control.resetCalls();

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'fleet')).id, {
      timeoutMs: 60_000,
    });

    const { calls, faulted } = await control.calls();
    await control.clearFaults();
    const refreshes = await aws.autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'throttled-app' }),
    );
    expect(bake.phase).toBe('succeeded');
    expect(refreshes.InstanceRefreshes).toHaveLength(1);
    expect(
      Object.values(faulted.autoscaling ?? {}).reduce((n, kinds) => n + (kinds.throttle ?? 0), 0),
    ).toBeGreaterThan(0);
    expect(calls.autoscaling?.StartInstanceRefresh).toBeGreaterThanOrEqual(1);
    expect(await versionsIn(aws, 'throttled-app')).toEqual(['2', '2']);
  });
});
