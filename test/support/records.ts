import type { BakeRecord } from '../../lib/bake/model';

/**
 * A bake record for tests that build records by hand: a `requested` bake of `web` in us-east-1
 * with nothing done yet, and whatever the test sets. The timeline follows `phase` unless given.
 */
export function bakeRecord(patch: Partial<BakeRecord> = {}): BakeRecord {
  const phase = patch.phase ?? 'requested';
  const at = patch.createdAt ?? '2026-11-30T00:00:00.000Z';
  return {
    id: 'b20261130000000-aaaaaa',
    pipeline: 'web',
    phase,
    version: 1,
    createdAt: at,
    updatedAt: at,
    phaseStartedAt: at,
    region: 'us-east-1',
    baseImageId: 'ami-0123456789abcdef0',
    rootDeviceName: '/dev/xvda',
    recipeHash: 'h',
    steps: [],
    copies: [],
    published: [],
    cancelRequested: false,
    timeline: [{ phase, at }],
    resources: [],
    ...patch,
  };
}
