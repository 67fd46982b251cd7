import {
  CreateAutoScalingGroupCommand,
  DeleteAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DetachLoadBalancerTargetGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateLaunchTemplateCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteLaunchTemplateCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeleteLoadBalancerCommand,
  DeleteTargetGroupCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DetachRolePolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
} from '@aws-sdk/client-iam';
import { CreateTopicCommand, DeleteTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';

/** The clients the sandbox is built with (a test's isolated account, or the demo's). */
export interface SandboxClients {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  readonly autoScaling: AutoScalingClient;
  readonly iam: IAMClient;
  readonly elb: ElasticLoadBalancingV2Client;
}

/** The public parameter AWS keeps pointing at the newest Amazon Linux 2023 AMI. */
export const AL2023_PARAMETER = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

/** A fleet like the ones ami-bakery serves: a Node.js app behind an ALB, in an ASG. */
export interface Sandbox {
  readonly name: string;
  readonly vpcId: string;
  readonly subnetIds: readonly [string, string];
  readonly securityGroupId: string;
  readonly roleName: string;
  readonly instanceProfileName: string;
  readonly instanceProfileArn: string;
  readonly baseImageId: string;
  readonly launchTemplateId: string;
  readonly launchTemplateName: string;
  readonly loadBalancerArn: string;
  readonly targetGroupArn: string;
  readonly autoScalingGroupName: string;
  readonly topicArn: string;
  readonly queueUrl: string;
  /** Where builders run: the names config/pipelines.ts uses. */
  readonly builderSubnetId: string;
  readonly builderSecurityGroupId: string;
}

const SSM_CORE_POLICY = 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore';

/** Names the checked-in pipelines give the builder network and profile (config/pipelines.ts). */
export const BUILDER_SUBNET_NAME = 'ami-bakery-builders';
export const BUILDER_GROUP_NAME = 'ami-bakery-builder';
export const BUILDER_PROFILE_NAME = 'ami-bakery-builder';

export interface SandboxOptions {
  /** Prefix of every resource name; unique within the test's account. */
  readonly name: string;
  readonly desiredCapacity?: number;
  /** The Auto Scaling group's name (default `<name>-app`); `web-fleet` is the web pipeline's target. */
  readonly groupName?: string;
}

/** The fleet's user data: start the app under PM2 (what a baked image would hold). */
export const FLEET_USER_DATA = [
  '#!/bin/bash',
  'set -euo pipefail',
  'cd /opt/app && pm2 start ecosystem.config.js --env production',
  'pm2 save',
].join('\n');

const EC2_TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the emulator returned no ${what}`);
  return value;
}

/**
 * Creates the sandbox through the real AWS SDK clients: VPC with two subnets in two
 * zones, a security group, an instance role and profile (SSM core), a launch template
 * with user data and tags, an ALB with a target group, an ASG attached to it with ELB
 * health checks, and an SNS topic with an SQS subscription to read notifications from.
 */
export async function createSandbox(aws: SandboxClients, options: SandboxOptions): Promise<Sandbox> {
  const { name } = options;
  const region = await aws.ec2.config.region();
  const tags: { Key: string; Value: string }[] = [
    { Key: 'Name', Value: name },
    { Key: 'app', Value: 'web' },
  ];

  const baseImage = await aws.ssm.send(new GetParameterCommand({ Name: AL2023_PARAMETER }));
  const baseImageId = required(baseImage.Parameter?.Value, 'base image parameter');

  const vpc = await aws.ec2.send(
    new CreateVpcCommand({
      CidrBlock: '10.42.0.0/16',
      TagSpecifications: [{ ResourceType: 'vpc', Tags: tags }],
    }),
  );
  const vpcId = required(vpc.Vpc?.VpcId, 'VPC id');
  const subnetIds = await Promise.all(
    (['a', 'b'] as const).map(async (zone, index) => {
      const subnet = await aws.ec2.send(
        new CreateSubnetCommand({
          VpcId: vpcId,
          // Room for bursts: moto never gives back the address of a terminated instance.
          CidrBlock: `10.42.${index * 16}.0/20`,
          AvailabilityZone: `${region}${zone}`,
          TagSpecifications: [{ ResourceType: 'subnet', Tags: tags }],
        }),
      );
      return required(subnet.Subnet?.SubnetId, 'subnet id');
    }),
  );
  const subnetPair = [required(subnetIds[0], 'subnet'), required(subnetIds[1], 'subnet')] as const;

  const group = await aws.ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: `${name}-app`,
      Description: 'app instances: HTTP from inside the VPC only',
      VpcId: vpcId,
    }),
  );
  const securityGroupId = required(group.GroupId, 'security group id');
  await aws.ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: securityGroupId,
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 3000, ToPort: 3000, IpRanges: [{ CidrIp: '10.42.0.0/16' }] },
      ],
    }),
  );

  // The stack may pass only the fleets' roles (serverless.yml, fleetRoles: `*-fleet-instance`).
  const roleName = `${name}-fleet-instance`;
  await aws.iam.send(
    new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: EC2_TRUST_POLICY }),
  );
  await aws.iam.send(
    new AttachRolePolicyCommand({
      RoleName: roleName,
      PolicyArn: SSM_CORE_POLICY,
    }),
  );
  const profile = await aws.iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: roleName }));
  await aws.iam.send(
    new AddRoleToInstanceProfileCommand({ InstanceProfileName: roleName, RoleName: roleName }),
  );
  const instanceProfileArn = required(profile.InstanceProfile?.Arn, 'instance profile ARN');

  const launchTemplateName = `${name}-app`;
  const template = await aws.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: launchTemplateName,
      VersionDescription: 'initial',
      LaunchTemplateData: {
        ImageId: baseImageId,
        InstanceType: 't3.micro',
        IamInstanceProfile: { Arn: instanceProfileArn },
        SecurityGroupIds: [securityGroupId],
        UserData: Buffer.from(FLEET_USER_DATA).toString('base64'),
        MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
        TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
      },
      TagSpecifications: [{ ResourceType: 'launch-template', Tags: tags }],
    }),
  );
  const launchTemplateId = required(template.LaunchTemplate?.LaunchTemplateId, 'launch template id');

  const balancer = await aws.elb.send(
    new CreateLoadBalancerCommand({
      Name: `${name}-alb`,
      Type: 'application',
      Scheme: 'internal',
      Subnets: [...subnetPair],
      SecurityGroups: [securityGroupId],
      Tags: tags,
    }),
  );
  const loadBalancerArn = required(balancer.LoadBalancers?.[0]?.LoadBalancerArn, 'load balancer ARN');
  const targets = await aws.elb.send(
    new CreateTargetGroupCommand({
      Name: `${name}-app`,
      Protocol: 'HTTP',
      Port: 3000,
      VpcId: vpcId,
      TargetType: 'instance',
      HealthCheckPath: '/health',
      Tags: tags,
    }),
  );
  const targetGroupArn = required(targets.TargetGroups?.[0]?.TargetGroupArn, 'target group ARN');
  await aws.elb.send(
    new CreateListenerCommand({
      LoadBalancerArn: loadBalancerArn,
      Protocol: 'HTTP',
      Port: 80,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
    }),
  );

  const autoScalingGroupName = options.groupName ?? `${name}-app`;
  const capacity = options.desiredCapacity ?? 2;
  await aws.autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: autoScalingGroupName,
      LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: '$Default' },
      MinSize: capacity,
      MaxSize: capacity * 2,
      DesiredCapacity: capacity,
      VPCZoneIdentifier: subnetPair.join(','),
      TargetGroupARNs: [targetGroupArn],
      HealthCheckType: 'ELB',
      HealthCheckGracePeriod: 60,
      Tags: tags.map((tag) => ({ ...tag, PropagateAtLaunch: true })),
    }),
  );

  const topic = await aws.sns.send(new CreateTopicCommand({ Name: `${name}-notifications` }));
  const topicArn = required(topic.TopicArn, 'topic ARN');
  const queue = await aws.sqs.send(new CreateQueueCommand({ QueueName: `${name}-notifications` }));
  const queueUrl = required(queue.QueueUrl, 'queue URL');
  const queueArn = required(
    (await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] })))
      .Attributes?.QueueArn,
    'queue ARN',
  );
  await aws.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));

  const builderSubnet = await aws.ec2.send(
    new CreateSubnetCommand({
      VpcId: vpcId,
      CidrBlock: '10.42.200.0/24',
      AvailabilityZone: `${region}a`,
      TagSpecifications: [{ ResourceType: 'subnet', Tags: [{ Key: 'Name', Value: BUILDER_SUBNET_NAME }] }],
    }),
  );
  // The builder takes no inbound traffic at all: SSM's agent dials out.
  const builderGroup = await aws.ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: BUILDER_GROUP_NAME,
      Description: 'ami-bakery builders: no inbound',
      VpcId: vpcId,
    }),
  );
  await ensureBuilderProfile(aws);

  return {
    name,
    builderSubnetId: required(builderSubnet.Subnet?.SubnetId, 'builder subnet'),
    builderSecurityGroupId: required(builderGroup.GroupId, 'builder security group'),
    vpcId,
    subnetIds: subnetPair,
    securityGroupId,
    roleName,
    instanceProfileName: roleName,
    instanceProfileArn,
    baseImageId,
    launchTemplateId,
    launchTemplateName,
    loadBalancerArn,
    targetGroupArn,
    autoScalingGroupName,
    topicArn,
    queueUrl,
  };
}

/** The group as the emulator sees it now. */
export async function describeGroup(aws: SandboxClients, groupName: string) {
  const groups = await aws.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
  );
  return required(groups.AutoScalingGroups?.[0], `Auto Scaling group ${groupName}`);
}

/** The builder's role and instance profile (account-wide names: an earlier sandbox may have made them). */
async function ensureBuilderProfile(aws: SandboxClients): Promise<void> {
  try {
    await aws.iam.send(
      new CreateRoleCommand({ RoleName: BUILDER_PROFILE_NAME, AssumeRolePolicyDocument: EC2_TRUST_POLICY }),
    );
  } catch (error) {
    if ((error as Error).name === 'EntityAlreadyExistsException') return;
    throw error;
  }
  await aws.iam.send(
    new AttachRolePolicyCommand({
      RoleName: BUILDER_PROFILE_NAME,
      PolicyArn: SSM_CORE_POLICY,
    }),
  );
  await aws.iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: BUILDER_PROFILE_NAME }));
  await aws.iam.send(
    new AddRoleToInstanceProfileCommand({
      InstanceProfileName: BUILDER_PROFILE_NAME,
      RoleName: BUILDER_PROFILE_NAME,
    }),
  );
}

/** What `destroySandbox` removed, in the order it went. */
export type TeardownStep = readonly [kind: string, id: string];

async function untilGone(probe: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} to go`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Tears a sandbox down in AWS's dependency order: load balancer (and its listener) → target
 * group → Auto Scaling group (its instances terminated) → remaining instances of the VPC →
 * launch template → notifications → security groups, subnets, VPC → instance profile and role.
 * The builder profile is shared by sandboxes of an account and stays.
 */
export async function destroySandbox(aws: SandboxClients, sandbox: Sandbox): Promise<TeardownStep[]> {
  const steps: TeardownStep[] = [];
  await aws.elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: sandbox.loadBalancerArn }));
  steps.push(['load balancer', sandbox.loadBalancerArn]);
  // The group lets go of the target group first (as AWS wants before either is deleted).
  await aws.autoScaling.send(
    new DetachLoadBalancerTargetGroupsCommand({
      AutoScalingGroupName: sandbox.autoScalingGroupName,
      TargetGroupARNs: [sandbox.targetGroupArn],
    }),
  );
  await aws.elb.send(new DeleteTargetGroupCommand({ TargetGroupArn: sandbox.targetGroupArn }));
  steps.push(['target group', sandbox.targetGroupArn]);
  await aws.autoScaling.send(
    new DeleteAutoScalingGroupCommand({
      AutoScalingGroupName: sandbox.autoScalingGroupName,
      ForceDelete: true,
    }),
  );
  await untilGone(
    async () =>
      (
        (
          await aws.autoScaling.send(
            new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [sandbox.autoScalingGroupName] }),
          )
        ).AutoScalingGroups ?? []
      ).length === 0,
    `group ${sandbox.autoScalingGroupName}`,
  );
  steps.push(['auto scaling group', sandbox.autoScalingGroupName]);
  const live = async () =>
    (
      await aws.ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: 'vpc-id', Values: [sandbox.vpcId] },
            {
              Name: 'instance-state-name',
              Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'],
            },
          ],
        }),
      )
    ).Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
  const remaining = (await live())
    .filter((i) => i.State?.Name !== 'shutting-down')
    .map((i) => i.InstanceId ?? '');
  if (remaining.length > 0) await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: remaining }));
  await untilGone(async () => (await live()).length === 0, 'the sandbox instances');
  steps.push(['instances', `${remaining.length} besides the group's`]);
  await aws.ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: sandbox.launchTemplateId }));
  steps.push(['launch template', sandbox.launchTemplateId]);
  await aws.sns.send(new DeleteTopicCommand({ TopicArn: sandbox.topicArn }));
  await aws.sqs.send(new DeleteQueueCommand({ QueueUrl: sandbox.queueUrl }));
  steps.push(['notifications', sandbox.topicArn]);
  for (const groupId of [sandbox.securityGroupId, sandbox.builderSecurityGroupId]) {
    await aws.ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
    steps.push(['security group', groupId]);
  }
  for (const subnetId of [...sandbox.subnetIds, sandbox.builderSubnetId]) {
    await aws.ec2.send(new DeleteSubnetCommand({ SubnetId: subnetId }));
    steps.push(['subnet', subnetId]);
  }
  await aws.ec2.send(new DeleteVpcCommand({ VpcId: sandbox.vpcId }));
  steps.push(['vpc', sandbox.vpcId]);
  await aws.iam.send(
    new RemoveRoleFromInstanceProfileCommand({
      InstanceProfileName: sandbox.instanceProfileName,
      RoleName: sandbox.roleName,
    }),
  );
  await aws.iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: sandbox.instanceProfileName }));
  await aws.iam.send(new DetachRolePolicyCommand({ RoleName: sandbox.roleName, PolicyArn: SSM_CORE_POLICY }));
  await aws.iam.send(new DeleteRoleCommand({ RoleName: sandbox.roleName }));
  steps.push(['instance profile and role', sandbox.roleName]);
  return steps;
}
