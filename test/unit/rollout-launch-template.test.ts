import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  ensureRolloutVersion,
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
