import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  TerminateInstancesCommand,
  type Image,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import type { BakeRecord } from '../../lib/bake/model';
import { NotFoundError } from '../../lib/errors';
import { loadPipelines, PipelineCatalog } from '../../lib/pipeline/catalog';
import type { Pipeline, PipelineInput } from '../../lib/pipeline/schema';
import {
  applyRetention,
  retentionPlan,
  sweepLeakedBuilders,
  type RetentionDeps,
} from '../../lib/retention/janitor';
import type { BakeStore } from '../../lib/store/bakes';

// The janitor's reading of AWS and its calls, call by call: what the emulator tests cannot
// state precisely (the filters sent, batches, each error code, each reason given). The whole
// run against the emulator is test/integration/retention.test.ts.

const ec2 = mockClient(EC2Client);
const autoScaling = mockClient(AutoScalingClient);
const ssm = mockClient(SSMClient);
const HOME = 'us-east-1';
const NOW = new Date('2026-11-30T12:00:00.000Z');
const DAY = 86_400_000;

const [, minimalInput] = pipelines as [PipelineInput, PipelineInput];
const [pipeline] = loadPipelines(
  [
    {
      ...minimalInput,
      name: 'app',
      publish: { parameter: '/ami-bakery/app/latest' },
      retention: { keep: 1, minAgeDays: 0 },
    },
  ],
  { builderProfile: 'p' },
) as [Pipeline];

let records: Record<string, Partial<BakeRecord>> = {};
function deps(): RetentionDeps {
  const store = {
    get: (id: string) => {
      const bake = records[id];
      if (!bake) return Promise.reject(new NotFoundError(`no bake ${id}`));
      return Promise.resolve({ bake: bake as BakeRecord, outbox: [] });
    },
  } as unknown as BakeStore;
  return {
    region: HOME,
    ec2In: () => new EC2Client({ region: HOME }),
    ssmIn: () => new SSMClient({ region: HOME }),
    autoScalingIn: () => new AutoScalingClient({ region: HOME }),
    store,
    catalog: new PipelineCatalog([pipeline]),
    clock: () => NOW,
  };
}

const image = (id: string, daysOld: number, extra: Partial<Image> = {}): Image => ({
  ImageId: id,
  Name: `app-${id}`,
  State: 'available',
  CreationDate: new Date(NOW.getTime() - daysOld * DAY).toISOString(),
  Tags: [{ Key: 'ami-bakery:pipeline', Value: 'app' }],
  BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: `snap-${id}`, VolumeSize: 8 } }],
  ...extra,
});

/** Nothing refers to any image, unless a test says otherwise. */
function quietAws(): void {
  autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
  autoScaling.on(DescribeInstanceRefreshesCommand).resolves({ InstanceRefreshes: [] });
  ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [] });
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
  ssm.on(GetParameterCommand).rejects(Object.assign(new Error('none'), { name: 'ParameterNotFound' }));
}

beforeEach(() => {
  ec2.reset();
  autoScaling.reset();
  ssm.reset();
  records = {};
  quietAws();
});

describe('retentionPlan: the images', () => {
  it('asks for the pipeline’s own images, by its tag', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });

    await retentionPlan(deps(), pipeline);

    expect(ec2.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toEqual({
      Owners: ['self'],
      Filters: [{ Name: 'tag:ami-bakery:pipeline', Values: ['app'] }],
    });
  });

  it('reads each image: deregistered ones left out, failed by tag or state, snapshots with sizes', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        image('ami-1', 1, {
          Tags: [...(image('x', 0).Tags ?? []), { Key: 'ami-bakery:bake-id', Value: 'b1' }],
        }),
        image('ami-2', 2, {
          Tags: [...(image('x', 0).Tags ?? []), { Key: 'ami-bakery:status', Value: 'failed' }],
        }),
        image('ami-3', 3, { State: 'failed' }),
        image('ami-4', 4, { State: 'deregistered' }),
        image('ami-5', 5, {
          Name: undefined,
          BlockDeviceMappings: [
            { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
            { Ebs: { SnapshotId: 'snap-x' } },
          ],
        }),
      ],
    });

    const plan = await retentionPlan(deps(), pipeline);
    const all = [...plan.keep, ...plan.delete].sort((a, b) => a.imageId.localeCompare(b.imageId));

    expect(all.map((i) => [i.imageId, i.failed, i.bakeId ?? null])).toEqual([
      ['ami-1', false, 'b1'],
      ['ami-2', true, null],
      ['ami-3', true, null],
      ['ami-5', false, null],
    ]);
    expect(all[0]).toMatchObject({
      name: 'app-ami-1',
      region: HOME,
      snapshots: [{ snapshotId: 'snap-ami-1', sizeGiB: 8 }],
    });
    expect(all[3]).toMatchObject({ name: '', snapshots: [{ snapshotId: 'snap-x', sizeGiB: 0 }] });
  });

  it('reads every region the pipeline distributes to, the home region first', async () => {
    const distributed = { ...pipeline, distribute: { ...pipeline.distribute, regions: ['eu-west-1', HOME] } };
    const regions: string[] = [];
    const seen = deps();
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });

    await retentionPlan(
      { ...seen, ec2In: (region) => (regions.push(region), seen.ec2In(region)) },
      distributed,
    );

    expect(regions).toEqual([HOME, 'eu-west-1']);
  });
});

describe('retentionPlan: what refers to an image', () => {
  const old = [image('ami-old', 30), image('ami-mid', 20), image('ami-new', 1)];
  const keptFor = async (patch: Partial<RetentionDeps> = {}) => {
    ec2.on(DescribeImagesCommand).resolves({ Images: old });
    const plan = await retentionPlan({ ...deps(), ...patch }, pipeline);
    return Object.fromEntries(plan.keep.map((i) => [i.imageId, i.reasons]));
  };

  it('keeps only the newest when nothing refers to the others', async () => {
    expect(Object.keys(await keptFor())).toEqual(['ami-new']);
  });

  it('asks about live instances of the candidates only, 200 ids a call', async () => {
    const many = Array.from({ length: 400 }, (_, i) => image(`ami-${String(i).padStart(3, '0')}`, 500 - i));
    ec2.on(DescribeImagesCommand).resolves({ Images: many });
    const instances = [
      { InstanceId: 'i-1', ImageId: 'ami-007', State: { Name: 'stopped' as const } },
      { InstanceId: 'i-2', ImageId: 'ami-elsewhere', State: { Name: 'running' as const } },
    ];
    // As EC2 filters: only the instances of the images asked about.
    ec2.on(DescribeInstancesCommand).callsFake((input: { Filters?: { Values?: string[] }[] }) => ({
      Reservations: [{ Instances: instances.filter((i) => input.Filters?.[0]?.Values?.includes(i.ImageId)) }],
    }));

    const plan = await retentionPlan(deps(), pipeline);

    const calls = ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.Filters);
    expect(calls.map((filters) => filters?.[0]?.Values?.length)).toEqual([200, 200]);
    expect(calls[0]?.[0]?.Name).toBe('image-id');
    expect(calls[1]?.[0]?.Values?.[0]).toBe('ami-200');
    expect(calls[0]?.[1]).toEqual({
      Name: 'instance-state-name',
      Values: ['pending', 'running', 'stopping', 'stopped'],
    });
    expect(plan.keep.find((i) => i.imageId === 'ami-007')?.reasons).toEqual(['instance i-1 (stopped)']);
  });

  it('keeps what the SSM parameter names; a missing parameter names nothing; other SSM errors stop the run', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-old' } });
    expect((await keptFor())['ami-old']).toContain('SSM parameter /ami-bakery/app/latest');

    ssm
      .on(GetParameterCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(keptFor()).rejects.toThrow('slow down');
  });

  it('keeps the image of a template version a group, an override or an active refresh names, by id or by name', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        // A group naming no version adds none to ask for.
        { AutoScalingGroupName: 'plain', LaunchTemplate: { LaunchTemplateId: 'lt-a' } } as never,
        {
          AutoScalingGroupName: 'web',
          LaunchTemplate: { LaunchTemplateId: 'lt-a', Version: '3' },
          MixedInstancesPolicy: {
            LaunchTemplate: {
              LaunchTemplateSpecification: { LaunchTemplateName: 'tmpl-b', Version: '4' },
              Overrides: [{ LaunchTemplateSpecification: { LaunchTemplateId: 'lt-c', Version: '5' } }],
            },
          },
        } as never,
      ],
    });
    autoScaling.on(DescribeInstanceRefreshesCommand, { AutoScalingGroupName: 'web' }).resolves({
      InstanceRefreshes: [
        {
          InstanceRefreshId: 'r-on',
          Status: 'InProgress',
          DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: 'lt-a', Version: '6' } },
        },
        {
          InstanceRefreshId: 'r-off',
          Status: 'Successful',
          DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: 'lt-a', Version: '7' } },
        },
      ],
    });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({
      LaunchTemplates: [
        { LaunchTemplateId: 'lt-a', LaunchTemplateName: 'tmpl-a', LatestVersionNumber: 9 },
        { LaunchTemplateId: 'lt-b', LaunchTemplateName: 'tmpl-b', LatestVersionNumber: 4 },
        { LaunchTemplateId: 'lt-c', LaunchTemplateName: 'tmpl-c', LatestVersionNumber: 5 },
      ],
    });
    ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: 'lt-a' }).resolves({
      LaunchTemplateVersions: [
        { VersionNumber: 3, LaunchTemplateData: { ImageId: 'ami-old' } },
        { VersionNumber: 6, LaunchTemplateData: { ImageId: 'ami-mid' } },
        { VersionNumber: 9, DefaultVersion: true },
      ],
    });
    ec2
      .on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: 'lt-b' })
      .resolves({ LaunchTemplateVersions: [] });
    ec2
      .on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: 'lt-c' })
      .resolves({ LaunchTemplateVersions: [] });

    const kept = await keptFor();

    expect(kept['ami-old']).toContain('launch template tmpl-a v3 (version named by group web)');
    expect(kept['ami-mid']).toContain('launch template tmpl-a v6 (version named by refresh r-on)');
    const asked = ec2.commandCalls(DescribeLaunchTemplateVersionsCommand).map((c) => c.args[0].input);
    expect(asked).toEqual([
      { LaunchTemplateId: 'lt-a', Versions: ['$Default', '$Latest', '3', '6'] },
      { LaunchTemplateId: 'lt-b', Versions: ['$Default', '$Latest', '4'] },
      { LaunchTemplateId: 'lt-c', Versions: ['$Default', '$Latest', '5'] },
    ]);
    expect(autoScaling.commandCalls(DescribeInstanceRefreshesCommand)[1]?.args[0].input).toEqual({
      AutoScalingGroupName: 'web',
      MaxRecords: 5,
    });
  });

  it('says which alias a default or latest version answers to', async () => {
    ec2.on(DescribeLaunchTemplatesCommand).resolves({
      LaunchTemplates: [{ LaunchTemplateId: 'lt-a', LaunchTemplateName: 'tmpl-a', LatestVersionNumber: 2 }],
    });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [
        { VersionNumber: 1, DefaultVersion: true, LaunchTemplateData: { ImageId: 'ami-old' } },
        { VersionNumber: 2, LaunchTemplateData: { ImageId: 'ami-mid' } },
      ],
    });

    const kept = await keptFor();

    expect(kept['ami-old']).toContain('launch template tmpl-a v1 (default version)');
    expect(kept['ami-mid']).toContain('launch template tmpl-a v2 (latest version)');
  });

  it('reads the groups of every region, not only the home one', async () => {
    const distributed = { ...pipeline, distribute: { ...pipeline.distribute, regions: ['eu-west-1'] } };
    const regions: string[] = [];
    const seen = deps();
    ec2.on(DescribeImagesCommand).resolves({ Images: old });

    await retentionPlan(
      { ...seen, autoScalingIn: (region) => (regions.push(region), seen.autoScalingIn(region)) },
      distributed,
    );

    expect(regions).toEqual([HOME, 'eu-west-1']);
  });

  it('asks nothing about references when a region has no image', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });

    await retentionPlan(deps(), pipeline);

    expect(autoScaling.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(0);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
  });
});

describe('answers with their optional fields left out', () => {
  it('reads absent lists as empty and absent names as blank, in the plan, the run and the sweep', async () => {
    ec2.on(DescribeImagesCommand).resolves({
      Images: [{ State: 'available', Tags: [{ Key: 'ami-bakery:pipeline', Value: 'app' }] }],
    });
    autoScaling
      .on(DescribeAutoScalingGroupsCommand)
      .resolves({ AutoScalingGroups: [{ MixedInstancesPolicy: {} } as never] });
    autoScaling
      .on(DescribeInstanceRefreshesCommand)
      .resolves({ InstanceRefreshes: [{ Status: 'InProgress' }] });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: 'lt-a' }] });
    ec2
      .on(DescribeLaunchTemplateVersionsCommand)
      .resolves({ LaunchTemplateVersions: [{ LaunchTemplateData: {} }] });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{}, { Instances: [{}] }] });
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{}] });
    ssm.on(GetParameterCommand).resolves({});

    const plan = await retentionPlan(deps(), pipeline);
    const outcome = await applyRetention(deps(), pipeline, false);
    const leaked = await sweepLeakedBuilders(deps());

    expect([...plan.keep, ...plan.delete]).toEqual([
      expect.objectContaining({ imageId: '', name: '', createdAt: '', snapshots: [] }),
    ]);
    expect(outcome.snapshotsDeleted).toEqual([]);
    expect(leaked).toEqual([{ instanceId: '', why: 'no bake id tag' }]);
  });

  it('reads an answer with no lists at all as nothing found', async () => {
    ec2.on(DescribeImagesCommand).resolves({});
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({});
    ec2.on(DescribeInstancesCommand).resolves({});
    ec2.on(DescribeSnapshotsCommand).resolves({});

    expect(await retentionPlan(deps(), pipeline)).toMatchObject({ keep: [], delete: [] });
    expect((await applyRetention(deps(), pipeline, false)).snapshotsDeleted).toEqual([]);
    expect(await sweepLeakedBuilders(deps())).toEqual([]);
  });
});

describe('applyRetention', () => {
  const gone = (name: string) => Object.assign(new Error(name), { name });

  beforeEach(() => {
    ec2
      .on(DescribeImagesCommand, {
        Owners: ['self'],
        Filters: [{ Name: 'tag:ami-bakery:pipeline', Values: ['app'] }],
      })
      .resolves({
        Images: [image('ami-old', 30), image('ami-new', 1)],
      });
    ec2
      .on(DescribeImagesCommand, {
        Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: ['snap-ami-old'] }],
      })
      .resolves({ Images: [] });
  });

  it('in a dry run changes nothing', async () => {
    const outcome = await applyRetention(deps(), pipeline, true);

    expect(outcome).toMatchObject({ dryRun: true, deregistered: [], snapshotsDeleted: [], reclaimedGiB: 0 });
    expect(ec2.commandCalls(DeregisterImageCommand)).toHaveLength(0);
    expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(0);
  });

  it('tags the snapshots with the pipeline first, deregisters, deletes each unused snapshot and counts its GiB', async () => {
    const outcome = await applyRetention(deps(), pipeline, false);

    expect(ec2.commandCalls(CreateTagsCommand)[0]?.args[0].input).toEqual({
      Resources: ['snap-ami-old'],
      Tags: [
        { Key: 'ami-bakery:managed', Value: 'true' },
        { Key: 'ami-bakery:pipeline', Value: 'app' },
      ],
    });
    expect(ec2.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input)).toEqual([
      { ImageId: 'ami-old' },
    ]);
    expect(ec2.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input)).toEqual([
      { SnapshotId: 'snap-ami-old' },
    ]);
    expect(outcome).toMatchObject({
      deregistered: [{ imageId: 'ami-old', region: HOME }],
      snapshotsDeleted: ['snap-ami-old'],
      reclaimedGiB: 8,
    });
    const users = ec2
      .commandCalls(DescribeImagesCommand)
      .map((c) => c.args[0].input)
      .at(-1);
    expect(users).toEqual({
      Owners: ['self'],
      Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: ['snap-ami-old'] }],
    });
  });

  it('tags nothing for an image without snapshots', async () => {
    ec2
      .on(DescribeImagesCommand, {
        Owners: ['self'],
        Filters: [{ Name: 'tag:ami-bakery:pipeline', Values: ['app'] }],
      })
      .resolves({
        Images: [image('ami-old', 30, { BlockDeviceMappings: [] }), image('ami-new', 1)],
      });

    const outcome = await applyRetention(deps(), pipeline, false);

    expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(0);
    expect(outcome.deregistered).toHaveLength(1);
  });

  it('leaves a snapshot another image still uses', async () => {
    ec2
      .on(DescribeImagesCommand, {
        Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: ['snap-ami-old'] }],
      })
      .resolves({
        Images: [{ ImageId: 'ami-other', State: 'available' }],
      });

    const outcome = await applyRetention(deps(), pipeline, false);

    expect(ec2.commandCalls(DeleteSnapshotCommand)).toHaveLength(0);
    expect(outcome.snapshotsDeleted).toEqual([]);
  });

  it('deletes a snapshot whose other image is deregistered already', async () => {
    ec2
      .on(DescribeImagesCommand, {
        Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: ['snap-ami-old'] }],
      })
      .resolves({
        Images: [{ ImageId: 'ami-old', State: 'deregistered' }],
      });

    expect((await applyRetention(deps(), pipeline, false)).snapshotsDeleted).toEqual(['snap-ami-old']);
  });

  it.each(['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable', 'InvalidAMIID.Malformed'])(
    'counts an image already gone (%s) as deregistered',
    async (code) => {
      ec2.on(DeregisterImageCommand).rejects(gone(code));

      expect((await applyRetention(deps(), pipeline, false)).deregistered).toEqual([
        { imageId: 'ami-old', region: HOME },
      ]);
    },
  );

  it('stops at any other DeregisterImage error', async () => {
    ec2.on(DeregisterImageCommand).rejects(gone('UnauthorizedOperation'));

    await expect(applyRetention(deps(), pipeline, false)).rejects.toThrow('UnauthorizedOperation');
  });

  it.each([
    'InvalidSnapshot.NotFound',
    'InvalidSnapshot.Malformed',
    'InvalidSnapshotID.Malformed',
    'InvalidSnapshot.InUse',
  ])('does not count a snapshot it could not delete (%s)', async (code) => {
    ec2.on(DeleteSnapshotCommand).rejects(gone(code));

    const outcome = await applyRetention(deps(), pipeline, false);

    expect(outcome).toMatchObject({ snapshotsDeleted: [], reclaimedGiB: 0 });
  });

  it('stops at any other DeleteSnapshot error', async () => {
    ec2.on(DeleteSnapshotCommand).rejects(gone('RequestLimitExceeded'));

    await expect(applyRetention(deps(), pipeline, false)).rejects.toThrow('RequestLimitExceeded');
  });

  it('deletes the pipeline’s orphan snapshots (a run that died half-way), once, counting their GiB', async () => {
    ec2.on(DescribeSnapshotsCommand).resolves({
      Snapshots: [
        { SnapshotId: 'snap-ami-old', VolumeSize: 8 },
        { SnapshotId: 'snap-orphan', VolumeSize: 30 },
        { SnapshotId: 'snap-sized-unknown' },
      ],
    });
    ec2
      .on(DescribeImagesCommand, {
        Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: ['snap-orphan'] }],
      })
      .resolves({ Images: [] });
    ec2
      .on(DescribeImagesCommand, {
        Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: ['snap-sized-unknown'] }],
      })
      .resolves({ Images: [] });

    const outcome = await applyRetention(deps(), pipeline, false);

    expect(ec2.commandCalls(DescribeSnapshotsCommand)[0]?.args[0].input).toEqual({
      OwnerIds: ['self'],
      Filters: [{ Name: 'tag:ami-bakery:pipeline', Values: ['app'] }],
    });
    expect(outcome.snapshotsDeleted).toEqual(['snap-ami-old', 'snap-orphan', 'snap-sized-unknown']);
    expect(outcome.reclaimedGiB).toBe(38);
  });
});

describe('sweepLeakedBuilders', () => {
  const builder = (id: string, bakeId?: string) => ({
    InstanceId: id,
    State: { Name: 'running' as const },
    Tags: [
      { Key: 'ami-bakery:managed', Value: 'true' },
      { Key: 'ami-bakery:role', Value: 'builder' },
      { Key: 'ami-bakery:pipeline', Value: 'app' },
      ...(bakeId ? [{ Key: 'ami-bakery:bake-id', Value: bakeId }] : []),
    ],
  });
  const at = (minutesAgo: number) => new Date(NOW.getTime() - minutesAgo * 60_000).toISOString();

  it('asks for the service’s live builders and testers only', async () => {
    await sweepLeakedBuilders(deps());

    expect(ec2.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toMatchObject({
      Filters: [
        { Name: 'tag:ami-bakery:managed', Values: ['true'] },
        { Name: 'tag-key', Values: ['ami-bakery:role'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    });
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
  });

  it('terminates, with the reason, what has no bake id, a finished bake, an unknown one, or one past its deadline and grace', async () => {
    records = {
      done: { pipeline: 'app', phase: 'failed', phaseStartedAt: at(1) },
      late: { pipeline: 'app', phase: 'launching', phaseStartedAt: at(10 + 15 + 1) },
      lateUnknownPipeline: { pipeline: 'gone', phase: 'requested', phaseStartedAt: at(60 + 15 + 1) },
      inGrace: { pipeline: 'app', phase: 'launching', phaseStartedAt: at(10 + 14) },
      atTheLimit: { pipeline: 'app', phase: 'launching', phaseStartedAt: at(10 + 15) },
      fresh: { pipeline: 'gone', phase: 'requested', phaseStartedAt: at(60 + 14) },
    };
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            builder('i-untagged'),
            builder('i-done', 'done'),
            builder('i-unknown', 'nobody'),
            builder('i-late', 'late'),
            builder('i-late2', 'lateUnknownPipeline'),
            builder('i-grace', 'inGrace'),
            builder('i-limit', 'atTheLimit'),
            builder('i-fresh', 'fresh'),
          ],
        },
      ],
    });

    const leaked = await sweepLeakedBuilders(deps());

    expect(leaked).toEqual([
      { instanceId: 'i-untagged', pipeline: 'app', why: 'no bake id tag' },
      { instanceId: 'i-done', bakeId: 'done', pipeline: 'app', why: 'bake done is failed' },
      { instanceId: 'i-unknown', bakeId: 'nobody', pipeline: 'app', why: 'bake nobody is unknown' },
      {
        instanceId: 'i-late',
        bakeId: 'late',
        pipeline: 'app',
        why: 'bake late is past its launching deadline',
      },
      {
        instanceId: 'i-late2',
        bakeId: 'lateUnknownPipeline',
        pipeline: 'app',
        why: 'bake lateUnknownPipeline is past its requested deadline',
      },
    ]);
    expect(ec2.commandCalls(TerminateInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: ['i-untagged', 'i-done', 'i-unknown', 'i-late', 'i-late2'],
    });
  });

  it('stops when the store fails otherwise than not found', async () => {
    const failing = {
      ...deps(),
      store: { get: () => Promise.reject(new Error('table gone')) } as unknown as BakeStore,
    };
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [builder('i-1', 'b1')] }] });

    await expect(sweepLeakedBuilders(failing)).rejects.toThrow('table gone');
  });
});
