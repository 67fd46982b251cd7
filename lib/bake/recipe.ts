import { createHash } from 'node:crypto';
import type { Pipeline } from '../pipeline/schema';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

/**
 * A hash of everything that determines the image: the base AMI, every step, the builder's
 * instance type and volume, the test stage and the image tags. Two bakes with the same hash
 * produce the same image; the nightly schedule re-bakes only when it changes.
 */
export function recipeHash(pipeline: Pipeline, baseImageId: string): string {
  const recipe = {
    baseImageId,
    provision: pipeline.provision,
    validate: pipeline.validate,
    test: pipeline.test,
    instanceType: pipeline.builder.instanceTypes[0],
    rootVolume: pipeline.builder.rootVolume,
    imageTags: pipeline.image.tags,
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(recipe)))
    .digest('hex');
}
