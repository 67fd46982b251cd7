import { describe, expect, it } from 'vitest';
import type { BakeRecord } from '../../lib/bake/model';
import { whetherToBake } from '../../lib/bake/plan';

const NOW = new Date('2026-11-22T03:00:00.000Z');
const last = (daysAgo: number, patch: Partial<BakeRecord> = {}) =>
  ({
    id: 'b-last',
    baseImageId: 'ami-base',
    recipeHash: 'hash',
    createdAt: new Date(NOW.getTime() - daysAgo * 86_400_000).toISOString(),
    ...patch,
  }) as BakeRecord;

describe('whetherToBake (nightly and POST /bakes without force)', () => {
  it.each<[string, BakeRecord | undefined, string, string, number | undefined, boolean, RegExp]>([
    ['never baked', undefined, 'ami-base', 'hash', 30, true, /no successful bake yet/],
    [
      'base image changed',
      last(1),
      'ami-newer',
      'other',
      30,
      true,
      /base image changed: ami-base -> ami-newer/,
    ],
    ['recipe changed', last(1), 'ami-base', 'other', 30, true, /recipe changed since bake b-last/],
    ['too old', last(30), 'ami-base', 'hash', 30, true, /30 days old \(max 30\)/],
    [
      'unchanged and fresh',
      last(29),
      'ami-base',
      'hash',
      30,
      false,
      /unchanged since bake b-last \(29 days ago\)/,
    ],
    ['unchanged, age not considered', last(400), 'ami-base', 'hash', undefined, false, /unchanged/],
  ])('%s', (_, previous, baseImageId, recipeHash, maxAgeDays, bake, reason) => {
    const decision = whetherToBake({
      baseImageId,
      recipeHash,
      last: previous,
      now: NOW,
      ...(maxAgeDays !== undefined ? { maxAgeDays } : {}),
    });

    expect(decision.bake).toBe(bake);
    expect(decision.reason).toMatch(reason);
  });
});
