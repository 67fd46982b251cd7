import {
  CancelInstanceRefreshCommand,
  CompleteLifecycleActionCommand,
  CreateAutoScalingGroupCommand,
  DescribeInstanceRefreshesCommand,
  PutLifecycleHookCommand,
  RollbackInstanceRefreshCommand,
  SetInstanceProtectionCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
  type InstanceRefresh,
  type RefreshPreferences,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateVersionCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { awsForTest, controlFor, eventually, type TestAws } from '../support/aws';
import { allowHookRole } from '../../emulator/hooks';
import { testAlarm } from '../support/alarms';
import { startEventReceiver } from '../support/event-receiver';
import { receiveNotifications } from '../support/notifications';
import { createSandbox, describeGroup, type Sandbox } from '../../emulator/sandbox';

// Instance Refresh (part a): batches that respect MinHealthyPercentage / MaxHealthyPercentage,
// SkipMatching, explicit versions, progress over time, checkpoints, cancel, rollback, hooks.

const AL2_PARAMETER = '/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2';
const TERMINAL = ['Successful', 'Failed', 'Cancelled', 'RollbackSuccessful', 'RollbackFailed'];

interface Fleet {
  aws: TestAws;
  sandbox: Sandbox;
  /** The launch template version that carries the "new" AMI. */
  next: string;
  nextImageId: string;
}

async function fleet(key: string, capacity: number): Promise<Fleet> {
  const aws = awsForTest(`${import.meta.url}#${key}`);
  const sandbox = await createSandbox(aws, { name: key, desiredCapacity: capacity });
  // 300 s of warm-up run in 0.3 s.
  await controlFor(aws).configure({ timeScale: 0.001 });
  const parameter = await aws.ssm.send(new GetParameterCommand({ Name: AL2_PARAMETER }));
  const nextImageId = parameter.Parameter?.Value ?? '';
  const version = await aws.ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: sandbox.launchTemplateId,
      SourceVersion: '1',
      VersionDescription: 'baked',
      LaunchTemplateData: { ImageId: nextImageId, InstanceType: 't3.micro' },
    }),
  );
  // Pinned to an explicit version, as rollback requires (a group on $Default cannot roll back).
  await aws.autoScaling.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: sandbox.autoScalingGroupName,
      LaunchTemplate: { LaunchTemplateId: sandbox.launchTemplateId, Version: '1' },
    }),
  );
  return { aws, sandbox, next: String(version.LaunchTemplateVersion?.VersionNumber), nextImageId };
}

/** `version: null` starts a refresh with no desired configuration. */
function start(f: Fleet, preferences: RefreshPreferences, version: string | null = f.next) {
  return f.aws.autoScaling.send(
    new StartInstanceRefreshCommand({
      AutoScalingGroupName: f.sandbox.autoScalingGroupName,
      DesiredConfiguration: version
        ? { LaunchTemplate: { LaunchTemplateId: f.sandbox.launchTemplateId, Version: version } }
        : undefined,
      Preferences: preferences,
    }),
  );
}

async function refresh(f: Fleet, id: string | undefined): Promise<InstanceRefresh> {
  const described = await f.aws.autoScaling.send(
    new DescribeInstanceRefreshesCommand({
      AutoScalingGroupName: f.sandbox.autoScalingGroupName,
      InstanceRefreshIds: id ? [id] : undefined,
    }),
  );
  const found = described.InstanceRefreshes?.[0];
  if (!found) throw new Error('no refresh');
  return found;
}

/** Polls the refresh to a terminal status, recording what the group looked like meanwhile. */
async function follow(f: Fleet, id: string | undefined, onTick?: () => Promise<void>) {
  const seen = {
    statuses: new Set<string>(),
    percentages: new Set<number>(),
    minInService: Infinity,
    maxCounted: 0,
  };
  const final = await eventually(
    async () => {
      await onTick?.();
      const group = await describeGroup(f.aws, f.sandbox.autoScalingGroupName);
      const instances = group.Instances ?? [];
      seen.minInService = Math.min(
        seen.minInService,
        instances.filter((i) => i.LifecycleState === 'InService').length,
      );
      seen.maxCounted = Math.max(
        seen.maxCounted,
        instances.filter((i) => !i.LifecycleState?.startsWith('Terminat')).length,
      );
      const current = await refresh(f, id);
      seen.statuses.add(current.Status ?? '');
      seen.percentages.add(current.PercentageComplete ?? -1);
      return TERMINAL.includes(current.Status ?? '') ? current : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 20, what: 'refresh to finish' },
  );
  return { final, seen };
}

async function versions(f: Fleet): Promise<string[]> {
  const group = await describeGroup(f.aws, f.sandbox.autoScalingGroupName);
  return (group.Instances ?? []).map((instance) => instance.LaunchTemplate?.Version ?? '').sort();
}

describe('instance refresh', () => {
  it('replaces every instance in batches that keep MinHealthyPercentage in service', async () => {
    const f = await fleet('batches', 4);
    const receiver = await startEventReceiver();
    await controlFor(f.aws).configure({ eventsUrl: receiver.url });

    const { InstanceRefreshId } = await start(f, { MinHealthyPercentage: 50, InstanceWarmup: 300 });
    const { final, seen } = await follow(f, InstanceRefreshId);

    expect(final).toMatchObject({ Status: 'Successful', PercentageComplete: 100, InstancesToUpdate: 0 });
    expect(final.DesiredConfiguration?.LaunchTemplate?.Version).toBe(f.next);
    expect(seen.minInService).toBeGreaterThanOrEqual(2);
    expect([...seen.percentages]).toEqual(expect.arrayContaining([0, 50, 100]));
    expect(await versions(f)).toEqual([f.next, f.next, f.next, f.next]);
    const group = await describeGroup(f.aws, f.sandbox.autoScalingGroupName);
    expect(group.LaunchTemplate?.Version).toBe(f.next);
    const types = receiver.events.map((event) => event['detail-type']);
    expect(types).toEqual(
      expect.arrayContaining([
        'EC2 Auto Scaling Instance Refresh Started',
        'EC2 Auto Scaling Instance Refresh Succeeded',
      ]),
    );
    await receiver.close();
  });

  it('launches before terminating when MaxHealthyPercentage is above 100', async () => {
    const f = await fleet('surge', 2);

    const { InstanceRefreshId } = await start(f, {
      MinHealthyPercentage: 100,
      MaxHealthyPercentage: 150,
      InstanceWarmup: 300,
    });
    const { final, seen } = await follow(f, InstanceRefreshId);

    expect(final.Status).toBe('Successful');
    expect(seen.minInService).toBeGreaterThanOrEqual(2);
    expect(seen.maxCounted).toBe(3);
    expect(await versions(f)).toEqual([f.next, f.next]);
  });

  it('leaves matching instances alone with SkipMatching', async () => {
    const f = await fleet('skip', 2);
    const first = await start(f, { MinHealthyPercentage: 50, InstanceWarmup: 0 });
    await follow(f, first.InstanceRefreshId);
    const before = (await describeGroup(f.aws, f.sandbox.autoScalingGroupName)).Instances?.map(
      (i) => i.InstanceId,
    );

    const again = await start(f, { MinHealthyPercentage: 50, SkipMatching: true });
    const { final } = await follow(f, again.InstanceRefreshId);

    expect(final).toMatchObject({ Status: 'Successful', PercentageComplete: 100 });
    const after = (await describeGroup(f.aws, f.sandbox.autoScalingGroupName)).Instances?.map(
      (i) => i.InstanceId,
    );
    expect(after?.sort()).toEqual(before?.sort());
  });

  it('refuses a second refresh while one is active, and cancels on request', async () => {
    const f = await fleet('cancel', 2);
    const { InstanceRefreshId } = await start(f, { MinHealthyPercentage: 50, InstanceWarmup: 3600 });

    await expect(start(f, {})).rejects.toMatchObject({ name: 'InstanceRefreshInProgressFault' });
    const cancelled = await f.aws.autoScaling.send(
      new CancelInstanceRefreshCommand({ AutoScalingGroupName: f.sandbox.autoScalingGroupName }),
    );
    const { final } = await follow(f, InstanceRefreshId);

    expect(cancelled.InstanceRefreshId).toBe(InstanceRefreshId);
    expect(final.Status).toBe('Cancelled');
    await expect(
      f.aws.autoScaling.send(
        new CancelInstanceRefreshCommand({ AutoScalingGroupName: f.sandbox.autoScalingGroupName }),
      ),
    ).rejects.toMatchObject({ name: 'ActiveInstanceRefreshNotFoundFault' });
  });

  it('rolls back to the previous configuration on request', async () => {
    const f = await fleet('rollback', 2);
    const { InstanceRefreshId } = await start(f, { MinHealthyPercentage: 50, InstanceWarmup: 600 });
    await eventually(async () => ((await versions(f)).includes(f.next) ? true : undefined));

    await f.aws.autoScaling.send(
      new RollbackInstanceRefreshCommand({ AutoScalingGroupName: f.sandbox.autoScalingGroupName }),
    );
    const { final } = await follow(f, InstanceRefreshId);

    expect(final.Status).toBe('RollbackSuccessful');
    expect(final.RollbackDetails?.RollbackReason).toBe('Rollback requested by the user.');
    expect(await versions(f)).toEqual(['1', '1']);
    expect((await describeGroup(f.aws, f.sandbox.autoScalingGroupName)).LaunchTemplate?.Version).toBe('1');
  });

  // InstanceRefresh.PercentageComplete: "does not include instances that are replaced during a
  // rollback. This value gradually goes back down to zero during a rollback."
  it('counts PercentageComplete back down to zero while rolling back', async () => {
    const f = await fleet('rollback-progress', 2);
    const { InstanceRefreshId } = await start(f, {
      MinHealthyPercentage: 50,
      InstanceWarmup: 0,
      CheckpointPercentages: [50, 100],
      CheckpointDelay: 3600, // 3.6 s at this time scale: the refresh waits at 50%
    });
    await eventually(async () =>
      (await refresh(f, InstanceRefreshId)).PercentageComplete === 50 ? true : undefined,
    );

    await f.aws.autoScaling.send(
      new RollbackInstanceRefreshCommand({ AutoScalingGroupName: f.sandbox.autoScalingGroupName }),
    );
    const during: number[] = [];
    const final = await eventually(
      async () => {
        const current = await refresh(f, InstanceRefreshId);
        if (current.Status === 'RollbackInProgress') during.push(current.PercentageComplete ?? -1);
        return TERMINAL.includes(current.Status ?? '') ? current : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 20 },
    );

    expect(final).toMatchObject({ Status: 'RollbackSuccessful', PercentageComplete: 0 });
    expect(final.RollbackDetails?.PercentageCompleteOnRollback).toBe(50);
    expect(during.length).toBeGreaterThan(0);
    expect(during).toEqual([...during].sort((a, b) => b - a));
    expect(Math.max(...during)).toBeLessThanOrEqual(50);
  });

  // InstanceRefresh.Status "Baking - Waiting the specified bake time after an instance refresh has
  // finished updating instances"; RefreshPreferences.BakeTime.
  it('bakes for BakeTime after the last replacement, then succeeds', async () => {
    const f = await fleet('bake-time', 1);

    const started = Date.now();
    const { InstanceRefreshId } = await start(f, { InstanceWarmup: 0, BakeTime: 1000 }); // 1 s here
    const { final, seen } = await follow(f, InstanceRefreshId);

    expect(final.Status).toBe('Successful');
    expect(seen.statuses).toContain('Baking');
    expect(Date.now() - started).toBeGreaterThan(1000);
  });

  // RefreshPreferences.InstanceWarmup: the group's DefaultInstanceWarmup, else its health check
  // grace period, whose API default is 0.
  it('warms up for the group default: DefaultInstanceWarmup, else the grace period (0 by default)', async () => {
    const f = await fleet('warmup-default', 1);
    const group = f.sandbox.autoScalingGroupName;

    await f.aws.autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, DefaultInstanceWarmup: 120 }),
    );
    const first = await start(f, {});
    expect((await refresh(f, first.InstanceRefreshId)).Preferences?.InstanceWarmup).toBe(120);
    await follow(f, first.InstanceRefreshId);

    await f.aws.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: `${group}-bare`,
        LaunchTemplate: { LaunchTemplateId: f.sandbox.launchTemplateId, Version: '1' },
        MinSize: 0,
        MaxSize: 1,
        VPCZoneIdentifier: f.sandbox.subnetIds.join(','),
      }),
    );
    const bare = await f.aws.autoScaling.send(
      new StartInstanceRefreshCommand({ AutoScalingGroupName: `${group}-bare` }),
    );
    const described = await f.aws.autoScaling.send(
      new DescribeInstanceRefreshesCommand({
        AutoScalingGroupName: `${group}-bare`,
        InstanceRefreshIds: [bare.InstanceRefreshId ?? ''],
      }),
    );
    expect(described.InstanceRefreshes?.[0]?.Preferences?.InstanceWarmup).toBe(0);
  });

  // RefreshPreferences.ScaleInProtectedInstances / StandbyInstances default to Wait: the refresh
  // replaces the rest, waits for those (up to an hour), then fails.
  it('waits for an instance protected from scale in (Wait, the default), then fails; Refresh replaces it, Ignore leaves it', async () => {
    const outcome = async (key: string, preferences: RefreshPreferences) => {
      const f = await fleet(key, 2);
      const group = await describeGroup(f.aws, f.sandbox.autoScalingGroupName);
      const protectedId = group.Instances?.[0]?.InstanceId ?? '';
      await f.aws.autoScaling.send(
        new SetInstanceProtectionCommand({
          AutoScalingGroupName: f.sandbox.autoScalingGroupName,
          InstanceIds: [protectedId],
          ProtectedFromScaleIn: true,
        }),
      );
      const { InstanceRefreshId } = await start(f, {
        MinHealthyPercentage: 50,
        InstanceWarmup: 0,
        ...preferences,
      });
      const reasons = new Set<string>();
      const final = await eventually(
        async () => {
          const current = await refresh(f, InstanceRefreshId);
          if (current.StatusReason) reasons.add(current.StatusReason);
          return TERMINAL.includes(current.Status ?? '') ? current : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 50 },
      );
      const versions = Object.fromEntries(
        ((await describeGroup(f.aws, f.sandbox.autoScalingGroupName)).Instances ?? []).map((i) => [
          i.InstanceId === protectedId ? 'protected' : (i.InstanceId ?? ''),
          i.LaunchTemplate?.Version,
        ]),
      );
      return { final, reasons: [...reasons], protectedVersion: versions.protected, next: f.next };
    };

    const waited = await outcome('protected-wait', {});
    expect(waited.final.Preferences).toMatchObject({
      ScaleInProtectedInstances: 'Wait',
      StandbyInstances: 'Wait',
    });
    expect(waited.reasons).toContain('Waiting for 1 instance(s) protected from scale in.');
    expect(waited.final.Status).toBe('Failed');
    expect(waited.final.StatusReason).toMatch(
      /Timed out after 3600 s waiting for 1 instance\(s\) protected from scale in/,
    );
    expect(waited.protectedVersion).toBe('1');

    const refreshed = await outcome('protected-refresh', { ScaleInProtectedInstances: 'Refresh' });
    expect(refreshed.final.Status).toBe('Successful');
    expect(refreshed.protectedVersion).toBeUndefined(); // replaced: the protected instance is gone

    const ignored = await outcome('protected-ignore', { ScaleInProtectedInstances: 'Ignore' });
    expect(ignored.final.Status).toBe('Successful');
    expect(ignored.protectedVersion).toBe('1');
  });

  it('cannot roll back a refresh without a desired configuration', async () => {
    const f = await fleet('irreversible', 1);
    await start(f, { InstanceWarmup: 3600 }, null);

    await expect(
      f.aws.autoScaling.send(
        new RollbackInstanceRefreshCommand({ AutoScalingGroupName: f.sandbox.autoScalingGroupName }),
      ),
    ).rejects.toMatchObject({ name: 'IrreversibleInstanceRefreshFault' });
  });

  // RefreshPreferences: "To replace all instances in the Auto Scaling group, the last number in the
  // array must be 100"; a last checkpoint below it ends the refresh there.
  it('ends Successful at a last checkpoint below 100, with the rest of the group untouched', async () => {
    const f = await fleet('partial', 2);

    const { InstanceRefreshId } = await start(f, {
      MinHealthyPercentage: 50,
      InstanceWarmup: 0,
      CheckpointPercentages: [50],
      CheckpointDelay: 0,
    });
    const { final } = await follow(f, InstanceRefreshId);

    expect(final).toMatchObject({ Status: 'Successful', PercentageComplete: 50 });
    expect(final.StatusReason).toMatch(/last checkpoint, 50%/);
    const group = await describeGroup(f.aws, f.sandbox.autoScalingGroupName);
    const versions = (group.Instances ?? []).map((i) => i.LaunchTemplate?.Version).sort();
    expect(versions).toEqual(['1', f.next]);
  });

  // RefreshPreferences.CheckpointDelay: "if you specify a value for it, you must also specify a
  // value for CheckpointPercentages".
  it('refuses a CheckpointDelay without CheckpointPercentages', async () => {
    const f = await fleet('delay-alone', 1);

    await expect(start(f, { CheckpointDelay: 60 })).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringMatching(/CheckpointDelay requires CheckpointPercentages/) as unknown,
    });
  });

  it('pauses at a checkpoint for its delay', async () => {
    const f = await fleet('checkpoint', 2);
    const receiver = await startEventReceiver();
    await controlFor(f.aws).configure({ eventsUrl: receiver.url });

    const startedAt = Date.now();
    const { InstanceRefreshId } = await start(f, {
      MinHealthyPercentage: 50,
      InstanceWarmup: 0,
      CheckpointPercentages: [50, 100],
      CheckpointDelay: 1000, // 1 s at this time scale
    });
    const { final } = await follow(f, InstanceRefreshId);

    expect(final.Status).toBe('Successful');
    expect(Date.now() - startedAt).toBeGreaterThan(1000);
    const checkpoint = receiver.events.find(
      (e) => e['detail-type'] === 'EC2 Auto Scaling Instance Refresh Checkpoint Reached',
    );
    expect(checkpoint?.detail).toMatchObject({ CheckpointPercentage: '50', CheckpointDelay: '1000' });
    await receiver.close();
  });

  it('replaces through launch hooks, and rolls back automatically when a replacement is abandoned', async () => {
    const f = await fleet('hooks', 2);
    const hookRole = `arn:aws:iam::${f.aws.accountId}:role/hook-publisher`;
    await allowHookRole(controlFor(f.aws), hookRole, f.sandbox.topicArn);
    await f.aws.autoScaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: f.sandbox.autoScalingGroupName,
        LifecycleHookName: 'ready',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        NotificationTargetARN: f.sandbox.topicArn,
        RoleARN: hookRole,
        HeartbeatTimeout: 3600,
      }),
    );
    await receiveNotifications(f.aws, f.sandbox.queueUrl, { count: 1 }); // test notification
    const decisions: string[] = [];

    const { InstanceRefreshId } = await start(f, {
      MinHealthyPercentage: 50,
      InstanceWarmup: 0,
      AutoRollback: true,
    });
    // Answer each launch hook: the first replacement is abandoned, every later launch continues.
    const { final } = await follow(f, InstanceRefreshId, async () => {
      const arrived = await receiveNotifications(f.aws, f.sandbox.queueUrl, { count: 10, timeoutMs: 1 });
      for (const notification of arrived) {
        const message = notification.message as { LifecycleActionToken: string };
        const result = decisions.length === 0 ? 'ABANDON' : 'CONTINUE';
        decisions.push(result);
        await f.aws.autoScaling
          .send(
            new CompleteLifecycleActionCommand({
              AutoScalingGroupName: f.sandbox.autoScalingGroupName,
              LifecycleHookName: 'ready',
              LifecycleActionToken: message.LifecycleActionToken,
              LifecycleActionResult: result,
            }),
          )
          .catch((error: unknown) => {
            // The rollback may terminate a replacement before its hook is answered.
            if (!(error instanceof Error && error.message.startsWith('No active Lifecycle Action')))
              throw error;
          });
      }
    });

    expect(decisions[0]).toBe('ABANDON');
    expect(final.Status).toBe('RollbackSuccessful');
    expect(final.RollbackDetails?.RollbackReason).toMatch(/abandoned/);
    expect(await versions(f)).toEqual(['1', '1']);
  });

  it('fails, and rolls back, when an alarm of its AlarmSpecification goes to ALARM', async () => {
    const f = await fleet('alarm', 2);
    const alarm = await testAlarm(f.aws.accountId, 'alarm-5xx');
    const { InstanceRefreshId } = await start(f, {
      MinHealthyPercentage: 50,
      InstanceWarmup: 600,
      AutoRollback: true,
      AlarmSpecification: { Alarms: ['alarm-5xx'] },
    });
    await eventually(async () => ((await versions(f)).includes(f.next) ? true : undefined));

    await alarm.goOff();
    const { final } = await follow(f, InstanceRefreshId);

    expect(final.Status).toBe('RollbackSuccessful');
    expect(final.RollbackDetails?.RollbackReason).toBe('The alarm alarm-5xx is in ALARM state.');
    expect(await versions(f)).toEqual(['1', '1']);
  });

  it('cannot roll back a group that uses $Default, manually or automatically', async () => {
    const f = await fleet('alias', 2);
    await f.aws.autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: f.sandbox.autoScalingGroupName,
        LaunchTemplate: { LaunchTemplateId: f.sandbox.launchTemplateId, Version: '$Default' },
      }),
    );

    await expect(start(f, { AutoRollback: true })).rejects.toMatchObject({ name: 'ValidationError' });
    await start(f, { InstanceWarmup: 3600 });
    await expect(
      f.aws.autoScaling.send(
        new RollbackInstanceRefreshCommand({ AutoScalingGroupName: f.sandbox.autoScalingGroupName }),
      ),
    ).rejects.toMatchObject({ name: 'IrreversibleInstanceRefreshFault' });
  });

  it('answers AWS validation errors for bad requests', async () => {
    const f = await fleet('invalid', 1);

    await expect(start(f, { AutoRollback: true }, '$Latest')).rejects.toMatchObject({
      name: 'ValidationError',
    });
    await expect(start(f, { MinHealthyPercentage: 150 })).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(
      f.aws.autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'no-such-group' })),
    ).rejects.toMatchObject({ name: 'ValidationError' });
  });
});
