import { CreateAutoScalingGroupCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { createSandbox, describeGroup } from '../../emulator/sandbox';
import { ConflictError, InvalidRequestError, NotFoundError } from '../../lib/errors';
import { approveBake, rejectBake, startBake, startRollout } from '../../lib/bake/service';
import { TAG_STATUS } from '../../lib/aws/tags';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { awsForTest, controlFor, type TestAws } from '../support/aws';
import { bakeryForTest, runToEnd } from '../support/bakery';
import { receiveNotifications } from '../support/notifications';

// The operator's side of a rollout: the approval gate, manual rollback, and template housekeeping.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];

function fleet(group: string, extra: Partial<NonNullable<PipelineInput['rollout']>> = {}): PipelineInput {
  return {
    ...minimal,
    name: 'fleet',
    publish: { parameter: '/ami-bakery/fleet/latest' },
    rollout: {
      targets: [{ autoScalingGroup: group }],
      refresh: { minHealthyPercentage: 50, instanceWarmupSeconds: 60 },
      ...extra,
    },
  };
}

async function setUp(key: string, pipelines: PipelineInput[]) {
  const aws = awsForTest(`${import.meta.url}#${key}`);
  const sandbox = await createSandbox(aws, { name: key, desiredCapacity: 2 });
  const bakery = await bakeryForTest(aws, sandbox, pipelines);
  await controlFor(aws).configure({ timeScale: 0.002 });
  return { aws, sandbox, bakery };
}

async function imagesOf(aws: TestAws, group: string): Promise<string[]> {
  const ids = (await describeGroup(aws, group)).Instances?.map((i) => i.InstanceId ?? '') ?? [];
  const { Reservations } = await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return (Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.ImageId ?? '');
}

async function versionNumbers(aws: TestAws, templateId: string): Promise<number[]> {
  const { LaunchTemplateVersions } = await aws.ec2.send(
    new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId }),
  );
  return (LaunchTemplateVersions ?? []).map((v) => v.VersionNumber ?? 0).sort((a, b) => a - b);
}

const waitingForApproval = {
  until: ({ bake }: { bake: { phase: string } }) => bake.phase === 'awaiting-approval',
};

describe('the approval gate', () => {
  it('holds the rollout until approved, announces it, and follows checkpoints', async () => {
    const { aws, sandbox, bakery } = await setUp('approve', [
      fleet('approve-app', {
        requireApproval: true,
        refresh: {
          minHealthyPercentage: 50,
          instanceWarmupSeconds: 60,
          checkpointPercentages: [50, 100],
          checkpointDelaySeconds: 1_500, // 3 s at this time scale: long enough to be seen
        },
      }),
    ]);
    const { id } = await startBake(bakery.as('api'), 'fleet');

    const waiting = await runToEnd(bakery, id, waitingForApproval);
    await expect(approveBake(bakery.as('api'), 'b-unknown')).rejects.toBeInstanceOf(NotFoundError);
    await approveBake(bakery.as('api'), id, { by: 'alice', comment: 'canary looks fine' });
    await expect(rejectBake(bakery.as('api'), id)).rejects.toBeInstanceOf(ConflictError);
    const bake = await runToEnd(bakery, id, { timeoutMs: 30_000 });

    expect(waiting.rollout).toEqual([{ group: 'approve-app', wave: 0, status: 'pending' }]);
    expect(bake.phase).toBe('succeeded');
    expect(bake.approval).toMatchObject({ decision: 'approved', by: 'alice', comment: 'canary looks fine' });
    expect(bake.rollout?.[0]).toMatchObject({ status: 'succeeded', checkpoint: 50 });
    expect(await imagesOf(aws, 'approve-app')).toEqual([bake.image?.imageId, bake.image?.imageId]);
    const types = (await receiveNotifications(aws, sandbox.queueUrl, { count: 30, timeoutMs: 1_500 })).map(
      (n) => n.attributes.type,
    );
    expect(types).toEqual(
      expect.arrayContaining(['rollout.awaiting-approval', 'rollout.checkpoint', 'rollout.succeeded']),
    );
    expect(types.indexOf('rollout.awaiting-approval')).toBeLessThan(types.indexOf('rollout.started'));
  });

  it('on rejection, ends the bake cancelled, marks the image and leaves the fleet alone', async () => {
    const { aws, sandbox, bakery } = await setUp('reject', [fleet('reject-app', { requireApproval: true })]);
    const { id } = await startBake(bakery.as('api'), 'fleet');
    await runToEnd(bakery, id, waitingForApproval);

    await rejectBake(bakery.as('api'), id, { by: 'bob', comment: 'not this week' });
    const bake = await runToEnd(bakery, id);

    expect(bake.phase).toBe('cancelled');
    expect(bake.approval).toMatchObject({ decision: 'rejected', by: 'bob' });
    expect(bake.rollout).toEqual([
      { group: 'reject-app', wave: 0, status: 'cancelled', reason: 'Rejected at the approval gate' },
    ]);
    const image = await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [bake.image?.imageId ?? ''] }));
    expect(image.Images?.[0]?.Tags).toContainEqual({ Key: TAG_STATUS, Value: 'failed' });
    expect(await versionNumbers(aws, sandbox.launchTemplateId)).toEqual([1]);
    await expect(startRollout(bakery.as('api'), 'fleet', bake.image?.imageId ?? '')).rejects.toThrow(
      /marked failed/,
    );
  });
});

describe('SkipMatching in a rollout', () => {
  it('leaves an instance already on the new version alone', async () => {
    const { aws, bakery } = await setUp('skip', [fleet('skip-app', { requireApproval: true })]);
    const { id } = await startBake(bakery.as('api'), 'fleet');
    await runToEnd(bakery, id, waitingForApproval);
    await approveBake(bakery.as('api'), id);
    // The new version exists and is the default; the refresh starts on the next pass.
    await runToEnd(bakery, id, { until: ({ bake }) => bake.phase === 'refreshing' });
    const before = (await describeGroup(aws, 'skip-app')).Instances?.map((i) => i.InstanceId) ?? [];
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: 'skip-app', DesiredCapacity: 3 }),
    );
    const scaled = (await describeGroup(aws, 'skip-app')).Instances?.find(
      (i) => !before.includes(i.InstanceId),
    );

    const bake = await runToEnd(bakery, id, { timeoutMs: 30_000 });

    const after = (await describeGroup(aws, 'skip-app')).Instances ?? [];
    expect(bake.phase).toBe('succeeded');
    expect(scaled?.LaunchTemplate?.Version).toBe('2');
    expect(after.map((i) => i.InstanceId)).toContain(scaled?.InstanceId);
    expect(after.filter((i) => before.includes(i.InstanceId))).toEqual([]);
    expect(after.map((i) => i.LaunchTemplate?.Version)).toEqual(['2', '2', '2']);
  });
});

describe('a manual rollout of an earlier image', () => {
  it('moves the fleet back to it with a new version, and refuses what it must not roll', async () => {
    const { aws, sandbox, bakery } = await setUp('manual', [
      fleet('manual-app'),
      { ...minimal, name: 'only-bakes', publish: { parameter: '/ami-bakery/only-bakes/latest' } },
    ]);
    const first = await runToEnd(bakery, (await startBake(bakery.as('api'), 'fleet')).id, {
      timeoutMs: 30_000,
    });
    const second = await runToEnd(bakery, (await startBake(bakery.as('api'), 'fleet')).id, {
      timeoutMs: 30_000,
    });
    const previous = first.image?.imageId ?? '';

    const started = await startRollout(bakery.as('api'), 'fleet', previous, { reason: 'bad deploy' });
    const rollout = await runToEnd(bakery, started.id, { timeoutMs: 30_000 });

    expect(second.phase).toBe('succeeded');
    expect(rollout).toMatchObject({ kind: 'rollout', phase: 'succeeded', image: { imageId: previous } });
    expect(rollout.rollout?.[0]).toMatchObject({ status: 'succeeded', sourceVersion: 3, version: 4 });
    expect(await imagesOf(aws, 'manual-app')).toEqual([previous, previous]);
    const types = (await receiveNotifications(aws, sandbox.queueUrl, { count: 60, timeoutMs: 1_500 }))
      .filter((n) => (n.message as { bakeId?: string }).bakeId === started.id)
      .map((n) => n.attributes.type);
    expect(types).toEqual(['rollout.started', 'rollout.succeeded']);

    const base = second.baseImageId;
    await expect(startRollout(bakery.as('api'), 'nope', previous)).rejects.toBeInstanceOf(NotFoundError);
    await expect(startRollout(bakery.as('api'), 'fleet', 'ami-12345678')).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(startRollout(bakery.as('api'), 'fleet', 'not-an-ami')).rejects.toMatchObject({
      field: 'amiId',
    });
    await expect(startRollout(bakery.as('api'), 'fleet', base)).rejects.toThrow(
      /not baked by pipeline fleet/,
    );
    await expect(startRollout(bakery.as('api'), 'only-bakes', previous)).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
  });
});

describe('template versions after a successful refresh', () => {
  it('are pruned to the newest, never the default, latest, a pinned one, or one someone else made', async () => {
    const { aws, sandbox, bakery } = await setUp('prune', [fleet('prune-app', { keepTemplateVersions: 1 })]);
    const bake = async () =>
      runToEnd(bakery, (await startBake(bakery.as('api'), 'fleet')).id, { timeoutMs: 30_000 });

    const first = await bake(); // version 2
    await aws.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: sandbox.launchTemplateId,
        SourceVersion: '1',
        VersionDescription: 'made by hand',
        LaunchTemplateData: { InstanceType: 't3.small' },
      }),
    ); // version 3
    await aws.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'prune-pinned',
        LaunchTemplate: { LaunchTemplateId: sandbox.launchTemplateId, Version: '2' },
        MinSize: 0,
        MaxSize: 1,
        DesiredCapacity: 0,
        VPCZoneIdentifier: sandbox.subnetIds.join(','),
      }),
    );
    const second = await bake(); // version 4: nothing to prune yet (2 is pinned)
    const afterSecond = await versionNumbers(aws, sandbox.launchTemplateId);
    const third = await bake(); // version 5: 4 goes

    expect([first.phase, second.phase, third.phase]).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(afterSecond).toEqual([1, 2, 3, 4]);
    expect(await versionNumbers(aws, sandbox.launchTemplateId)).toEqual([1, 2, 3, 5]);
    expect(third.rollout?.[0]).toMatchObject({ version: 5, prunedVersions: [4] });
  });
});
