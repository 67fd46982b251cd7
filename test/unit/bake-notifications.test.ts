import { describe, expect, it } from 'vitest';
import { notificationsFor } from '../../lib/bake/notifications';
import type { BakeRecord, Phase, RolloutTarget } from '../../lib/bake/model';

const T0 = '2026-11-30T00:00:00.000Z';
const T1 = '2026-11-30T00:05:00.000Z';

function bake(phases: Phase[], patch: Partial<BakeRecord> = {}): BakeRecord {
  const phase = phases.at(-1) ?? 'requested';
  return {
    id: 'b1',
    pipeline: 'web',
    phase,
    version: 1,
    createdAt: T0,
    updatedAt: T1,
    phaseStartedAt: T0,
    region: 'us-east-1',
    baseImageId: 'ami-base',
    rootDeviceName: '/dev/xvda',
    recipeHash: 'h',
    steps: [],
    copies: [],
    published: [],
    cancelRequested: false,
    timeline: phases.map((p) => ({ phase: p, at: T0 })),
    resources: [],
    image: { imageId: 'ami-new', name: 'web-1' },
    ...patch,
  };
}

const types = (previous: BakeRecord, next: BakeRecord) => notificationsFor(previous, next).map((n) => n.type);
const target = (patch: Partial<RolloutTarget> = {}): RolloutTarget => ({
  group: 'web-fleet',
  status: 'refreshing',
  ...patch,
});

describe('notificationsFor: what a commit owes, in order', () => {
  it.each<[string, BakeRecord, BakeRecord, string[]]>([
    ['nothing entered, nothing owed', bake(['requested', 'launching']), bake(['requested', 'launching']), []],
    [
      'each phase entered, in order',
      bake(['requested']),
      bake(['requested', 'launching', 'provisioning']),
      ['bake.phase', 'bake.phase'],
    ],
    ['a bake that succeeds', bake(['publishing']), bake(['publishing', 'succeeded']), ['bake.succeeded']],
    ['a bake that fails', bake(['provisioning']), bake(['provisioning', 'failed']), ['bake.failed']],
    [
      'a bake that is cancelled',
      bake(['provisioning']),
      bake(['provisioning', 'cancelled']),
      ['bake.cancelled'],
    ],
    [
      'a rollout that starts',
      bake(['publishing']),
      bake(['publishing', 'rolling'], { rollout: [target({ status: 'pending' })] }),
      ['rollout.started', 'bake.phase'],
    ],
    [
      'a rollout waiting for approval',
      bake(['publishing']),
      bake(['publishing', 'awaiting-approval'], { rollout: [target({ status: 'pending' })] }),
      ['rollout.awaiting-approval', 'bake.phase'],
    ],
    [
      'a rollout that succeeds',
      bake(['refreshing'], { rollout: [target()] }),
      bake(['refreshing', 'succeeded'], { rollout: [target({ status: 'succeeded' })] }),
      ['rollout.succeeded', 'bake.succeeded'],
    ],
    [
      'a rollout that fails, one group rolled back',
      bake(['refreshing'], { rollout: [target()] }),
      bake(['refreshing', 'failed'], { rollout: [target({ status: 'rolled-back' })] }),
      ['rollout.failed', 'rollout.rolled-back', 'bake.failed'],
    ],
    [
      'a rollout that fails, nothing rolled back',
      bake(['refreshing'], { rollout: [target()] }),
      bake(['refreshing', 'failed'], { rollout: [target({ status: 'failed' })] }),
      ['rollout.failed', 'bake.failed'],
    ],
    [
      'a manual rollout owes only rollout.* (and a cancel)',
      bake(['requested'], { kind: 'rollout' }),
      bake(['requested', 'rolling'], { kind: 'rollout', rollout: [target({ status: 'pending' })] }),
      ['rollout.started'],
    ],
    [
      'a manual rollout that is cancelled',
      bake(['rolling'], { kind: 'rollout', rollout: [target()] }),
      bake(['rolling', 'cancelled'], { kind: 'rollout', rollout: [target({ status: 'cancelled' })] }),
      ['bake.cancelled'],
    ],
    [
      'a checkpoint passed, once',
      bake(['refreshing'], { rollout: [target({ checkpoint: 0 })] }),
      bake(['refreshing'], { rollout: [target({ checkpoint: 50 })] }),
      ['rollout.checkpoint'],
    ],
    [
      'the same checkpoint again: nothing',
      bake(['refreshing'], { rollout: [target({ checkpoint: 50 })] }),
      bake(['refreshing'], { rollout: [target({ checkpoint: 50 })] }),
      [],
    ],
    [
      'a refresh that starts waiting',
      bake(['refreshing'], { rollout: [target()] }),
      bake(['refreshing'], { rollout: [target({ reason: 'Waiting for protected instances' })] }),
      ['rollout.waiting'],
    ],
    [
      'still waiting for the same: nothing',
      bake(['refreshing'], { rollout: [target({ reason: 'Waiting for protected instances' })] }),
      bake(['refreshing'], { rollout: [target({ reason: 'Waiting for protected instances' })] }),
      [],
    ],
    [
      'a reason that is not a wait: nothing',
      bake(['refreshing'], { rollout: [target()] }),
      bake(['refreshing'], { rollout: [target({ reason: 'Cancelled by the bake' })] }),
      [],
    ],
    [
      'a finished target that says it waited: nothing',
      bake(['refreshing'], { rollout: [target()] }),
      bake(['refreshing'], {
        rollout: [target({ status: 'succeeded', reason: 'Waiting for protected instances' })],
      }),
      [],
    ],
    [
      'a checkpoint and an end in one commit: the checkpoint first',
      bake(['refreshing'], { rollout: [target({ checkpoint: 0 })] }),
      bake(['refreshing', 'succeeded'], { rollout: [target({ status: 'succeeded', checkpoint: 50 })] }),
      ['rollout.checkpoint', 'rollout.succeeded', 'bake.succeeded'],
    ],
  ])('%s', (_, previous, next, expected) => {
    expect(types(previous, next)).toEqual(expected);
  });

  it('says what each is about: stable ids, severities, subjects, and the phase each entered came from', () => {
    const previous = bake(['provisioning']);
    const next = bake(['provisioning', 'validating', 'failed'], {
      failure: { phase: 'validating', code: 'StepFailed', message: 'boom' },
    });

    expect(notificationsFor(previous, next)).toEqual([
      {
        id: 'b1:bake.phase:validating',
        type: 'bake.phase',
        severity: 'info',
        subject: '[ami-bakery] web: bake b1 is validating',
        pipeline: 'web',
        bakeId: 'b1',
        phase: 'validating',
        at: T1,
        detail: { from: 'provisioning' },
      },
      {
        id: 'b1:bake.failed:failed',
        type: 'bake.failed',
        severity: 'error',
        subject: '[ami-bakery] web: bake b1 failed in validating',
        pipeline: 'web',
        bakeId: 'b1',
        phase: 'failed',
        at: T1,
        detail: { failure: { phase: 'validating', code: 'StepFailed', message: 'boom' } },
      },
    ]);
  });

  it('a rejected rollout says so, with the answer and where the groups were left', () => {
    const approval = { decision: 'rejected' as const, at: T1, by: 'alice' };
    const [cancelled] = notificationsFor(
      bake(['awaiting-approval'], { rollout: [target({ status: 'pending' })] }),
      bake(['awaiting-approval', 'cancelled'], { approval, rollout: [target({ status: 'cancelled' })] }),
    );

    expect(cancelled).toMatchObject({
      type: 'bake.cancelled',
      severity: 'warning',
      subject: '[ami-bakery] web: rollout of ami-new rejected',
      detail: { approval, targets: [{ group: 'web-fleet', status: 'cancelled' }] },
    });
  });

  it('keeps subjects within what SNS takes: 100 printable ASCII characters', () => {
    const [entered] = notificationsFor(
      bake(['requested']),
      bake(['requested', 'launching'], { pipeline: `wéb-${'x'.repeat(200)}` }),
    );

    expect(entered?.subject).toHaveLength(100);
    expect(entered?.subject).toMatch(/^\[ami-bakery\] w\?b-x+$/);
  });
});
