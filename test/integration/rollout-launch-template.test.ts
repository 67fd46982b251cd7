import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import {
  CancelInstanceRefreshCommand,
  CreateAutoScalingGroupCommand,
  DescribeInstanceRefreshesCommand,
  SetDesiredCapacityCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { describe, expect, it } from 'vitest';
import { createSandbox, describeGroup } from '../../emulator/sandbox';
import {
  ensureRolloutVersion,
  pruneRolloutVersions,
  restoreDefaultVersion,
} from '../../lib/rollout/launch-template';
import { awsForTest, eventually, type TestAws } from '../support/aws';

/** The current Amazon Linux 2 image id, from its public SSM parameter. */
async function amazonLinux2(aws: TestAws): Promise<string> {
  const parameter = await aws.ssm.send(
    new GetParameterCommand({ Name: '/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2' }),
  );
  return parameter.Parameter?.Value ?? '';
}

// The rollout's first step against the emulator: a new template version for the new image.
describe('a rollout version of the fleet launch template', () => {
  it('is created once, made default, and new instances of the group launch from it', async () => {
    const aws = awsForTest(import.meta.url);
    const sandbox = await createSandbox(aws, { name: 'rollout', desiredCapacity: 1 });
    const imageId = await amazonLinux2(aws);
    const request = {
      templateId: sandbox.launchTemplateId,
      sourceVersion: 1,
      imageId,
      bakeId: 'b20261122000000-bbbbbb',
      makeDefault: true,
    };

    const first = await ensureRolloutVersion(aws.ec2, request);
    const retried = await ensureRolloutVersion(aws.ec2, request);
    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        DesiredCapacity: 2,
      }),
    );

    expect(first).toEqual({ templateId: sandbox.launchTemplateId, version: 2, created: true });
    expect(retried).toEqual({ ...first, created: false });
    const versions = await aws.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: sandbox.launchTemplateId }),
    );
    expect(versions.LaunchTemplateVersions?.map((v) => v.VersionNumber).sort()).toEqual([1, 2]);
    const newest = versions.LaunchTemplateVersions?.find((v) => v.VersionNumber === 2);
    expect(newest?.DefaultVersion).toBe(true);
    expect(newest?.LaunchTemplateData?.ImageId).toBe(imageId);
    const group = await describeGroup(aws, sandbox.autoScalingGroupName);
    expect(group.Instances?.map((i) => i.LaunchTemplate?.Version).sort()).toEqual(['1', '2']);
  });
});

describe('putting back the default an unsuccessful rollout set', () => {
  it('restores it while it is still the bake version, once, and leaves a later default alone', async () => {
    const aws = awsForTest(`${import.meta.url}#restore`);
    const sandbox = await createSandbox(aws, { name: 'restore', desiredCapacity: 0 });
    const templateId = sandbox.launchTemplateId;
    const imageId = await amazonLinux2(aws);
    const bakeVersion = {
      templateId,
      sourceVersion: 1,
      imageId,
      makeDefault: true,
    };
    const ours = await ensureRolloutVersion(aws.ec2, { ...bakeVersion, bakeId: 'b20261122000000-cccccc' });
    const defaultNow = async () =>
      (await aws.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [templateId] })))
        .LaunchTemplates?.[0]?.DefaultVersionNumber;
    const request = { templateId, version: 1, replacing: ours.version };

    const first = await restoreDefaultVersion(aws.ec2, request);
    const retried = await restoreDefaultVersion(aws.ec2, request);
    // A second bake makes its version (3) default; a late retry of the first leaves it.
    await ensureRolloutVersion(aws.ec2, { ...bakeVersion, bakeId: 'b20261122000000-dddddd' });
    const late = await restoreDefaultVersion(aws.ec2, request);

    expect(first).toEqual({ defaultVersion: 1, restored: true });
    expect(retried).toEqual({ defaultVersion: 1, restored: false });
    expect(late).toEqual({ defaultVersion: 3, restored: false });
    expect(await defaultNow()).toBe(3);
  });
});

describe('pruning template versions while a group of the template refreshes', () => {
  it('deletes nothing until the refresh is over (a rollback needs its version), then prunes', async () => {
    const aws = awsForTest(`${import.meta.url}#prune`);
    const sandbox = await createSandbox(aws, { name: 'prune', desiredCapacity: 0 });
    const templateId = sandbox.launchTemplateId;
    const imageId = await amazonLinux2(aws);
    // Versions 2, 3 and 4, each made by a bake; 4 is the default and the latest.
    for (const bakeId of ['b20261122000000-aaaaa1', 'b20261122000000-aaaaa2', 'b20261122000000-aaaaa3']) {
      await ensureRolloutVersion(aws.ec2, {
        templateId,
        sourceVersion: 1,
        imageId,
        bakeId,
        makeDefault: true,
      });
    }
    // Another group of the same template, refreshing to version 4 (its warm-up keeps it InProgress).
    await aws.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'prune-other',
        LaunchTemplate: { LaunchTemplateId: templateId, Version: '1' },
        MinSize: 1,
        MaxSize: 2,
        DesiredCapacity: 1,
        VPCZoneIdentifier: sandbox.subnetIds.join(','),
      }),
    );
    await aws.autoScaling.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: 'prune-other',
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: templateId, Version: '4' } },
        Preferences: { MinHealthyPercentage: 0, InstanceWarmup: 3_600 },
      }),
    );
    const clients = { ec2: aws.ec2, autoScaling: aws.autoScaling };
    const versions = async () =>
      (
        await aws.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId }))
      ).LaunchTemplateVersions?.map((v) => v.VersionNumber).sort();

    const during = await pruneRolloutVersions(clients, templateId, 0);
    const kept = await versions();
    await aws.autoScaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: 'prune-other' }));
    await eventually(async () => {
      const refreshes = await aws.autoScaling.send(
        new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'prune-other' }),
      );
      return refreshes.InstanceRefreshes?.[0]?.Status === 'Cancelled' ? true : undefined;
    });
    const after = await pruneRolloutVersions(clients, templateId, 0);

    expect(during).toEqual([]);
    expect(kept).toEqual([1, 2, 3, 4]);
    // 1 is not the bake's; 4 is the default and the latest.
    expect(after).toEqual([2, 3]);
  });
});

describe('which template versions pruning deletes', () => {
  it('only its own, beyond the newest kept: never the default, the latest, one a group or override names, or one an instance runs', async () => {
    const aws = awsForTest(`${import.meta.url}#which`);
    const sandbox = await createSandbox(aws, { name: 'which', desiredCapacity: 0 });
    const templateId = sandbox.launchTemplateId;
    const imageId = await amazonLinux2(aws);
    // 1 is the owners'; 2 to 9 are eight bakes'; 10 is the owners' again, and the latest.
    for (let bake = 2; bake <= 9; bake += 1) {
      await ensureRolloutVersion(aws.ec2, {
        templateId,
        sourceVersion: 1,
        imageId,
        bakeId: `b20261122000000-00000${bake}`,
        makeDefault: false,
      });
    }
    await aws.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: templateId,
        SourceVersion: '1',
        VersionDescription: 'hand-made',
        LaunchTemplateData: { ImageId: imageId },
      }),
    );
    await aws.ec2.send(
      new ModifyLaunchTemplateCommand({ LaunchTemplateId: templateId, DefaultVersion: '3' }),
    );
    const group = (name: string, spec: Record<string, unknown>, capacity = 0) =>
      aws.autoScaling.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: name,
          ...spec,
          MinSize: 0,
          MaxSize: 2,
          DesiredCapacity: capacity,
          VPCZoneIdentifier: sandbox.subnetIds.join(','),
        }),
      );
    const name = (await aws.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [templateId] })))
      .LaunchTemplates?.[0]?.LaunchTemplateName;
    // 4: named by template name; 5 and 6: a mixed instances policy's; 9: a group's, whose instance runs 2.
    await group('which-by-name', { LaunchTemplate: { LaunchTemplateName: name, Version: '4' } });
    await group('which-mixed', {
      MixedInstancesPolicy: {
        LaunchTemplate: {
          LaunchTemplateSpecification: { LaunchTemplateId: templateId, Version: '5' },
          // An override's own template version counts as named too.
          Overrides: [
            {
              InstanceType: 't3.small',
              LaunchTemplateSpecification: { LaunchTemplateId: templateId, Version: '6' },
            },
          ],
        },
      },
    });
    await group('which-moved', { LaunchTemplate: { LaunchTemplateId: templateId, Version: '2' } }, 1);
    await aws.autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: 'which-moved',
        LaunchTemplate: { LaunchTemplateId: templateId, Version: '9' },
      }),
    );
    // Another template's group names its version 6, runs an instance of it, and is refreshing:
    // none of that is about this template.
    const other = await aws.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'which-other',
        LaunchTemplateData: { ImageId: imageId, InstanceType: 't3.micro' },
      }),
    );
    const otherId = other.LaunchTemplate?.LaunchTemplateId ?? '';
    for (let version = 2; version <= 7; version += 1) {
      await aws.ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: otherId,
          SourceVersion: '1',
          LaunchTemplateData: { ImageId: imageId },
        }),
      );
    }
    await group('which-other', { LaunchTemplate: { LaunchTemplateId: otherId, Version: '6' } }, 1);
    await aws.autoScaling.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: 'which-other',
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: otherId, Version: '7' } },
        Preferences: { MinHealthyPercentage: 0, InstanceWarmup: 3_600 },
      }),
    );
    const clients = { ec2: aws.ec2, autoScaling: aws.autoScaling };

    const pruned = await pruneRolloutVersions(clients, templateId, 1);
    const left = (
      await aws.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId }))
    ).LaunchTemplateVersions?.map((v) => v.VersionNumber).sort((a = 0, b = 0) => a - b);

    // Kept: 9 (the newest of its own, and named), 3 (default), 4, 5, 6 (named), 2 (an instance
    // runs it), 1 and 10 (the owners'). Deleted: 7, 8.
    expect(pruned).toEqual([7, 8]);
    expect(left).toEqual([1, 2, 3, 4, 5, 6, 9, 10]);
    expect(await pruneRolloutVersions(clients, templateId, 1)).toEqual([]);
  });
});
