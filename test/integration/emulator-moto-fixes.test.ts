import { DescribeAutoScalingInstancesCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import {
  CopyImageCommand,
  CreateImageCommand,
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DeleteLaunchTemplateVersionsCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  ModifyLaunchTemplateCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsForTest, controlFor } from '../support/aws';
import { createSandbox, describeGroup, type Sandbox } from '../../emulator/sandbox';

// moto 5.2.1 defects that block real flows, fixed by the extension (part h).
const aws = awsForTest(import.meta.url);
const control = controlFor(aws);
let sandbox: Sandbox;

async function runBuilder(token?: string): Promise<string[]> {
  const run = await aws.ec2.send(
    new RunInstancesCommand({
      ImageId: sandbox.baseImageId,
      InstanceType: 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      ClientToken: token,
      IamInstanceProfile: { Arn: sandbox.instanceProfileArn },
    }),
  );
  return run.Instances?.map((instance) => instance.InstanceId ?? '') ?? [];
}

beforeAll(async () => {
  sandbox = await createSandbox(aws, { name: 'fixes', desiredCapacity: 1 });
});

describe('moto defects fixed by the extension', () => {
  it('launches group instances from a launch template version with UserData', async () => {
    const version = await aws.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: sandbox.launchTemplateId,
        SourceVersion: '1',
        LaunchTemplateData: {
          ImageId: sandbox.baseImageId,
          InstanceType: 't3.micro',
          UserData: Buffer.from('#!/bin/bash\necho v2').toString('base64'),
          IamInstanceProfile: { Arn: sandbox.instanceProfileArn },
          MetadataOptions: { HttpTokens: 'required' },
        },
      }),
    );
    const number = version.LaunchTemplateVersion?.VersionNumber;
    await aws.ec2.send(
      new ModifyLaunchTemplateCommand({
        LaunchTemplateId: sandbox.launchTemplateId,
        DefaultVersion: String(number),
      }),
    );

    await aws.autoScaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        DesiredCapacity: 2,
      }),
    );

    const group = await describeGroup(aws, sandbox.autoScalingGroupName);
    expect(group.Instances).toHaveLength(2);
    // ...and each instance reports the version it was launched from, not the template's default.
    const versions = group.Instances?.map((instance) => instance.LaunchTemplate?.Version).sort();
    expect(versions).toEqual(['1', String(number)]);
    const newest = group.Instances?.find((instance) => instance.LaunchTemplate?.Version === String(number));
    const described = await aws.autoScaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [newest?.InstanceId ?? ''] }),
    );
    expect(described.AutoScalingInstances?.[0]?.LaunchTemplate?.Version).toBe(String(number));

    // The template's instance profile and metadata options reach the instance.
    const instances = await aws.ec2.send(
      new DescribeInstancesCommand({ InstanceIds: [newest?.InstanceId ?? ''] }),
    );
    const instance = instances.Reservations?.[0]?.Instances?.[0];
    expect(instance?.IamInstanceProfile?.Arn).toBe(sandbox.instanceProfileArn);
    expect(instance?.MetadataOptions?.HttpTokens).toBe('required');
  });

  it('inherits the source version in a new launch template version, except what the call gives', async () => {
    const source = (
      await aws.ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateId: sandbox.launchTemplateId,
          Versions: ['1'],
        }),
      )
    ).LaunchTemplateVersions?.[0]?.LaunchTemplateData;
    const created = await aws.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: sandbox.launchTemplateId,
        SourceVersion: '1',
        LaunchTemplateData: { ImageId: 'ami-12345678' },
      }),
    );
    const number = String(created.LaunchTemplateVersion?.VersionNumber);
    const data = (
      await aws.ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateId: sandbox.launchTemplateId,
          Versions: [number],
        }),
      )
    ).LaunchTemplateVersions?.[0]?.LaunchTemplateData;

    expect(source?.IamInstanceProfile).toBeDefined();
    expect(data).toEqual({ ...source, ImageId: 'ami-12345678' });
  });

  it('spreads group instances over the group subnets', async () => {
    const group = await describeGroup(aws, sandbox.autoScalingGroupName);
    const zones = new Set(group.Instances?.map((instance) => instance.AvailabilityZone));

    expect(zones.size).toBe(2);
  });

  it('tags the snapshots of CreateImage from a snapshot TagSpecification', async () => {
    const [builder] = await runBuilder();

    const { ImageId } = await aws.ec2.send(
      new CreateImageCommand({
        InstanceId: builder,
        Name: 'fixes-snapshot-tags',
        NoReboot: true,
        TagSpecifications: [
          { ResourceType: 'image', Tags: [{ Key: 'ami-bakery:bake-id', Value: 'b-1' }] },
          { ResourceType: 'snapshot', Tags: [{ Key: 'ami-bakery:bake-id', Value: 'b-1' }] },
        ],
      }),
    );

    const image = (await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId ?? ''] }))).Images?.[0];
    const snapshotId = image?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '';
    const snapshot = await aws.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    expect(image?.Tags).toEqual([{ Key: 'ami-bakery:bake-id', Value: 'b-1' }]);
    expect(snapshot.Snapshots?.[0]?.Tags).toEqual([{ Key: 'ami-bakery:bake-id', Value: 'b-1' }]);
  });

  it('reboots a running instance for CreateImage unless NoReboot', async () => {
    const [rebooted] = await runBuilder();
    const [kept] = await runBuilder();

    await aws.ec2.send(new CreateImageCommand({ InstanceId: rebooted, Name: 'fixes-reboot' }));
    await aws.ec2.send(new CreateImageCommand({ InstanceId: kept, Name: 'fixes-no-reboot', NoReboot: true }));

    const reboots = await control.reboots();
    expect(reboots[rebooted ?? '']).toBe(1);
    expect(reboots[kept ?? '']).toBeUndefined();
  });

  it('returns the same instance for a retried RunInstances with the same ClientToken', async () => {
    const first = await runBuilder('bake-42-launch');
    const retried = await runBuilder('bake-42-launch');
    const other = await runBuilder('bake-43-launch');

    expect(retried).toEqual(first);
    expect(other).not.toEqual(first);
  });

  // https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
  it('refuses a reused RunInstances ClientToken with other parameters (IdempotentParameterMismatch)', async () => {
    await runBuilder('bake-44-launch');

    await expect(
      aws.ec2.send(
        new RunInstancesCommand({
          ImageId: sandbox.baseImageId,
          InstanceType: 't3.large',
          MinCount: 1,
          MaxCount: 1,
          ClientToken: 'bake-44-launch',
          IamInstanceProfile: { Arn: sandbox.instanceProfileArn },
        }),
      ),
    ).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });
  });

  it('makes one copy for a retried CopyImage with the same ClientToken', async () => {
    const copy = (name: string) =>
      aws.ec2.send(
        new CopyImageCommand({
          SourceImageId: sandbox.baseImageId,
          SourceRegion: 'us-east-1',
          Name: name,
          ClientToken: 'bake-45-us-east-1',
        }),
      );
    const first = await copy('copy-45');
    const retried = await copy('copy-45');

    expect(retried.ImageId).toBe(first.ImageId);
    const named = await aws.ec2.send(
      new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['copy-45'] }] }),
    );
    expect(named.Images).toHaveLength(1);
    await expect(copy('copy-45-other')).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });
  });

  it('makes one version for a retried CreateLaunchTemplateVersion with the same ClientToken', async () => {
    const create = (ImageId: string) =>
      aws.ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: sandbox.launchTemplateId,
          SourceVersion: '1',
          ClientToken: 'bake-46-template',
          LaunchTemplateData: { ImageId },
        }),
      );
    const first = await create(sandbox.baseImageId);
    const retried = await create(sandbox.baseImageId);

    expect(retried.LaunchTemplateVersion?.VersionNumber).toBe(first.LaunchTemplateVersion?.VersionNumber);
    await expect(create('ami-12345678')).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });
  });

  it('sends a command only to the instances it names', async () => {
    const [builder] = await runBuilder();

    const sent = await aws.ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [builder ?? ''],
        Parameters: { commands: ['echo one'] },
      }),
    );
    const invocations = await aws.ssm.send(
      new ListCommandInvocationsCommand({ CommandId: sent.Command?.CommandId }),
    );
    const invocation = await aws.ssm.send(
      new GetCommandInvocationCommand({ CommandId: sent.Command?.CommandId, InstanceId: builder }),
    );

    expect(sent.Command?.TargetCount).toBe(1);
    expect(invocations.CommandInvocations?.map((item) => item.InstanceId)).toEqual([builder]);
    expect(invocation.Status).toBe('Success');
  });

  it('refuses DescribeLaunchTemplates for an id that does not exist (InvalidLaunchTemplateId.NotFound)', async () => {
    const missing = aws.ec2.send(
      new DescribeLaunchTemplatesCommand({
        LaunchTemplateIds: [sandbox.launchTemplateId, 'lt-0123456789abcdef0'],
      }),
    );

    await expect(missing).rejects.toMatchObject({ name: 'InvalidLaunchTemplateId.NotFound' });
    await expect(missing).rejects.toThrow('lt-0123456789abcdef0');
    const found = await aws.ec2.send(
      new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [sandbox.launchTemplateId] }),
    );
    expect(found.LaunchTemplates).toHaveLength(1);
    const listed = await aws.ec2.send(
      new DescribeLaunchTemplatesCommand({
        Filters: [{ Name: 'launch-template-name', Values: ['no-such'] }],
      }),
    );
    expect(listed.LaunchTemplates).toEqual([]); // a filter that matches nothing is no error
  });

  it('deletes launch template versions, never the default, answering per version', async () => {
    const template = await aws.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'fixes-prune',
        LaunchTemplateData: { ImageId: sandbox.baseImageId },
      }),
    );
    const LaunchTemplateId = template.LaunchTemplate?.LaunchTemplateId ?? '';
    for (const type of ['t3.small', 't3.medium'] as const) {
      await aws.ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId,
          SourceVersion: '1',
          LaunchTemplateData: { InstanceType: type },
        }),
      );
    }

    const deleted = await aws.ec2.send(
      new DeleteLaunchTemplateVersionsCommand({ LaunchTemplateId, Versions: ['1', '2', '9'] }),
    );
    const left = await aws.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId }));

    expect(deleted.SuccessfullyDeletedLaunchTemplateVersions?.map((v) => v.VersionNumber)).toEqual([2]);
    expect(
      deleted.UnsuccessfullyDeletedLaunchTemplateVersions?.map((v) => [
        v.VersionNumber,
        v.ResponseError?.Code,
      ]),
    ).toEqual([
      [1, 'launchTemplateVersionIsDefault'],
      [9, 'launchTemplateVersionDoesNotExist'],
    ]);
    expect(left.LaunchTemplateVersions?.map((v) => v.VersionNumber).sort()).toEqual([1, 3]);
    await expect(
      aws.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId, Versions: ['2'] })),
    ).rejects.toMatchObject({ name: 'InvalidLaunchTemplateId.VersionNotFound' });
  });
});
