/** Tags on every resource the service creates: IAM policies and the janitor key on them. */
export const TAG_MANAGED = 'ami-bakery:managed';
export const TAG_PIPELINE = 'ami-bakery:pipeline';
export const TAG_BAKE_ID = 'ami-bakery:bake-id';
export const TAG_ROLE = 'ami-bakery:role';
export const TAG_RECIPE = 'ami-bakery:recipe-hash';
export const TAG_STATUS = 'ami-bakery:status';

/** A tag's value in an AWS resource's tag list (EC2's `Tags`), if it has that tag. */
export function tagValue(
  tags: readonly { readonly Key?: string; readonly Value?: string }[] | undefined,
  key: string,
): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

export function serviceTags(pipeline: string, bakeId: string): { Key: string; Value: string }[] {
  return [
    { Key: TAG_MANAGED, Value: 'true' },
    { Key: TAG_PIPELINE, Value: pipeline },
    { Key: TAG_BAKE_ID, Value: bakeId },
  ];
}

/** SSM command comments carry the step they run, so a pass finds a command it sent but never recorded. */
export function commandComment(bakeId: string, stage: string, step: string): string {
  return `ami-bakery ${bakeId} ${stage}/${step}`;
}

export function parseCommandComment(
  comment: string | undefined,
): { bakeId: string; stage: string; step: string } | undefined {
  const match = /^ami-bakery (\S+) (provision|validate|test)\/(\S+)$/.exec(comment ?? '');
  return match ? { bakeId: match[1] ?? '', stage: match[2] ?? '', step: match[3] ?? '' } : undefined;
}
