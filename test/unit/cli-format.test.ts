import { describe, expect, it } from 'vitest';
import { ago, describeBake, listLines, type Bake } from '../../cli/format';
import { closest } from '../../cli/main';

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
  durations: [],
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

  it('names a group’s account and region when not the bake’s, and the version it moves to', () => {
    const estate: Bake = {
      ...cancelled,
      phase: 'refreshing',
      rollout: [
        {
          group: 'web',
          account: '222233334444',
          region: 'eu-west-1',
          version: 7,
          status: 'refreshing',
          percentage: 40,
        },
        { group: 'api', region: 'eu-west-1', status: 'pending' },
        { group: 'home', version: 3, status: 'succeeded' },
      ],
    };

    expect(describeBake(estate).slice(1)).toEqual([
      '  rollout   web (account 222233334444, eu-west-1) v7: refreshing 40%',
      '  rollout   api (eu-west-1): pending',
      '  rollout   home v3: succeeded',
    ]);
  });

  it('shows each wave with its groups under it', () => {
    const staged: Bake = {
      ...cancelled,
      phase: 'refreshing',
      waves: [
        { name: 'canary', status: 'succeeded', approval: { decision: 'approved', at: 'x', by: 'ann' } },
        { name: 'fleet', status: 'baking' },
      ],
      rollout: [
        { group: 'web-canary', wave: 0, status: 'succeeded', percentage: 100 },
        { group: 'web-a', wave: 1, status: 'refreshing', percentage: 100, baking: true },
      ],
    };

    expect(describeBake(staged).slice(1)).toEqual([
      '  wave      1 canary: succeeded, approved by ann',
      '    rollout web-canary: succeeded 100%',
      '  wave      2 fleet: baking',
      '    rollout web-a: refreshing 100% baking',
    ]);
  });

  it.each<[string, Bake['cleanup'], string]>([
    [
      'still watching',
      { instances: [{ instanceId: 'i-1', role: 'builder', state: 'shutting-down' }] },
      'builder i-1 shutting-down (watching)',
    ],
    [
      'confirmed',
      { instances: [{ instanceId: 'i-1', role: 'builder', state: 'terminated' }], confirmedAt: 'x' },
      'builder i-1 terminated (confirmed)',
    ],
    [
      'given up',
      { instances: [{ instanceId: 'i-1', role: 'builder', state: 'shutting-down' }], gaveUpAt: 'x' },
      'builder i-1 shutting-down (not confirmed; left to the janitor)',
    ],
    ['no instance', { instances: [], confirmedAt: 'x' }, 'no instances (confirmed)'],
  ])('says what became of the instances: %s', (_, cleanup, line) => {
    expect(describeBake({ ...cancelled, cleanup }).at(-1)).toBe(`  cleanup   ${line}`);
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

describe('listLines', () => {
  it('is a table with a header, the kind and the age of each bake', () => {
    const now = Date.parse('2026-11-30T01:00:00Z');
    const rollout: Bake = {
      ...cancelled,
      id: 'b20261130005800-bbbbbb',
      kind: 'rollout',
      createdAt: '2026-11-30T00:58:00Z',
    };

    expect(listLines([cancelled, rollout], now)).toEqual([
      'ID                      KIND     PIPELINE  PHASE      STARTED  IMAGE',
      'b20261130000000-aaaaaa  bake     web       cancelled  1h ago   -',
      'b20261130005800-bbbbbb  rollout  web       cancelled  2m ago   -',
    ]);
  });

  it('says so when there is nothing', () => {
    expect(listLines([])).toEqual(['no bakes']);
  });
});

describe('ago', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');

  it.each([
    ['2026-11-30T11:59:30Z', '30s ago'],
    ['2026-11-30T11:59:00Z', '1m ago'],
    ['2026-11-30T11:00:00Z', '1h ago'],
    ['2026-11-29T11:00:00Z', '1d ago'],
    ['2026-11-30T12:00:05Z', '0s ago'],
  ])('%s is %s', (iso, text) => {
    expect(ago(iso, now)).toBe(text);
  });
});

describe('closest', () => {
  it.each([
    ['stauts', 'status'],
    ['bak', 'bake'],
    ['rollot', 'rollout'],
    ['frobnicate', undefined],
  ])('%s means %s', (typo, meant) => {
    expect(closest(typo, ['bake', 'status', 'rollout', 'list'])).toBe(meant);
  });
});
