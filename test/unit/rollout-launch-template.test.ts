import {
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  DeleteLaunchTemplateVersionsCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  ensureRolloutVersion,
  pruneRolloutVersions,
  restoreDefaultVersion,
  versionDescription,
  versionsToPrune,
} from '../../lib/rollout/launch-template';

const request = {
  templateId: 'lt-0abc',
  sourceVersion: 7,
  imageId: 'ami-new',
  bakeId: 'b20261122000000-aaaaaa',
  makeDefault: false,
};

describe('ensureRolloutVersion', () => {
  it('copies the version in use and changes only the image', async () => {
    const ec2 = mockClient(EC2Client);
    ec2
      .on(DescribeLaunchTemplateVersionsCommand)
      .resolves({ LaunchTemplateVersions: [{ VersionNumber: 7 }] });
    ec2.on(CreateLaunchTemplateVersionCommand).resolves({ LaunchTemplateVersion: { VersionNumber: 8 } });

    const result = await ensureRolloutVersion(new EC2Client({ region: 'eu-west-1' }), request);

    expect(result).toEqual({ templateId: 'lt-0abc', version: 8, created: true });
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0]?.args[0].input).toEqual({
      LaunchTemplateId: 'lt-0abc',
      SourceVersion: '7',
      VersionDescription: 'ami-bakery b20261122000000-aaaaaa: ami-new',
      LaunchTemplateData: { ImageId: 'ami-new' },
      ClientToken: 'b20261122000000-aaaaaa-lt-0abc',
    });
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
  });

  it('finds the version an earlier attempt made instead of making another', async () => {
    const ec2 = mockClient(EC2Client);
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [
        { VersionNumber: 8, VersionDescription: versionDescription(request.bakeId, 'ami-new') },
      ],
    });

    const result = await ensureRolloutVersion(new EC2Client({ region: 'eu-west-1' }), {
      ...request,
      makeDefault: true,
    });

    expect(result).toEqual({ templateId: 'lt-0abc', version: 8, created: false });
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)[0]?.args[0].input).toEqual({
      LaunchTemplateId: 'lt-0abc',
      DefaultVersion: '8',
    });
  });
});

describe('ensureRolloutVersion, edges', () => {
  it('searches only versions newer than the one it copies, and keeps the ClientToken within 64 characters', async () => {
    const ec2 = mockClient(EC2Client);
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
    ec2.on(CreateLaunchTemplateVersionCommand).resolves({ LaunchTemplateVersion: { VersionNumber: 8 } });
    const longId = `lt-${'0'.repeat(60)}`;

    await ensureRolloutVersion(new EC2Client({ region: 'eu-west-1' }), { ...request, templateId: longId });

    expect(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand)[0]?.args[0].input).toMatchObject({
      LaunchTemplateId: longId,
      MinVersion: '8',
    });
    const token = ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0]?.args[0].input.ClientToken ?? '';
    expect(token).toHaveLength(64);
    expect(token.startsWith('b20261122000000-aaaaaa-lt-')).toBe(true);
  });

  it('fails loudly when EC2 answers without a version number', async () => {
    const ec2 = mockClient(EC2Client);
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({});
    ec2.on(CreateLaunchTemplateVersionCommand).resolves({});

    await expect(ensureRolloutVersion(new EC2Client({ region: 'eu-west-1' }), request)).rejects.toThrow(
      'CreateLaunchTemplateVersion returned no version for lt-0abc',
    );
  });
});

describe('restoreDefaultVersion', () => {
  it('asks about this template only, and sets nothing when it has none', async () => {
    const ec2 = mockClient(EC2Client);
    ec2.on(DescribeLaunchTemplatesCommand).resolves({});

    const result = await restoreDefaultVersion(new EC2Client({ region: 'eu-west-1' }), {
      templateId: 'lt-0abc',
      version: 3,
      replacing: 4,
    });

    expect(result).toEqual({ restored: false });
    expect(ec2.commandCalls(DescribeLaunchTemplatesCommand)[0]?.args[0].input).toEqual({
      LaunchTemplateIds: ['lt-0abc'],
    });
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
  });
});

describe('versionsToPrune', () => {
  it.each([
    [
      'keeps the newest N',
      { versions: [1, 2, 3, 4, 5], defaultVersion: 5, inUse: new Set<number>(), keep: 2 },
      [1, 2, 3],
    ],
    [
      'never the default, even when old',
      { versions: [1, 2, 3, 4, 5], defaultVersion: 1, inUse: new Set<number>(), keep: 2 },
      [2, 3],
    ],
    [
      'never the latest, even with keep 0',
      { versions: [1, 2, 3], defaultVersion: 1, inUse: new Set<number>(), keep: 0 },
      [2],
    ],
    [
      'never one in use',
      { versions: [1, 2, 3, 4, 5, 6], defaultVersion: 6, inUse: new Set([2, 3]), keep: 1 },
      [1, 4, 5],
    ],
    [
      'only versions ami-bakery made, keep counted among them',
      {
        versions: [1, 2, 3, 4, 5, 6],
        defaultVersion: 6,
        inUse: new Set<number>(),
        keep: 1,
        ours: new Set([2, 4, 5, 6]),
      },
      [2, 4, 5],
    ],
    [
      'nothing when all are protected',
      { versions: [1, 2], defaultVersion: 1, inUse: new Set<number>(), keep: 5 },
      [],
    ],
  ])('%s', (_, input, expected) => {
    expect(versionsToPrune(input)).toEqual(expected);
  });
});

describe('pruneRolloutVersions: what AWS shows, and what may go', () => {
  // The fields pruning reads; AWS's answer has more.
  const groups = (...listed: Partial<AutoScalingGroup>[]) => ({
    AutoScalingGroups: listed as AutoScalingGroup[],
  });
  const ours = (v: number) => ({
    VersionNumber: v,
    VersionDescription: versionDescription(`b${v}`, 'ami-x'),
  });
  const clients = () => {
    const ec2 = mockClient(EC2Client);
    const autoScaling = mockClient(AutoScalingClient);
    return {
      ec2,
      autoScaling,
      real: {
        ec2: new EC2Client({ region: 'eu-west-1' }),
        autoScaling: new AutoScalingClient({ region: 'eu-west-1' }),
      },
    };
  };

  it('keeps the default, the latest, the newest kept, and every version a group, override or live instance names', async () => {
    const { ec2, autoScaling, real } = clients();
    ec2
      .on(DescribeLaunchTemplatesCommand)
      .resolves({ LaunchTemplates: [{ LaunchTemplateName: 'web', DefaultVersionNumber: 1 }] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [
        { VersionNumber: 1 }, // a person's, and the default
        { VersionNumber: 9, VersionDescription: 'made by hand' }, // a person's
        { VersionDescription: 'ami-bakery no number' },
        ...[2, 3, 4, 5, 6, 7, 8, 10].map(ours),
      ],
    });
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(
      groups(
        { AutoScalingGroupName: 'a', LaunchTemplate: { LaunchTemplateId: 'lt-0abc', Version: '3' } },
        {
          AutoScalingGroupName: 'b',
          MixedInstancesPolicy: {
            LaunchTemplate: {
              LaunchTemplateSpecification: { LaunchTemplateName: 'other', Version: '8' },
              Overrides: [{ LaunchTemplateSpecification: { LaunchTemplateName: 'web', Version: '2' } }],
            },
          },
        },
        { AutoScalingGroupName: 'c', LaunchTemplate: { LaunchTemplateId: 'lt-other', Version: '7' } },
        { AutoScalingGroupName: 'd', LaunchTemplate: { LaunchTemplateName: 'web', Version: '$Latest' } },
        {
          AutoScalingGroupName: 'e',
          MixedInstancesPolicy: {
            LaunchTemplate: {
              LaunchTemplateSpecification: { LaunchTemplateId: 'lt-0abc', Version: '$Default' },
            },
          },
        },
      ),
    );
    autoScaling
      .on(DescribeInstanceRefreshesCommand)
      .resolves({ InstanceRefreshes: [{ Status: 'Successful' }] });
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            { Tags: [{ Key: 'aws:ec2launchtemplate:version', Value: '6' }] },
            { Tags: [{ Key: 'aws:ec2launchtemplate:version', Value: 'x' }] },
            { Tags: [{ Key: 'Name', Value: '4' }] },
            {},
          ],
        },
      ],
    });
    ec2.on(DeleteLaunchTemplateVersionsCommand).resolves({
      SuccessfullyDeletedLaunchTemplateVersions: [
        { VersionNumber: 4 },
        { VersionNumber: 5 },
        {},
        { VersionNumber: 7 },
      ],
    });

    const deleted = await pruneRolloutVersions(real, 'lt-0abc', 1);

    expect(ec2.commandCalls(DeleteLaunchTemplateVersionsCommand)[0]?.args[0].input).toEqual({
      LaunchTemplateId: 'lt-0abc',
      // 8 and 7 are named only by groups of other templates.
      Versions: ['4', '5', '7', '8'],
    });
    // What AWS says it deleted (8 was not, this time).
    expect(deleted).toEqual([4, 5, 7]);
    // Only the groups of this template (by id or name, even on an alias) are asked about refreshes.
    expect(
      autoScaling
        .commandCalls(DescribeInstanceRefreshesCommand)
        .map((c) => c.args[0].input.AutoScalingGroupName),
    ).toEqual(['a', 'b', 'd', 'e']);
    // Live instances of the template: every state but terminated and shutting-down.
    expect(ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'tag:aws:ec2launchtemplate:id', Values: ['lt-0abc'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
  });

  it('deletes nothing while a group of the template is refreshing (a rollback needs its version)', async () => {
    const { ec2, autoScaling, real } = clients();
    ec2
      .on(DescribeLaunchTemplatesCommand)
      .resolves({ LaunchTemplates: [{ LaunchTemplateName: 'web', DefaultVersionNumber: 1 }] });
    ec2
      .on(DescribeLaunchTemplateVersionsCommand)
      .resolves({ LaunchTemplateVersions: [1, 2, 3, 4].map(ours) });
    autoScaling
      .on(DescribeAutoScalingGroupsCommand)
      .resolves(
        groups({ AutoScalingGroupName: 'a', LaunchTemplate: { LaunchTemplateId: 'lt-0abc', Version: '4' } }),
      );
    autoScaling
      .on(DescribeInstanceRefreshesCommand)
      .resolves({ InstanceRefreshes: [{ Status: 'Successful' }, { Status: 'InProgress' }] });

    expect(await pruneRolloutVersions(real, 'lt-0abc', 0)).toEqual([]);
    expect(ec2.commandCalls(DeleteLaunchTemplateVersionsCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
  });

  it.each<[string, object]>([
    ['a template AWS does not list', { LaunchTemplates: [] }],
    ['no answer at all', {}],
    ['a template without a default', { LaunchTemplates: [{ LaunchTemplateName: 'web' }] }],
  ])('does nothing for %s', async (_, answer) => {
    const { ec2, real } = clients();
    ec2.on(DescribeLaunchTemplatesCommand).resolves(answer);

    expect(await pruneRolloutVersions(real, 'lt-0abc', 0)).toEqual([]);
    expect(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand)).toHaveLength(0);
  });

  it('deletes at most 200 versions a call', async () => {
    const { ec2, autoScaling, real } = clients();
    const all = Array.from({ length: 450 }, (_, i) => i + 1);
    ec2
      .on(DescribeLaunchTemplatesCommand)
      .resolves({ LaunchTemplates: [{ LaunchTemplateName: 'web', DefaultVersionNumber: 1 }] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: all.map(ours) });
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groups());
    ec2.on(DescribeInstancesCommand).resolves({});
    ec2.on(DeleteLaunchTemplateVersionsCommand).callsFake((input: { Versions: string[] }) => ({
      SuccessfullyDeletedLaunchTemplateVersions: input.Versions.map((v) => ({ VersionNumber: Number(v) })),
    }));

    const deleted = await pruneRolloutVersions(real, 'lt-0abc', 0);

    const batches = ec2
      .commandCalls(DeleteLaunchTemplateVersionsCommand)
      .map((c) => c.args[0].input.Versions ?? []);
    expect(batches.map((b) => b.length)).toEqual([200, 200, 48]);
    expect(batches[0]?.[0]).toBe('2');
    expect(batches[2]?.at(-1)).toBe('449');
    expect(deleted).toEqual(all.slice(1, -1));
  });
});

describe('restoreDefaultVersion of a template AWS does not list', () => {
  it('restores nothing and says there is no default', async () => {
    const ec2 = mockClient(EC2Client);
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [] });

    expect(
      await restoreDefaultVersion(new EC2Client({ region: 'eu-west-1' }), {
        templateId: 'lt-0abc',
        version: 1,
        replacing: 2,
      }),
    ).toEqual({ defaultVersion: undefined, restored: false });
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
  });
});
