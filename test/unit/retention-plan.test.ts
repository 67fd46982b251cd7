import { describe, expect, it } from 'vitest';
import { planRetention, type RetainedImage } from '../../lib/retention/plan';

const NOW = new Date('2026-11-30T00:00:00Z');
const HOME = 'us-east-1';

/** An image made `daysAgo` days before NOW, by bake `bakeId`. */
function image(imageId: string, daysAgo: number, patch: Partial<RetainedImage> = {}): RetainedImage {
  return {
    imageId,
    region: HOME,
    name: imageId,
    createdAt: new Date(NOW.getTime() - daysAgo * 86_400_000).toISOString(),
    bakeId: `bake-${imageId}`,
    failed: false,
    snapshots: [{ snapshotId: `snap-${imageId}`, sizeGiB: 8 }],
    ...patch,
  };
}

function plan(
  images: RetainedImage[],
  options: { keep?: number; minAgeDays?: number; references?: [string, string[]][] } = {},
) {
  const result = planRetention({
    pipeline: 'web',
    images,
    references: new Map(options.references ?? []),
    now: NOW,
    keep: options.keep ?? 1,
    minAgeDays: options.minAgeDays ?? 0,
    homeRegion: HOME,
  });
  return {
    keep: result.keep.map((i) => i.imageId).sort(),
    delete: result.delete.map((i) => i.imageId).sort(),
    reasons: Object.fromEntries(result.keep.map((i) => [i.imageId, i.reasons])),
    reclaimGiB: result.reclaimGiB,
  };
}

describe('planRetention', () => {
  it.each<[string, RetainedImage[], Parameters<typeof plan>[1], string[], string[]]>([
    [
      'keep 1: the newest successful image stays, a newer failed one does not count and goes',
      [image('ami-failed', 1, { failed: true }), image('ami-good', 5), image('ami-old', 10)],
      { keep: 1 },
      ['ami-good'],
      ['ami-failed', 'ami-old'],
    ],
    [
      'keep 2 counts successful images only',
      [image('ami-a', 1), image('ami-f', 2, { failed: true }), image('ami-b', 3), image('ami-c', 4)],
      { keep: 2 },
      ['ami-a', 'ami-b'],
      ['ami-c', 'ami-f'],
    ],
    [
      'keep 0 keeps nothing for being new',
      [image('ami-a', 1), image('ami-b', 2)],
      { keep: 0 },
      [],
      ['ami-a', 'ami-b'],
    ],
    [
      'younger than the minimum age stays, even failed',
      [image('ami-a', 1), image('ami-f', 0.5, { failed: true }), image('ami-b', 3)],
      { keep: 1, minAgeDays: 2 },
      ['ami-a', 'ami-f'],
      ['ami-b'],
    ],
    [
      'exactly the minimum age may go',
      [image('ami-a', 1), image('ami-b', 2)],
      { keep: 1, minAgeDays: 2 },
      ['ami-a'],
      ['ami-b'],
    ],
    [
      'a referenced image stays, failed or old',
      [image('ami-a', 1), image('ami-used', 30), image('ami-f', 20, { failed: true })],
      {
        keep: 1,
        references: [
          ['ami-used', ['launch template lt-1 version 3']],
          ['ami-f', ['instance i-1']],
        ],
      },
      ['ami-a', 'ami-f', 'ami-used'],
      [],
    ],
    [
      'each region counts its own newest',
      [
        image('ami-h1', 1),
        image('ami-h2', 2),
        image('ami-e1', 1, { region: 'eu-west-1' }),
        image('ami-e2', 2, { region: 'eu-west-1' }),
      ],
      { keep: 1 },
      ['ami-e1', 'ami-h1'],
      ['ami-e2', 'ami-h2'],
    ],
    [
      'a copy that stays keeps its source in the home region',
      [
        image('ami-h1', 1),
        image('ami-h2', 9, { bakeId: 'bake-2' }),
        image('ami-e2', 9, { region: 'eu-west-1', bakeId: 'bake-2' }),
      ],
      { keep: 1, references: [['ami-e2', ['instance i-9']]] },
      ['ami-e2', 'ami-h1', 'ami-h2'],
      [],
    ],
    [
      'a copy that goes does not keep its source',
      [
        image('ami-h1', 1),
        image('ami-h2', 9, { bakeId: 'bake-2' }),
        image('ami-e1', 1, { region: 'eu-west-1' }),
        image('ami-e2', 9, { region: 'eu-west-1', bakeId: 'bake-2' }),
      ],
      { keep: 1 },
      ['ami-e1', 'ami-h1'],
      ['ami-e2', 'ami-h2'],
    ],
    [
      'an image without a bake id is never taken for a copy source',
      [
        image('ami-h1', 1),
        image('ami-h2', 9, { bakeId: undefined }),
        image('ami-e2', 9, { region: 'eu-west-1', bakeId: undefined }),
      ],
      { keep: 1, references: [['ami-e2', ['instance i-9']]] },
      ['ami-e2', 'ami-h1'],
      ['ami-h2'],
    ],
  ])('%s', (_, images, options, kept, deleted) => {
    const result = plan(images, options);

    expect(result.keep).toEqual(kept);
    expect(result.delete).toEqual(deleted);
  });

  it('says why each image stays, and sums the snapshots it reclaims', () => {
    const result = plan(
      [
        image('ami-new', 1),
        image('ami-young', 0.5, { failed: true }),
        image('ami-used', 30),
        image('ami-big', 40, {
          snapshots: [
            { snapshotId: 's1', sizeGiB: 30 },
            { snapshotId: 's2', sizeGiB: 12 },
          ],
        }),
        image('ami-old', 50),
      ],
      { keep: 1, minAgeDays: 1, references: [['ami-used', ['SSM parameter /ami-bakery/web/latest']]] },
    );

    expect(result.reasons).toEqual({
      'ami-new': [`among the 1 newest successful images in ${HOME} (#1)`],
      'ami-young': ['younger than 1 days'],
      'ami-used': ['SSM parameter /ami-bakery/web/latest'],
    });
    expect(result.delete).toEqual(['ami-big', 'ami-old']);
    expect(result.reclaimGiB).toBe(50);
  });

  it('ranks the newest first', () => {
    const result = plan([image('ami-c', 3), image('ami-a', 1), image('ami-b', 2)], { keep: 2 });

    expect(result.reasons).toEqual({
      'ami-a': [`among the 2 newest successful images in ${HOME} (#1)`],
      'ami-b': [`among the 2 newest successful images in ${HOME} (#2)`],
    });
  });
});
