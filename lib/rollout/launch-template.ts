import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplateVersionsCommand,
  ModifyLaunchTemplateCommand,
  type CreateLaunchTemplateVersionCommandInput,
  type EC2Client,
} from '@aws-sdk/client-ec2';

/** Marks the versions ami-bakery creates, and says which bake made each. */
export function versionDescription(bakeId: string, imageId: string): string {
  return `ami-bakery ${bakeId}: ${imageId}`;
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

/** How many recent versions are searched for one an earlier attempt made. */
const RECENT = 20;

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
  const recent = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: request.templateId, MaxResults: RECENT }),
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

export interface PruneInput {
  /** Every version number of the template. */
  readonly versions: readonly number[];
  readonly defaultVersion: number;
  /** Versions a group, a mixed-instances override or an active instance refresh names. */
  readonly inUse: ReadonlySet<number>;
  /** How many of the newest versions to keep besides the protected ones. */
  readonly keep: number;
}

/**
 * The versions that may be deleted: everything but the newest `keep`, and never the default,
 * the latest, or one in use.
 */
export function versionsToPrune({ versions, defaultVersion, inUse, keep }: PruneInput): number[] {
  const newestFirst = [...new Set(versions)].sort((a, b) => b - a);
  const latest = newestFirst[0];
  const kept = new Set(newestFirst.slice(0, Math.max(0, keep)));
  return newestFirst
    .filter((v) => v !== latest && v !== defaultVersion && !inUse.has(v) && !kept.has(v))
    .sort((a, b) => a - b);
}
