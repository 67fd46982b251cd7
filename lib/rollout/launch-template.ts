import { forPaginator } from '../aws/paginate';
import { tagValue } from '../aws/tags';
import { ACTIVE_REFRESH } from './refresh-status';
import {
  DescribeInstanceRefreshesCommand,
  paginateDescribeAutoScalingGroups,
  type AutoScalingClient,
  type LaunchTemplateSpecification,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  DeleteLaunchTemplateVersionsCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  ModifyLaunchTemplateCommand,
  paginateDescribeInstances,
  paginateDescribeLaunchTemplateVersions,
  type CreateLaunchTemplateVersionCommandInput,
  type EC2Client,
} from '@aws-sdk/client-ec2';

/** Marks the versions ami-bakery creates, and says which bake made each. */
const DESCRIPTION_PREFIX = 'ami-bakery ';

export function versionDescription(bakeId: string, imageId: string): string {
  return `${DESCRIPTION_PREFIX}${bakeId}: ${imageId}`;
}

/**
 * The new version: a copy of the version the group uses with only the image changed, so user
 * data, profile, network and tags stay exactly as the fleet's owners set them.
 */
export function newVersionRequest(
  templateId: string,
  sourceVersion: number,
  imageId: string,
  bakeId: string,
): CreateLaunchTemplateVersionCommandInput {
  return {
    LaunchTemplateId: templateId,
    SourceVersion: String(sourceVersion),
    VersionDescription: versionDescription(bakeId, imageId),
    LaunchTemplateData: { ImageId: imageId },
    ClientToken: `${bakeId}-${templateId}`.slice(0, 64),
  };
}

export interface RolloutVersion {
  readonly templateId: string;
  readonly version: number;
  /** False when an earlier attempt of this bake had already made it. */
  readonly created: boolean;
}

/** How many versions after the source are searched for one an earlier attempt made. */
const RECENT = 200;

/**
 * Creates the bake's version of a launch template, once: a retried pass finds the version an
 * earlier attempt made (by its description) instead of adding another. Optionally makes it default.
 */
export async function ensureRolloutVersion(
  ec2: Pick<EC2Client, 'send'>,
  request: {
    templateId: string;
    sourceVersion: number;
    imageId: string;
    bakeId: string;
    makeDefault: boolean;
  },
): Promise<RolloutVersion> {
  const description = versionDescription(request.bakeId, request.imageId);
  // Any version this bake made is newer than the one it copies.
  const recent = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({
      LaunchTemplateId: request.templateId,
      MinVersion: String(request.sourceVersion + 1),
      MaxResults: RECENT,
    }),
  );
  const existing = recent.LaunchTemplateVersions?.find((v) => v.VersionDescription === description);
  let version = existing?.VersionNumber;
  if (version === undefined) {
    const created = await ec2.send(
      new CreateLaunchTemplateVersionCommand(
        newVersionRequest(request.templateId, request.sourceVersion, request.imageId, request.bakeId),
      ),
    );
    version = created.LaunchTemplateVersion?.VersionNumber;
    if (version === undefined)
      throw new Error(`CreateLaunchTemplateVersion returned no version for ${request.templateId}`);
  }
  if (request.makeDefault) {
    await ec2.send(
      new ModifyLaunchTemplateCommand({
        LaunchTemplateId: request.templateId,
        DefaultVersion: String(version),
      }),
    );
  }
  return { templateId: request.templateId, version, created: existing === undefined };
}

/**
 * Puts a template's default version back to `version`, only while the default is still
 * `replacing` (the version the bake made default): one somebody set since is left alone.
 * Retrying is harmless: once restored, the default no longer matches `replacing`.
 * @returns the template's default afterwards, and whether this call changed it.
 */
export async function restoreDefaultVersion(
  ec2: Pick<EC2Client, 'send'>,
  request: { templateId: string; version: number; replacing: number },
): Promise<{ defaultVersion?: number; restored: boolean }> {
  const described = await ec2.send(
    new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [request.templateId] }),
  );
  const current = described.LaunchTemplates?.[0]?.DefaultVersionNumber;
  if (current !== request.replacing) return { defaultVersion: current, restored: false };
  await ec2.send(
    new ModifyLaunchTemplateCommand({
      LaunchTemplateId: request.templateId,
      DefaultVersion: String(request.version),
    }),
  );
  return { defaultVersion: request.version, restored: true };
}

export interface PruneInput {
  /** Every version number of the template. */
  readonly versions: readonly number[];
  readonly defaultVersion: number;
  /** Versions a group, a mixed-instances override or an active instance refresh names. */
  readonly inUse: ReadonlySet<number>;
  /** How many of the newest versions to keep besides the protected ones. */
  readonly keep: number;
  /** When given, only these versions (the ones ami-bakery made) may go; `keep` counts among them. */
  readonly ours?: ReadonlySet<number>;
}

/**
 * The versions that may be deleted: everything but the newest `keep`, and never the default,
 * the latest, or one in use.
 */
export function versionsToPrune({ versions, defaultVersion, inUse, keep, ours }: PruneInput): number[] {
  const newestFirst = [...new Set(versions)].sort((a, b) => b - a);
  const latest = newestFirst[0];
  const candidates = ours ? newestFirst.filter((v) => ours.has(v)) : newestFirst;
  const kept = new Set(candidates.slice(0, Math.max(0, keep)));
  return candidates
    .filter((v) => v !== latest && v !== defaultVersion && !inUse.has(v) && !kept.has(v))
    .sort((a, b) => a - b);
}

/** Numeric versions a launch template specification names for `template` (aliases are protected anyway). */
function versionsNamed(
  spec: LaunchTemplateSpecification | undefined,
  template: { id: string; name: string },
): number[] {
  if (!spec) return [];
  const matches = spec.LaunchTemplateId === template.id || spec.LaunchTemplateName === template.name;
  const version = Number(spec.Version);
  return matches && Number.isInteger(version) ? [version] : [];
}

/**
 * Deletes the versions of a template that ami-bakery made beyond the newest `keep`, never the
 * default, the latest, one a group (or a mixed-instances override) names or a live instance was
 * launched from. While a group of the template is refreshing, nothing is deleted: a rollback
 * needs the version it returns to.
 * @returns the versions deleted.
 */
export async function pruneRolloutVersions(
  clients: {
    readonly ec2: Pick<EC2Client, 'send'>;
    readonly autoScaling: Pick<AutoScalingClient, 'send'>;
  },
  templateId: string,
  keep: number,
): Promise<number[]> {
  const { ec2, autoScaling } = clients;
  const described = await ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [templateId] }));
  const template = described.LaunchTemplates?.[0];
  if (template?.DefaultVersionNumber === undefined) return [];
  const identity = { id: templateId, name: template.LaunchTemplateName ?? '' };

  const versions: number[] = [];
  const ours = new Set<number>();
  for await (const page of paginateDescribeLaunchTemplateVersions(
    { client: forPaginator<EC2Client>(ec2) },
    { LaunchTemplateId: templateId, MaxResults: 200 },
  )) {
    for (const version of page.LaunchTemplateVersions ?? []) {
      if (version.VersionNumber === undefined) continue;
      versions.push(version.VersionNumber);
      if (version.VersionDescription?.startsWith(DESCRIPTION_PREFIX)) ours.add(version.VersionNumber);
    }
  }

  const inUse = new Set<number>();
  const groups: string[] = [];
  for await (const page of paginateDescribeAutoScalingGroups(
    { client: forPaginator<AutoScalingClient>(autoScaling) },
    {},
  )) {
    for (const group of page.AutoScalingGroups ?? []) {
      const mixed = group.MixedInstancesPolicy?.LaunchTemplate;
      const named = [
        ...versionsNamed(group.LaunchTemplate, identity),
        ...versionsNamed(mixed?.LaunchTemplateSpecification, identity),
        ...(mixed?.Overrides ?? []).flatMap((o) => versionsNamed(o.LaunchTemplateSpecification, identity)),
      ];
      const usesTemplate =
        named.length > 0 ||
        [group.LaunchTemplate, mixed?.LaunchTemplateSpecification].some(
          (spec) => spec?.LaunchTemplateId === templateId || spec?.LaunchTemplateName === identity.name,
        );
      for (const version of named) inUse.add(version);
      if (usesTemplate && group.AutoScalingGroupName) groups.push(group.AutoScalingGroupName);
    }
  }
  for (const group of groups) {
    const refreshes = await autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group, MaxRecords: 5 }),
    );
    if (refreshes.InstanceRefreshes?.some((r) => ACTIVE_REFRESH.has(r.Status ?? ''))) return [];
  }

  for await (const page of paginateDescribeInstances(
    { client: forPaginator<EC2Client>(ec2) },
    {
      Filters: [
        { Name: 'tag:aws:ec2launchtemplate:id', Values: [templateId] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    },
  )) {
    for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      const tag = tagValue(instance.Tags, 'aws:ec2launchtemplate:version');
      if (tag !== undefined && Number.isInteger(Number(tag))) inUse.add(Number(tag));
    }
  }

  const doomed = versionsToPrune({
    versions,
    defaultVersion: template.DefaultVersionNumber,
    inUse,
    keep,
    ours,
  });
  const deleted: number[] = [];
  // DeleteLaunchTemplateVersions takes at most 200 versions per call.
  for (let start = 0; start < doomed.length; start += 200) {
    const batch = doomed.slice(start, start + 200);
    const result = await ec2.send(
      new DeleteLaunchTemplateVersionsCommand({
        LaunchTemplateId: templateId,
        Versions: batch.map(String),
      }),
    );
    for (const ok of result.SuccessfullyDeletedLaunchTemplateVersions ?? []) {
      if (ok.VersionNumber !== undefined) deleted.push(ok.VersionNumber);
    }
  }
  return deleted;
}
