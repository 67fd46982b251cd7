import { DescribeLaunchTemplatesCommand, DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { describe, expect, it } from 'vitest';
import { createSandbox, describeGroup } from '../../emulator/sandbox';
import { ensureRolloutVersion, restoreDefaultVersion } from '../../lib/rollout/launch-template';
import { awsForTest } from '../support/aws';

// The rollout's first step against the emulator: a new template version for the new image.
describe('a rollout version of the fleet launch template', () => {
  it('is created once, made default, and new instances of the group launch from it', async () => {
    const aws = awsForTest(import.meta.url);
    const sandbox = await createSandbox(aws, { name: 'rollout', desiredCapacity: 1 });
    const al2 = await aws.ssm.send(
      new GetParameterCommand({ Name: '/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2' }),
    );
    const imageId = al2.Parameter?.Value ?? '';
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
    const al2 = await aws.ssm.send(
      new GetParameterCommand({ Name: '/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2' }),
    );
    const bakeVersion = {
      templateId,
      sourceVersion: 1,
      imageId: al2.Parameter?.Value ?? '',
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
