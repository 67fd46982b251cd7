import type { Pipeline } from '../pipeline/schema';
import { resolveBaseImage, type BaseImage } from './base-image';
import type { BakeRecord } from './model';
import { recipeHash } from './recipe';
import type { Bakery } from './service';

export type BakeDecision =
  | { readonly bake: true; readonly reason: string }
  | { readonly bake: false; readonly reason: string; readonly lastBakeId: string };

const DAY_MS = 86_400_000;

/**
 * Whether a pipeline needs a new image: when it never baked, when its base image or its recipe
 * changed since the last successful bake, or (when `maxAgeDays` is given) when that bake is too old.
 */
export function whetherToBake(input: {
  readonly baseImageId: string;
  readonly recipeHash: string;
  readonly last: BakeRecord | undefined;
  readonly now: Date;
  readonly maxAgeDays?: number;
}): BakeDecision {
  const { last } = input;
  if (!last) return { bake: true, reason: 'no successful bake yet' };
  if (last.baseImageId !== input.baseImageId)
    return { bake: true, reason: `base image changed: ${last.baseImageId} -> ${input.baseImageId}` };
  if (last.recipeHash !== input.recipeHash)
    return { bake: true, reason: `recipe changed since bake ${last.id}` };
  const ageDays = Math.floor((input.now.getTime() - Date.parse(last.createdAt)) / DAY_MS);
  if (input.maxAgeDays !== undefined && ageDays >= input.maxAgeDays)
    return { bake: true, reason: `last bake ${last.id} is ${ageDays} days old (max ${input.maxAgeDays})` };
  return {
    bake: false,
    reason: `base image and recipe unchanged since bake ${last.id} (${ageDays} days ago)`,
    lastBakeId: last.id,
  };
}

export interface BakePlan {
  readonly pipeline: Pipeline;
  readonly base: BaseImage;
  readonly recipeHash: string;
  readonly decision: BakeDecision;
}

/**
 * Resolves a pipeline's base image now and compares with its last successful bake.
 * @throws NotFoundError for an unknown pipeline or a base image that cannot be found.
 */
export async function planBake(
  bakery: Pick<Bakery, 'region' | 'ec2In' | 'ssmIn' | 'store' | 'catalog' | 'clock'>,
  pipelineName: string,
  { withMaxAge }: { readonly withMaxAge: boolean },
): Promise<BakePlan> {
  const pipeline = bakery.catalog.get(pipelineName);
  const base = await resolveBaseImage(pipeline, {
    ec2: bakery.ec2In(bakery.region),
    ssm: bakery.ssmIn(bakery.region),
  });
  const hash = recipeHash(pipeline, base.imageId);
  const decision = whetherToBake({
    baseImageId: base.imageId,
    recipeHash: hash,
    last: await bakery.store.lastSucceeded(pipeline.name),
    now: bakery.clock(),
    ...(withMaxAge ? { maxAgeDays: pipeline.schedule.maxAgeDays } : {}),
  });
  return { pipeline, base, recipeHash: hash, decision };
}
