/** One of a pipeline's images in one region, as the janitor sees it. */
export interface RetainedImage {
  readonly imageId: string;
  readonly region: string;
  readonly name: string;
  readonly createdAt: string;
  readonly bakeId?: string;
  /** Marked failed (its bake did not succeed, or its rollout was rejected). */
  readonly failed: boolean;
  readonly snapshots: readonly { readonly snapshotId: string; readonly sizeGiB: number }[];
}

/** Why an image cannot go: the references found to it, by image id. */
export type References = ReadonlyMap<string, readonly string[]>;

export interface PlannedImage extends RetainedImage {
  /** Why it is kept (empty for an image to delete). */
  readonly reasons: readonly string[];
}

export interface RetentionPlan {
  readonly pipeline: string;
  readonly keep: readonly PlannedImage[];
  readonly delete: readonly PlannedImage[];
  readonly reclaimGiB: number;
}

const DAY_MS = 86_400_000;

/**
 * Which images of a pipeline to keep and which to delete, per region: the `keep` newest
 * successful ones, any younger than `minAgeDays`, any still referenced (launch templates, groups,
 * refreshes, instances, the SSM parameter), and the source of any copy that is kept.
 * Everything else goes, failed images first among them. Pure.
 */
export function planRetention(input: {
  readonly pipeline: string;
  readonly images: readonly RetainedImage[];
  readonly references: References;
  readonly now: Date;
  readonly keep: number;
  readonly minAgeDays: number;
  readonly homeRegion: string;
}): RetentionPlan {
  const reasons = new Map<string, string[]>(input.images.map((image) => [image.imageId, []]));
  const add = (imageId: string, reason: string) => reasons.get(imageId)?.push(reason);

  const regions = [...new Set(input.images.map((i) => i.region))];
  for (const region of regions) {
    const newestFirst = input.images
      .filter((i) => i.region === region && !i.failed)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    newestFirst.slice(0, input.keep).forEach((image, rank) => {
      add(image.imageId, `among the ${input.keep} newest successful images in ${region} (#${rank + 1})`);
    });
  }
  for (const image of input.images) {
    const ageDays = (input.now.getTime() - Date.parse(image.createdAt)) / DAY_MS;
    if (ageDays < input.minAgeDays) add(image.imageId, `younger than ${input.minAgeDays} days`);
    for (const reference of input.references.get(image.imageId) ?? []) add(image.imageId, reference);
  }
  // A copy that stays keeps its source in the home region.
  for (const copy of input.images.filter((i) => i.region !== input.homeRegion)) {
    if ((reasons.get(copy.imageId) ?? []).length === 0) continue;
    const source = input.images.find(
      (i) => i.region === input.homeRegion && i.bakeId !== undefined && i.bakeId === copy.bakeId,
    );
    if (source) add(source.imageId, `source of ${copy.imageId}, kept in ${copy.region}`);
  }

  const planned = input.images.map((image) => ({ ...image, reasons: reasons.get(image.imageId) ?? [] }));
  const doomed = planned.filter((image) => image.reasons.length === 0);
  return {
    pipeline: input.pipeline,
    keep: planned.filter((image) => image.reasons.length > 0),
    delete: doomed,
    reclaimGiB: doomed.reduce((sum, image) => sum + image.snapshots.reduce((n, s) => n + s.sizeGiB, 0), 0),
  };
}
