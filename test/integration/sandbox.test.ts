import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeVpcsCommand,
} from '@aws-sdk/client-ec2';
import { DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { PublishCommand } from '@aws-sdk/client-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsForTest } from '../support/aws';
import { receiveNotifications } from '../support/notifications';
import {
  createSandbox,
  describeGroup,
  destroySandbox,
  FLEET_USER_DATA,
  type Sandbox,
} from '../../emulator/sandbox';

const aws = awsForTest(import.meta.url);
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await createSandbox(aws, { name: 'sandbox' });
});

describe('the sandbox fleet, created through the AWS SDK against the emulator', () => {
  it('runs the group at its desired capacity, in both subnets, behind the target group with ELB checks', async () => {
    const group = await describeGroup(aws, sandbox.autoScalingGroupName);

    expect(group.DesiredCapacity).toBe(2);
    expect(group.Instances).toHaveLength(2);
    expect(group.Instances?.every((instance) => instance.LifecycleState === 'InService')).toBe(true);
    expect(group.HealthCheckType).toBe('ELB');
    expect(group.TargetGroupARNs).toEqual([sandbox.targetGroupArn]);
    expect(group.VPCZoneIdentifier?.split(',').sort()).toEqual([...sandbox.subnetIds].sort());
    expect(group.LaunchTemplate?.LaunchTemplateId).toBe(sandbox.launchTemplateId);
  });

  it('launches the instances from the base image with the template security group and tags', async () => {
    const group = await describeGroup(aws, sandbox.autoScalingGroupName);
    const ids = (group.Instances ?? []).map((instance) => instance.InstanceId ?? '');
    const described = await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
    const instances = described.Reservations?.flatMap((reservation) => reservation.Instances ?? []) ?? [];

    expect(instances).toHaveLength(2);
    for (const instance of instances) {
      expect(instance.ImageId).toBe(sandbox.baseImageId);
      expect(instance.SecurityGroups?.map((group) => group.GroupId)).toEqual([sandbox.securityGroupId]);
      expect(instance.Tags).toEqual(expect.arrayContaining([{ Key: 'app', Value: 'web' }]));
    }
  });

  it('keeps user data, IMDSv2 and tags in the launch template', async () => {
    const versions = await aws.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: sandbox.launchTemplateId,
        Versions: ['$Default'],
      }),
    );
    const data = versions.LaunchTemplateVersions?.[0]?.LaunchTemplateData;

    expect(Buffer.from(data?.UserData ?? '', 'base64').toString()).toBe(FLEET_USER_DATA);
    expect(data?.MetadataOptions?.HttpTokens).toBe('required');
    expect(data?.ImageId).toBe(sandbox.baseImageId);
  });

  it('has a target group in the sandbox VPC attached to the load balancer', async () => {
    const groups = await aws.elb.send(
      new DescribeTargetGroupsCommand({ TargetGroupArns: [sandbox.targetGroupArn] }),
    );

    expect(groups.TargetGroups?.[0]?.VpcId).toBe(sandbox.vpcId);
    expect(groups.TargetGroups?.[0]?.LoadBalancerArns).toEqual([sandbox.loadBalancerArn]);
  });

  it('delivers what is published on the topic to the queue, in the SNS envelope', async () => {
    await aws.sns.send(
      new PublishCommand({
        TopicArn: sandbox.topicArn,
        Subject: 'sandbox ready',
        Message: JSON.stringify({ type: 'test.ping', n: 1 }),
        MessageAttributes: { type: { DataType: 'String', StringValue: 'test.ping' } },
      }),
    );

    const [notification] = await receiveNotifications(aws, sandbox.queueUrl, { count: 1 });

    expect(notification).toEqual({
      topicArn: sandbox.topicArn,
      subject: 'sandbox ready',
      message: { type: 'test.ping', n: 1 },
      attributes: { type: 'test.ping' },
    });
  });
});

describe('tearing a sandbox down', () => {
  it("follows AWS's dependency order and leaves nothing of it behind", async () => {
    const aws = awsForTest(`${import.meta.url}#teardown`);
    const doomed = await createSandbox(aws, { name: 'teardown', desiredCapacity: 2 });

    const steps = await destroySandbox(aws, doomed);

    expect(steps.map(([kind]) => kind).slice(0, 5)).toEqual([
      'load balancer',
      'target group',
      'auto scaling group',
      'instances',
      'launch template',
    ]);
    const vpcs = await aws.ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [doomed.vpcId] }] }),
    );
    expect(vpcs.Vpcs).toEqual([]);
    const instances = await aws.ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'vpc-id', Values: [doomed.vpcId] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ],
      }),
    );
    expect(instances.Reservations?.flatMap((r) => r.Instances ?? [])).toEqual([]);
    const groups = await aws.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [doomed.autoScalingGroupName] }),
    );
    expect(groups.AutoScalingGroups).toEqual([]);
    await expect(
      aws.elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [doomed.targetGroupArn] })),
    ).rejects.toMatchObject({
      name: 'TargetGroupNotFoundException',
    });
  });
});
