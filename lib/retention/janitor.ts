import { forPaginator } from '../aws/paginate';
import {
  DescribeInstanceRefreshesCommand,
  paginateDescribeAutoScalingGroups,
  type AutoScalingClient,
  type LaunchTemplateSpecification,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSnapshotsCommand,
  paginateDescribeInstances,
  paginateDescribeLaunchTemplates,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { isTerminal } from '../bake/model';
import type { Bakery } from '../bake/service';
import { TAG_BAKE_ID, TAG_MANAGED, TAG_PIPELINE, TAG_ROLE, TAG_STATUS, tagValue } from '../aws/tags';
import { deadlineOf, type Pipeline } from '../pipeline/schema';
import { isAwsError, NotFoundError } from '../errors';
import { ACTIVE_REFRESH } from '../rollout/refresh-status';
import { planRetention, type RetainedImage, type RetentionPlan } from './plan';

/** What retention reads and changes: AWS in the home region, the bake records, the pipelines, a clock. */
export type RetentionDeps = Pick<
  Bakery,
  'region' | 'ec2In' | 'ssmIn' | 'autoScalingIn' | 'store' | 'catalog' | 'clock'
>;

const LIVE = ['pending', 'running', 'stopping', 'stopped'];

/** The pipeline's images in a region: every image tagged with its name, owned by this account. */
async function imagesIn(
  ec2: Pick<EC2Client, 'send'>,
  region: string,
  pipeline: string,
): Promise<RetainedImage[]> {
  const found = await ec2.send(
    new DescribeImagesCommand({
      Owners: ['self'],
      Filters: [{ Name: `tag:${TAG_PIPELINE}`, Values: [pipeline] }],
    }),
  );
  return (found.Images ?? [])
    .filter((image) => image.State !== 'deregistered')
    .map((image) => {
      const tag = (key: string) => tagValue(image.Tags, key);
      const bakeId = tag(TAG_BAKE_ID);
      return {
        imageId: image.ImageId ?? '',
        region,
        name: image.Name ?? '',
        createdAt: image.CreationDate ?? '',
        ...(bakeId ? { bakeId } : {}),
        failed: tag(TAG_STATUS) === 'failed' || image.State === 'failed',
        snapshots: (image.BlockDeviceMappings ?? []).flatMap((m) =>
          m.Ebs?.SnapshotId ? [{ snapshotId: m.Ebs.SnapshotId, sizeGiB: m.Ebs.VolumeSize ?? 0 }] : [],
        ),
      };
    });
}

function numbered(spec: LaunchTemplateSpecification | undefined): {
  id?: string;
  name?: string;
  version?: string;
} {
  return { id: spec?.LaunchTemplateId, name: spec?.LaunchTemplateName, version: spec?.Version };
}

/**
 * What refers to which of `candidates` in a region: launch template versions that are default,
 * latest, or named by a group, a mixed-instances override or an active refresh; live instances;
 * the pipeline's SSM parameter. Groups and refreshes are read in each region: a rollout may target
 * groups in any region the pipeline distributes to.
 */
async function referencesIn(
  bakery: RetentionDeps,
  region: string,
  pipeline: Pipeline,
  candidates: readonly string[],
): Promise<Map<string, string[]>> {
  const references = new Map<string, string[]>();
  if (candidates.length === 0) return references;
  const wanted = new Set(candidates);
  const add = (imageId: string | undefined, reason: string) => {
    // Stryker disable next-line ConditionalExpression,LogicalOperator: a reference to another image is never read (the plan asks about its candidates only).
    if (!imageId || !wanted.has(imageId)) return;
    references.set(imageId, [...(references.get(imageId) ?? []), reason]);
  };
  const ec2 = bakery.ec2In(region);

  // Versions groups, overrides and active refreshes name, by template id or name.
  const named: { template: { id?: string; name?: string; version?: string }; why: string }[] = [];
  const autoScaling = bakery.autoScalingIn(region);
  for await (const page of paginateDescribeAutoScalingGroups(
    { client: forPaginator<AutoScalingClient>(autoScaling) },
    {},
  )) {
    for (const group of page.AutoScalingGroups ?? []) {
      const mixed = group.MixedInstancesPolicy?.LaunchTemplate;
      const why = `group ${group.AutoScalingGroupName ?? ''}`;
      named.push({ template: numbered(group.LaunchTemplate), why });
      named.push({ template: numbered(mixed?.LaunchTemplateSpecification), why });
      // Stryker disable next-line ArrayDeclaration: an override without a specification names no template.
      for (const o of mixed?.Overrides ?? [])
        named.push({ template: numbered(o.LaunchTemplateSpecification), why: `${why} (override)` });
      const refreshes = await autoScaling.send(
        new DescribeInstanceRefreshesCommand({
          AutoScalingGroupName: group.AutoScalingGroupName,
          MaxRecords: 5,
        }),
      );
      for (const refresh of refreshes.InstanceRefreshes ?? []) {
        if (!ACTIVE_REFRESH.has(refresh.Status ?? '')) continue;
        named.push({
          template: numbered(refresh.DesiredConfiguration?.LaunchTemplate),
          why: `refresh ${refresh.InstanceRefreshId ?? ''}`,
        });
      }
    }
  }
  for await (const page of paginateDescribeLaunchTemplates({ client: forPaginator<EC2Client>(ec2) }, {})) {
    for (const template of page.LaunchTemplates ?? []) {
      const mine = named.filter(
        (n) => n.template.id === template.LaunchTemplateId || n.template.name === template.LaunchTemplateName,
      );
      const versions = new Map<string, string>([
        ['$Default', 'default version'],
        ['$Latest', 'latest version'],
        ...mine
          .filter((n) => n.template.version)
          .map((n) => [n.template.version ?? '', `version named by ${n.why}`] as [string, string]),
      ]);
      const described = await ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateId: template.LaunchTemplateId,
          Versions: [...versions.keys()],
        }),
      );
      // `$Latest` and a group's "3" may be the same version: each version is one reason.
      const seen = new Set<number | undefined>();
      for (const version of described.LaunchTemplateVersions ?? []) {
        if (seen.has(version.VersionNumber)) continue;
        seen.add(version.VersionNumber);
        const whys = [...versions.entries()]
          .filter(
            ([v]) =>
              v === String(version.VersionNumber) ||
              (v === '$Default' && version.DefaultVersion === true) ||
              (v === '$Latest' && version.VersionNumber === template.LatestVersionNumber),
          )
          .map(([, why]) => why);
        add(
          version.LaunchTemplateData?.ImageId,
          `launch template ${template.LaunchTemplateName ?? template.LaunchTemplateId ?? ''} v${version.VersionNumber ?? '?'} (${whys.join(', ') || 'in use'})`,
        );
      }
    }
  }
  for (let start = 0; start < candidates.length; start += 200) {
    for await (const page of paginateDescribeInstances(
      { client: forPaginator<EC2Client>(ec2) },
      {
        Filters: [
          { Name: 'image-id', Values: candidates.slice(start, start + 200) },
          { Name: 'instance-state-name', Values: LIVE },
        ],
      },
    )) {
      for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        add(instance.ImageId, `instance ${instance.InstanceId ?? ''} (${instance.State?.Name ?? ''})`);
      }
    }
  }
  try {
    const parameter = await bakery
      .ssmIn(region)
      .send(new GetParameterCommand({ Name: pipeline.publish.parameter }));
    add(parameter.Parameter?.Value, `SSM parameter ${pipeline.publish.parameter}`);
  } catch (error) {
    if (!isAwsError(error, 'ParameterNotFound')) throw error;
  }
  return references;
}

/** The retention plan of a pipeline across its regions, read from AWS now. */
export async function retentionPlan(bakery: RetentionDeps, pipeline: Pipeline): Promise<RetentionPlan> {
  const regions = [bakery.region, ...pipeline.distribute.regions.filter((r) => r !== bakery.region)];
  const images: RetainedImage[] = [];
  const references = new Map<string, readonly string[]>();
  for (const region of regions) {
    const found = await imagesIn(bakery.ec2In(region), region, pipeline.name);
    images.push(...found);
    for (const [id, why] of await referencesIn(
      bakery,
      region,
      pipeline,
      found.map((i) => i.imageId),
    ))
      references.set(id, why);
  }
  return planRetention({
    pipeline: pipeline.name,
    images,
    references,
    now: bakery.clock(),
    keep: pipeline.retention.keep,
    minAgeDays: pipeline.retention.minAgeDays,
    homeRegion: bakery.region,
  });
}

export interface RetentionOutcome {
  readonly plan: RetentionPlan;
  readonly dryRun: boolean;
  readonly deregistered: readonly { readonly imageId: string; readonly region: string }[];
  readonly snapshotsDeleted: readonly string[];
  readonly reclaimedGiB: number;
}

/** The image or snapshot is already gone, or its id names none (EC2's documented error codes). */
const isGone = (error: unknown) =>
  isAwsError(
    error,
    'InvalidAMIID.NotFound',
    'InvalidAMIID.Unavailable',
    'InvalidAMIID.Malformed',
    'InvalidSnapshot.NotFound',
    'InvalidSnapshot.Malformed',
    'InvalidSnapshotID.Malformed',
  );

/** Deletes a snapshot no image uses any more; false when one still does. */
async function deleteIfUnused(ec2: Pick<EC2Client, 'send'>, snapshotId: string): Promise<boolean> {
  const users = await ec2.send(
    new DescribeImagesCommand({
      Owners: ['self'],
      Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: [snapshotId] }],
    }),
  );
  if ((users.Images ?? []).some((image) => image.State !== 'deregistered')) return false;
  try {
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
    return true;
  } catch (error) {
    if (isGone(error)) return false;
    if (isAwsError(error, 'InvalidSnapshot.InUse')) return false;
    throw error;
  }
}

/**
 * Applies a pipeline's retention: deregisters the images the plan lets go, then every snapshot
 * of theirs no other image uses. Snapshots are tagged with the pipeline first, so one left behind
 * by a run that died half-way is found (and deleted) by the next run.
 */
export async function applyRetention(
  bakery: RetentionDeps,
  pipeline: Pipeline,
  dryRun: boolean,
): Promise<RetentionOutcome> {
  const plan = await retentionPlan(bakery, pipeline);
  const deregistered: { imageId: string; region: string }[] = [];
  const snapshotsDeleted: string[] = [];
  let reclaimedGiB = 0;
  if (!dryRun) {
    for (const image of plan.delete) {
      const ec2 = bakery.ec2In(image.region);
      const snapshotIds = image.snapshots.map((s) => s.snapshotId);
      if (snapshotIds.length > 0) {
        await ec2.send(
          new CreateTagsCommand({
            Resources: snapshotIds,
            Tags: [
              { Key: TAG_MANAGED, Value: 'true' },
              { Key: TAG_PIPELINE, Value: pipeline.name },
            ],
          }),
        );
      }
      try {
        await ec2.send(new DeregisterImageCommand({ ImageId: image.imageId }));
      } catch (error) {
        if (!isGone(error)) throw error;
      }
      deregistered.push({ imageId: image.imageId, region: image.region });
      for (const snapshot of image.snapshots) {
        if (await deleteIfUnused(ec2, snapshot.snapshotId)) {
          snapshotsDeleted.push(snapshot.snapshotId);
          reclaimedGiB += snapshot.sizeGiB;
        }
      }
    }
    // Snapshots of the pipeline no image uses: left by a run that died between the two steps.
    for (const region of new Set([bakery.region, ...pipeline.distribute.regions])) {
      const ec2 = bakery.ec2In(region);
      const orphans = await ec2.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ['self'],
          Filters: [{ Name: `tag:${TAG_PIPELINE}`, Values: [pipeline.name] }],
        }),
      );
      for (const snapshot of orphans.Snapshots ?? []) {
        const id = snapshot.SnapshotId ?? '';
        if (snapshotsDeleted.includes(id)) continue;
        // A snapshot of an image being created is already mapped by that (pending) image: safe.
        if (await deleteIfUnused(ec2, id)) {
          snapshotsDeleted.push(id);
          reclaimedGiB += snapshot.VolumeSize ?? 0;
        }
      }
    }
  }
  return { plan, dryRun, deregistered, snapshotsDeleted, reclaimedGiB };
}

export interface LeakedBuilder {
  readonly instanceId: string;
  readonly pipeline?: string;
  readonly bakeId?: string;
  readonly why: string;
}

/** Grace past a phase's deadline before an instance counts as leaked (its bake may be failing it). */
const GRACE_MS = 15 * 60_000;

/**
 * Terminates builder and test instances whose bake is finished, unknown, or past its phase
 * deadline: a bake's own terminal pass terminates them, so any found here leaked.
 */
export async function sweepLeakedBuilders(bakery: RetentionDeps): Promise<LeakedBuilder[]> {
  const ec2 = bakery.ec2In(bakery.region);
  const leaked: LeakedBuilder[] = [];
  for await (const page of paginateDescribeInstances(
    { client: forPaginator<EC2Client>(ec2) },
    {
      Filters: [
        { Name: `tag:${TAG_MANAGED}`, Values: ['true'] },
        { Name: 'tag-key', Values: [TAG_ROLE] },
        { Name: 'instance-state-name', Values: LIVE },
      ],
    },
  )) {
    for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      const bakeId = tagValue(instance.Tags, TAG_BAKE_ID);
      const pipelineName = tagValue(instance.Tags, TAG_PIPELINE);
      const id = instance.InstanceId ?? '';
      let why: string | undefined;
      if (!bakeId) why = 'no bake id tag';
      else {
        try {
          const { bake } = await bakery.store.get(bakeId);
          const pipeline = bakery.catalog.has(bake.pipeline) ? bakery.catalog.get(bake.pipeline) : undefined;
          // A phase with no deadline (requested: its pass may have launched, then died) gets an hour.
          const allowed = deadlineOf(pipeline, bake.phase) ?? 3_600;
          if (isTerminal(bake.phase)) why = `bake ${bakeId} is ${bake.phase}`;
          else if (bakery.clock().getTime() - Date.parse(bake.phaseStartedAt) > allowed * 1000 + GRACE_MS)
            why = `bake ${bakeId} is past its ${bake.phase} deadline`;
        } catch (error) {
          if (!(error instanceof NotFoundError)) throw error;
          why = `bake ${bakeId} is unknown`;
        }
      }
      if (why)
        leaked.push({
          instanceId: id,
          ...(bakeId ? { bakeId } : {}),
          ...(pipelineName ? { pipeline: pipelineName } : {}),
          why,
        });
    }
  }
  if (leaked.length > 0) {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: leaked.map((l) => l.instanceId) }));
  }
  return leaked;
}
