import { describe, expect, it } from 'vitest';
import { describeBake, type Bake } from '../../cli/format';

const cancelled: Bake = {
  id: 'b20261130000000-aaaaaa',
  kind: 'bake',
  pipeline: 'web',
  phase: 'cancelled',
  version: 9,
  createdAt: '2026-11-30T00:00:00Z',
  updatedAt: '2026-11-30T00:10:00Z',
  phaseStartedAt: '2026-11-30T00:10:00Z',
  region: 'us-east-1',
  baseImageId: 'ami-base',
  recipeHash: 'h',
  steps: [],
  copies: [],
  published: [],
  cancelRequested: true,
  timeline: [],
  resources: [],
  rollout: [
    {
      group: 'web-fleet',
      status: 'cancelled',
      reason: 'The bake was cancelled',
      percentage: 50,
      ended: {
        groupVersion: '$Default',
        instances: [
          { version: '1', count: 1 },
          { version: '2', count: 1 },
        ],
        defaultVersion: 1,
        defaultRestoredFrom: 2,
      },
    },
  ],
};

describe('describeBake', () => {
  it('says where a cancelled rollout left each group', () => {
    expect(describeBake(cancelled).slice(1)).toEqual([
      '  rollout   web-fleet: cancelled 50% (The bake was cancelled)',
      '            group names $Default; instances v1 x1, v2 x1; default 1 (put back from 2)',
    ]);
  });

  it('says why a default was not put back', () => {
    const refused: Bake = {
      ...cancelled,
      rollout: [
        {
          group: 'web-fleet',
          status: 'cancelled',
          ended: {
            groupVersion: '1',
            instances: [],
            defaultVersion: 2,
            defaultProblem: 'UnauthorizedOperation: no',
          },
        },
      ],
    };

    expect(describeBake(refused)[2]).toBe(
      '            group names 1; instances none; default 2 (not put back: UnauthorizedOperation: no)',
    );
  });
});
