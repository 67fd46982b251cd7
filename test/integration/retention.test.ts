import {
  CreateAutoScalingGroupCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CopyImageCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  ModifyLaunchTemplateCommand,
  StopInstancesCommand,
  CreateVolumeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  RegisterImageCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { ADMIN_CREDENTIALS } from '../../emulator/harness';
import { createSandbox, type Sandbox } from '../../emulator/sandbox';
import { cancelBake, startBake } from '../../lib/bake/service';
import { TAG_BAKE_ID, TAG_MANAGED, TAG_PIPELINE, TAG_ROLE, TAG_STATUS } from '../../lib/aws/tags';
import { applyRetention, retentionPlan, sweepLeakedBuilders } from '../../lib/retention/janitor';
import { runJanitor } from '../../lib/retention/run';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { accountHeader, awsForTest, controlFor, type TestAws } from '../support/aws';
import { bakeryForTest, runToEnd, type TestBakery } from '../support/bakery';
import { receiveNotifications } from '../support/notifications';

// The janitor against the emulator: what it keeps (and why), what it deletes, what it never touches.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];
const PARAMETER = '/ami-bakery/kept/latest';
const kept: PipelineInput = {
  ...minimal,
  name: 'kept',
  publish: { parameter: PARAMETER },
  retention: { keep: 1, minAgeDays: 0 },
};

const sizes = new Map<string, number>();

async function snapshot(aws: TestAws, sizeGiB: number): Promise<string> {
  const volume = await aws.ec2.send(
    new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: sizeGiB }),
  );
  const made = await aws.ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId }));
  sizes.set(made.SnapshotId ?? '', sizeGiB);
  return made.SnapshotId ?? '';
}

/** An image of the pipeline, registered with the given snapshots (and tags a bake gives it). */
async function image(aws: TestAws, name: string, snapshots: string[], extra: Record<string, string> = {}) {
  const registered = await aws.ec2.send(
    new RegisterImageCommand({
      Name: name,
      RootDeviceName: '/dev/xvda',
      BlockDeviceMappings: snapshots.map((SnapshotId, i) => ({
        DeviceName: i === 0 ? '/dev/xvda' : `/dev/xvd${String.fromCharCode(98 + i)}`,
        Ebs: { SnapshotId, VolumeSize: sizes.get(SnapshotId) ?? 8 },
      })),
      TagSpecifications: [
        {
          ResourceType: 'image',
          Tags: Object.entries({
            [TAG_MANAGED]: 'true',
            [TAG_PIPELINE]: 'kept',
            [TAG_BAKE_ID]: `b-${name}`,
            ...extra,
          }).map(([Key, Value]) => ({ Key, Value })),
        },
      ],
    }),
  );
  return registered.ImageId ?? '';
}

async function existing(aws: TestAws, ids: string[]): Promise<string[]> {
  const found = await aws.ec2.send(
    new DescribeImagesCommand({
      Owners: ['self'],
      Filters: [{ Name: `tag:${TAG_PIPELINE}`, Values: ['kept'] }],
    }),
  );
  return ids.filter((id) => found.Images?.some((i) => i.ImageId === id));
}

async function snapshotsLeft(aws: TestAws, ids: string[]): Promise<string[]> {
  const found = await aws.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
  return ids.filter((id) => found.Snapshots?.some((s) => s.SnapshotId === id));
}

interface World {
  aws: TestAws;
  bakery: TestBakery;
  sandbox: Sandbox;
  ids: Record<string, string>;
  snaps: Record<string, string>;
}

/** Ten images, each kept for one kind of reason or due for deletion. */
async function world(key: string): Promise<World> {
  const aws = awsForTest(`${import.meta.url}#${key}`);
  const sandbox = await createSandbox(aws, { name: key, desiredCapacity: 0 });
  const bakery = await bakeryForTest(aws, sandbox, [kept]);
  const snaps = {
    multiRoot: await snapshot(aws, 8),
    multiData: await snapshot(aws, 100),
    shared: await snapshot(aws, 20),
  };
  const one = async () => [await snapshot(aws, 8)];
  const ids: Record<string, string> = {};
  ids.multi = await image(aws, 'old-multi', [snaps.multiRoot, snaps.multiData]);
  ids.sharedGoes = await image(aws, 'old-shared-a', [snaps.shared]);
  ids.failed = await image(aws, 'failed', await one(), { [TAG_STATUS]: 'failed' });
  ids.byDefault = await image(aws, 'template-default', await one());
  ids.byGroup = await image(aws, 'group-pinned', await one());
  ids.byInstance = await image(aws, 'instance', await one());
  ids.byParameter = await image(aws, 'parameter', await one());
  ids.sharedStays = await image(aws, 'shared-b', [snaps.shared]);
  await new Promise((resolve) => setTimeout(resolve, 1100)); // creation times are in seconds
  ids.newest = await image(aws, 'newest', await one());

  // References: a template's default version, a group pinned to an older version, a running
  // instance, the SSM parameter, and the latest version of another template.
  const template = await aws.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${key}-kept`,
      LaunchTemplateData: { ImageId: ids.byDefault },
    }),
  );
  const templateId = template.LaunchTemplate?.LaunchTemplateId ?? '';
  await aws.ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: templateId,
      LaunchTemplateData: { ImageId: ids.byGroup, InstanceType: 't3.micro' },
    }),
  );
  await aws.ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: templateId,
      LaunchTemplateData: { ImageId: ids.sharedStays, InstanceType: 't3.micro' },
    }),
  );
  await aws.autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: `${key}-pinned`,
      LaunchTemplate: { LaunchTemplateId: templateId, Version: '2' },
      MinSize: 0,
      MaxSize: 1,
      DesiredCapacity: 0,
      VPCZoneIdentifier: sandbox.subnetIds.join(','),
    }),
  );
  // A group naming the latest version by number: one reason for it, naming both.
  await aws.autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: `${key}-pinned-latest`,
      LaunchTemplate: { LaunchTemplateId: templateId, Version: '3' },
      MinSize: 0,
      MaxSize: 1,
      DesiredCapacity: 0,
      VPCZoneIdentifier: sandbox.subnetIds.join(','),
    }),
  );
  await aws.ec2.send(
    new RunInstancesCommand({ ImageId: ids.byInstance, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
  );
  await aws.ssm.send(
    new PutParameterCommand({ Name: PARAMETER, Value: ids.byParameter, Type: 'String', Overwrite: true }),
  );
  return { aws, bakery, sandbox, ids, snaps };
}

describe('retention', () => {
  it('keeps each referenced image with its reason, deletes the rest with all their snapshots, spares a shared one', async () => {
    const { aws, bakery, ids, snaps } = await world('refs');
    const pipeline = bakery.catalog.get('kept');

    const plan = await retentionPlan(bakery.as('janitor'), pipeline);
    const dry = await applyRetention(bakery.as('janitor'), pipeline, true);
    const afterDry = await existing(aws, Object.values(ids));
    const applied = await applyRetention(bakery.as('janitor'), pipeline, false);

    const why = Object.fromEntries(plan.keep.map((i) => [i.imageId, i.reasons.join('; ')]));
    expect(why[ids.newest ?? '']).toMatch(/among the 1 newest/);
    expect(why[ids.byDefault ?? '']).toMatch(/launch template refs-kept v1 \(default version\)/);
    expect(why[ids.byGroup ?? '']).toMatch(/v2 \(version named by group refs-pinned\)/);
    expect(plan.keep.find((i) => i.imageId === ids.sharedStays)?.reasons).toEqual([
      'launch template refs-kept v3 (latest version, version named by group refs-pinned-latest)',
    ]);
    expect(why[ids.byInstance ?? '']).toMatch(/instance i-\w+ \((pending|running)\)/);
    expect(why[ids.byParameter ?? '']).toMatch(/SSM parameter \/ami-bakery\/kept\/latest/);
    expect(plan.delete.map((i) => i.imageId).sort()).toEqual([ids.multi, ids.sharedGoes, ids.failed].sort());
    expect(plan.reclaimGiB).toBe(8 + 100 + 20 + 8);

    expect(dry.deregistered).toEqual([]);
    expect(afterDry).toEqual(Object.values(ids));

    expect(applied.deregistered.map((d) => d.imageId).sort()).toEqual(
      [ids.multi, ids.sharedGoes, ids.failed].sort(),
    );
    expect(await existing(aws, Object.values(ids))).toEqual(
      Object.values(ids).filter((id) => ![ids.multi, ids.sharedGoes, ids.failed].includes(id)),
    );
    expect(await snapshotsLeft(aws, [snaps.multiRoot ?? '', snaps.multiData ?? ''])).toEqual([]);
    expect(await snapshotsLeft(aws, [snaps.shared ?? ''])).toEqual([snaps.shared]);
    expect(applied.reclaimedGiB).toBe(8 + 100 + 8);
  }, 60_000);

  it('under throttling, leaves a consistent state, and a re-run converges', async () => {
    const { aws, bakery, ids, snaps } = await world('throttled');
    const pipeline = bakery.catalog.get('kept');
    const control = controlFor(aws);
    await control.setFaults([
      { kind: 'throttle', service: 'ec2', action: 'DeleteSnapshot', probability: 1, count: 5 },
    ]);

    await expect(applyRetention(bakery.as('janitor'), pipeline, false)).rejects.toThrow();
    await control.clearFaults();
    const again = await applyRetention(bakery.as('janitor'), pipeline, false);

    expect(await existing(aws, [ids.multi ?? '', ids.sharedGoes ?? '', ids.failed ?? ''])).toEqual([]);
    expect(await snapshotsLeft(aws, [snaps.multiRoot ?? '', snaps.multiData ?? ''])).toEqual([]);
    expect(await snapshotsLeft(aws, [snaps.shared ?? ''])).toEqual([snaps.shared]);
    expect(again.snapshotsDeleted).toEqual(expect.arrayContaining([snaps.multiRoot, snaps.multiData]));
  }, 60_000);
});

describe('more references', () => {
  it('keeps an image a mixed-instances override, an active refresh or a stopped instance names', async () => {
    const aws = awsForTest(`${import.meta.url}#more`);
    const sandbox = await createSandbox(aws, { name: 'more', desiredCapacity: 0 });
    const bakery = await bakeryForTest(aws, sandbox, [kept]);
    await controlFor(aws).configure({ timeScale: 0.05 });
    const one = async (name: string) => image(aws, name, [await snapshot(aws, 8)]);
    const byOverride = await one('override');
    const byRefresh = await one('refresh');
    const byStopped = await one('stopped');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const newest = await one('newest');

    // An override: a second template whose default and latest name other images.
    const other = await aws.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'more-override',
        LaunchTemplateData: { ImageId: byOverride },
      }),
    );
    const otherId = other.LaunchTemplate?.LaunchTemplateId ?? '';
    await aws.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: otherId,
        LaunchTemplateData: { ImageId: newest },
      }),
    );
    await aws.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: otherId, DefaultVersion: '2' }));
    await aws.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'more-mixed',
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateId: sandbox.launchTemplateId, Version: '$Default' },
            Overrides: [
              {
                InstanceType: 't3.small',
                LaunchTemplateSpecification: { LaunchTemplateId: otherId, Version: '1' },
              },
            ],
          },
        },
        MinSize: 0,
        MaxSize: 1,
        DesiredCapacity: 0,
        VPCZoneIdentifier: sandbox.subnetIds.join(','),
      }),
    );
    // A refresh moving the sandbox group to a version with `byRefresh`, still running (long warm-up).
    const refreshTemplate = await aws.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: sandbox.launchTemplateId,
        SourceVersion: '1',
        LaunchTemplateData: { ImageId: byRefresh },
      }),
    );
    await aws.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: sandbox.launchTemplateId,
        SourceVersion: '1',
        LaunchTemplateData: { ImageId: newest },
      }),
    );
    await aws.autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        MinSize: 1,
        DesiredCapacity: 1,
      }),
    );
    await aws.autoScaling.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: sandbox.autoScalingGroupName,
        DesiredConfiguration: {
          LaunchTemplate: {
            LaunchTemplateId: sandbox.launchTemplateId,
            Version: String(refreshTemplate.LaunchTemplateVersion?.VersionNumber ?? ''),
          },
        },
        Preferences: { MinHealthyPercentage: 0, InstanceWarmup: 3_600, SkipMatching: false },
      }),
    );
    const run = await aws.ec2.send(
      new RunInstancesCommand({ ImageId: byStopped, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
    );
    await aws.ec2.send(new StopInstancesCommand({ InstanceIds: [run.Instances?.[0]?.InstanceId ?? ''] }));

    const plan = await retentionPlan(bakery.as('janitor'), bakery.catalog.get('kept'));

    const why = (id: string) => plan.keep.find((i) => i.imageId === id)?.reasons.join('; ') ?? '';
    expect(why(byOverride)).toMatch(/more-override v1 \(version named by group more-mixed \(override\)\)/);
    expect(why(byRefresh)).toMatch(/version named by refresh /);
    expect(why(byStopped)).toMatch(/instance i-\w+ \((stopping|stopped)\)/);
    expect(plan.delete).toEqual([]);
  });
});

describe('copies in another region', () => {
  it('are planned in their region, and a kept copy keeps its source', async () => {
    const aws = awsForTest(`${import.meta.url}#copies`);
    const sandbox = await createSandbox(aws, { name: 'copies', desiredCapacity: 0 });
    const distributed: PipelineInput = { ...kept, distribute: { regions: ['us-west-2'] } };
    const bakery = await bakeryForTest(aws, sandbox, [distributed]);
    // A fixture: the copy as an earlier bake left it (made as the admin, not as a function).
    const west = new EC2Client({ region: 'us-west-2', credentials: ADMIN_CREDENTIALS });
    west.middlewareStack.use(accountHeader(aws.accountId));
    const source = await image(aws, 'copied-source', [await snapshot(aws, 8)]);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await image(aws, 'home-newest', [await snapshot(aws, 8)]);
    const copy = await west.send(
      new CopyImageCommand({ SourceImageId: source, SourceRegion: 'us-east-1', Name: 'copied-source' }),
    );
    await west.send(
      new CreateTagsCommand({
        Resources: [copy.ImageId ?? ''],
        Tags: [
          { Key: TAG_MANAGED, Value: 'true' },
          { Key: TAG_PIPELINE, Value: 'kept' },
          { Key: TAG_BAKE_ID, Value: 'b-copied-source' },
        ],
      }),
    );

    const plan = await retentionPlan(bakery.as('janitor'), bakery.catalog.get('kept'));

    const keptCopy = plan.keep.find((i) => i.imageId === copy.ImageId);
    const keptSource = plan.keep.find((i) => i.imageId === source);
    expect(keptCopy).toMatchObject({ region: 'us-west-2' });
    expect(keptCopy?.reasons.join()).toMatch(/among the 1 newest successful images in us-west-2/);
    expect(keptSource?.reasons).toEqual([`source of ${copy.ImageId ?? ''}, kept in us-west-2`]);
    expect(plan.delete).toEqual([]);
  });
});

describe('the janitor run', () => {
  it('is a dry run the first time, deletes the second time, and terminates leaked builders', async () => {
    const { aws, bakery, sandbox, ids } = await world('janitor');
    await receiveNotifications(aws, sandbox.queueUrl, { count: 50, timeoutMs: 300 });
    const builder = async (bakeId: string) =>
      (
        await aws.ec2.send(
          new RunInstancesCommand({
            ImageId: sandbox.baseImageId,
            InstanceType: 't3.micro',
            MinCount: 1,
            MaxCount: 1,
            TagSpecifications: [
              {
                ResourceType: 'instance',
                Tags: [
                  { Key: TAG_MANAGED, Value: 'true' },
                  { Key: TAG_PIPELINE, Value: 'kept' },
                  { Key: TAG_ROLE, Value: 'builder' },
                  { Key: TAG_BAKE_ID, Value: bakeId },
                ],
              },
            ],
          }),
        )
      ).Instances?.[0]?.InstanceId ?? '';
    const leaked = await builder('b20200101000000-dead00');
    const over = await startBake(bakery.as('api'), 'kept');
    await cancelBake(bakery.as('api'), over.id);
    await runToEnd(bakery, over.id);
    const leftOver = await builder(over.id);
    const live = await startBake(bakery.as('api'), 'kept');
    const working = await builder(live.id);

    const first = await runJanitor(bakery.as('janitor'));
    const second = await runJanitor(bakery.as('janitor'));

    expect(first.pipelines).toEqual([
      expect.objectContaining({ pipeline: 'kept', dryRun: true, deregistered: [], planned: 3 }),
    ]);
    expect(second.pipelines).toEqual([
      expect.objectContaining({ pipeline: 'kept', dryRun: false, planned: 3 }),
    ]);
    expect(await existing(aws, [ids.multi ?? ''])).toEqual([]);
    expect(first.leaked).toEqual([
      {
        instanceId: leaked,
        bakeId: 'b20200101000000-dead00',
        pipeline: 'kept',
        why: 'bake b20200101000000-dead00 is unknown',
      },
      { instanceId: leftOver, bakeId: over.id, pipeline: 'kept', why: `bake ${over.id} is cancelled` },
    ]);
    expect(second.leaked).toEqual([]);
    const states = await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [leaked, working] }));
    const state = (id: string) =>
      states.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === id)?.State?.Name;
    expect(['shutting-down', 'terminated']).toContain(state(leaked));
    expect(['pending', 'running']).toContain(state(working));
    const notes = (await receiveNotifications(aws, sandbox.queueUrl, { count: 10, timeoutMs: 2_000 })).filter(
      (n) => n.attributes.type === 'retention.completed',
    );
    expect(notes.map((n) => (n.message as { detail: { dryRun: boolean } }).detail.dryRun)).toEqual([
      true,
      false,
    ]);
    expect(notes[1]?.subject).toMatch(/retention deleted 3 images \(116 GiB\)/);
    expect(await sweepLeakedBuilders(bakery.as('janitor'))).toEqual([]);
  }, 60_000);
});
