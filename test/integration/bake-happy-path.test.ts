import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSnapshotsCommand,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { startBake } from '../../lib/bake/service';
import { awsForTest, controlFor } from '../support/aws';
import { bakeryForTest, runToEnd, type TestBakery } from '../support/bakery';
import { receiveNotifications } from '../support/notifications';
import { createSandbox, describeGroup, type Sandbox } from '../../emulator/sandbox';

// The `web` pipeline of config/pipelines.ts end to end against the emulator: bake, roll, refresh.
const aws = awsForTest(import.meta.url);
let sandbox: Sandbox;
let bakery: TestBakery;

beforeAll(async () => {
  sandbox = await createSandbox(aws, { name: 'happy', desiredCapacity: 2, groupName: 'web-fleet' });
  bakery = await bakeryForTest(aws, sandbox);
  await controlFor(aws).configure({
    timeScale: 0.001, // the refresh's 120 s warm-up in 0.12 s
    delays: {
      'ec2.instance.pending': 0.1,
      'ec2.instance.stopping': 0.1,
      'ec2.image.pending': 0.1,
      'ssm.command.in-progress': 0.05,
    },
  });
});

describe('a bake of the web pipeline', () => {
  it('goes from the base image to a published AMI on a refreshed fleet, and leaves no builder running', async () => {
    const started = await startBake(bakery.as('api'), 'web', { reason: 'test' });

    const bake = await runToEnd(bakery, started.id);

    expect(bake.phase).toBe('succeeded');
    expect(bake.timeline.map((entry) => entry.phase)).toEqual([
      'requested',
      'launching',
      'provisioning',
      'validating',
      'stopping',
      'imaging',
      'distributing',
      'publishing',
      'rolling',
      'refreshing',
      'succeeded',
    ]);
    expect(bake.steps.map((s) => `${s.stage}/${s.name}:${s.status}`)).toEqual([
      'provision/install-node:Success',
      'provision/install-pm2:Success',
      'provision/deploy-app:Success',
      'provision/pm2-at-boot:Success',
      'validate/app-healthy:Success',
      'validate/pm2-saved:Success',
    ]);
    const imageId = bake.image?.imageId ?? '';
    const parameter = await aws.ssm.send(new GetParameterCommand({ Name: '/ami-bakery/web/latest' }));
    expect(parameter.Parameter?.Value).toBe(imageId);
    expect(parameter.Parameter?.DataType).toBe('aws:ec2:image');

    const image = (await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
    expect(image?.Name).toBe(
      `web-${bake.createdAt.replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${bake.id}`,
    );
    expect(image?.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'ami-bakery:managed', Value: 'true' },
        { Key: 'ami-bakery:pipeline', Value: 'web' },
        { Key: 'ami-bakery:bake-id', Value: bake.id },
        { Key: 'ami-bakery:recipe-hash', Value: bake.recipeHash },
        { Key: 'app', Value: 'web' },
      ]),
    );
    const snapshotId = image?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? '';
    const snapshot = (await aws.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })))
      .Snapshots?.[0];
    expect(snapshot?.Tags).toEqual(expect.arrayContaining([{ Key: 'ami-bakery:bake-id', Value: bake.id }]));

    const builderId = bake.builder?.instanceId ?? '';
    const builder = (await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [builderId] })))
      .Reservations?.[0]?.Instances?.[0];
    expect(builder?.State?.Name).toMatch(/shutting-down|terminated/);
    expect(builder?.MetadataOptions?.HttpTokens).toBe('required');
    expect(builder?.SubnetId).toBe(sandbox.builderSubnetId);
    expect(builder?.PublicIpAddress).toBeUndefined();
    expect(builder?.Tags).toEqual(expect.arrayContaining([{ Key: 'ami-bakery:role', Value: 'builder' }]));
    expect(bake.resources.map((r) => r.kind).sort()).toEqual(['image', 'instance', 'parameter']);

    // The fleet: a new template version with only the image changed, made default, every
    // instance refreshed onto it.
    const target = bake.rollout?.[0];
    expect(target).toMatchObject({
      group: 'web-fleet',
      status: 'succeeded',
      sourceVersion: 1,
      version: 2,
      percentage: 100,
    });
    const version = (
      await aws.ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateId: sandbox.launchTemplateId,
          Versions: ['2'],
        }),
      )
    ).LaunchTemplateVersions?.[0];
    expect(version?.LaunchTemplateData?.ImageId).toBe(imageId);
    expect(version?.DefaultVersion).toBe(true);
    const group = await describeGroup(aws, sandbox.autoScalingGroupName);
    expect(group.Instances?.map((i) => i.LaunchTemplate?.Version)).toEqual(['2', '2']);

    const notifications = await receiveNotifications(aws, sandbox.queueUrl, { count: 13 });
    expect(notifications.map((n) => n.attributes.type)).toEqual([
      'bake.started',
      'bake.phase',
      'bake.phase',
      'bake.phase',
      'bake.phase',
      'bake.phase',
      'bake.phase',
      'bake.phase',
      'rollout.started',
      'bake.phase',
      'bake.phase',
      'rollout.succeeded',
      'bake.succeeded',
    ]);
    expect(notifications.at(-1)).toMatchObject({
      attributes: { type: 'bake.succeeded', pipeline: 'web', severity: 'info' },
      message: { bakeId: bake.id, detail: { imageId } },
    });
  });
});
