import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { createSandbox } from '../../emulator/sandbox';
import { startBake } from '../../lib/bake/service';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { awsForTest, type TestAws } from '../support/aws';
import { bakeryForTest, runToEnd } from '../support/bakery';

// Security checks of the builder launch (issue 9): IMDSv2 only, no public IP, an encrypted root
// volume, no key pair, the builder profile, and a security group that lets nothing in.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];

async function setUp(key: string, configured: PipelineInput[]) {
  const aws = awsForTest(`${import.meta.url}#${key}`);
  const sandbox = await createSandbox(aws, { name: key, desiredCapacity: 0 });
  return { aws, sandbox, bakery: await bakeryForTest(aws, sandbox, configured) };
}

async function instancesOf(aws: TestAws, bakeId: string) {
  const described = await aws.ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'tag:ami-bakery:bake-id', Values: [bakeId] }] }),
  );
  return (described.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

describe('the builder launch', () => {
  it('is IMDSv2 only, private, encrypted, keyless, and reachable by nothing but SSM', async () => {
    const { aws, sandbox, bakery } = await setUp('launch', [minimal]);

    const { id } = await startBake(bakery.as('api'), 'minimal');
    // Looked at while it runs (a terminated instance has lost its volumes and profile association).
    const bake = await runToEnd(bakery, id, { until: (stored) => stored.bake.phase === 'provisioning' });
    const [builder, ...others] = await instancesOf(aws, bake.id);
    expect(others).toEqual([]);
    expect(builder?.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    expect(builder?.PublicIpAddress).toBeUndefined();
    expect(builder?.KeyName).toBeUndefined();
    expect(builder?.IamInstanceProfile?.Arn).toMatch(/instance-profile\/ami-bakery-builder$/);
    expect(builder?.SubnetId).toBe(sandbox.builderSubnetId);
    const subnet = (await aws.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [sandbox.builderSubnetId] })))
      .Subnets?.[0];
    expect(subnet?.MapPublicIpOnLaunch).not.toBe(true);
    const groupIds = (builder?.NetworkInterfaces ?? []).flatMap((n) =>
      (n.Groups ?? []).map((g) => g.GroupId ?? ''),
    );
    expect(groupIds).toEqual([sandbox.builderSecurityGroupId]);
    const groups = (await aws.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groupIds })))
      .SecurityGroups;
    for (const group of groups ?? []) expect(group.IpPermissions, group.GroupName).toEqual([]);
    const volumeIds = (builder?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.VolumeId ?? '');
    expect(volumeIds.length).toBeGreaterThan(0);
    const volumes = (await aws.ec2.send(new DescribeVolumesCommand({ VolumeIds: volumeIds }))).Volumes ?? [];
    expect(volumes.map((v) => v.Encrypted)).toEqual(volumeIds.map(() => true));
    expect((await runToEnd(bakery, id)).phase).toBe('succeeded');
  });

  it('refuses a builder security group that lets anything in, and launches nothing', async () => {
    const aws = awsForTest(`${import.meta.url}#open`);
    const sandbox = await createSandbox(aws, { name: 'open', desiredCapacity: 0 });
    const group = await aws.ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: 'builder-with-ssh',
        Description: 'SSH from anywhere',
        VpcId: sandbox.vpcId,
      }),
    );
    await aws.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: group.GroupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    const pipeline: PipelineInput = {
      ...minimal,
      builder: { ...minimal.builder, securityGroups: [group.GroupId ?? ''] },
    };
    const bakery = await bakeryForTest(aws, sandbox, [pipeline]);

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'minimal')).id);

    expect(bake.phase).toBe('failed');
    expect(bake.failure).toMatchObject({ code: 'BuilderSecurityGroupOpen' });
    expect(bake.failure?.message).toContain('builder-with-ssh');
    expect(await instancesOf(aws, bake.id)).toEqual([]);
  });
});
