import { describe, expect, it } from 'vitest';
import { bakeSkipped, bakeStarted, notificationsFor } from '../../lib/bake/notifications';
import type { BakeRecord, Phase, RolloutTarget } from '../../lib/bake/model';
import { bakeRecord } from '../support/records';

const T0 = '2026-11-30T00:00:00.000Z';
const T1 = '2026-11-30T00:05:00.000Z';

function bake(phases: Phase[], patch: Partial<BakeRecord> = {}): BakeRecord {
  return bakeRecord({
    id: 'b1',
    phase: phases.at(-1) ?? 'requested',
    createdAt: T0,
    updatedAt: T1,
    baseImageId: 'ami-base',
    timeline: phases.map((p) => ({ phase: p, at: T0 })),
    image: { imageId: 'ami-new', name: 'web-1' },
    ...patch,
  });
}

/** Each notification as `id severity subject`: what subscribers filter and read. */
const said = (previous: BakeRecord, next: BakeRecord) =>
  notificationsFor(previous, next).map((n) => `${n.id} ${n.severity} ${n.subject}`);
const target = (patch: Partial<RolloutTarget> = {}): RolloutTarget => ({
  group: 'web-fleet',
  status: 'refreshing',
  ...patch,
});

describe('notificationsFor: what a commit owes, in order', () => {
  const W = '[ami-bakery] web:';
  it.each<[string, BakeRecord, BakeRecord, string[]]>([
    ['nothing entered, nothing owed', bake(['requested', 'launching']), bake(['requested', 'launching']), []],
    [
      'each phase entered, in order',
      bake(['requested']),
      bake(['requested', 'launching', 'provisioning']),
      [
        `b1:bake.phase:launching info ${W} bake b1 is launching`,
        `b1:bake.phase:provisioning info ${W} bake b1 is provisioning`,
      ],
    ],
    [
      'a bake that succeeds',
      bake(['publishing']),
      bake(['publishing', 'succeeded']),
      [`b1:bake.succeeded:succeeded info ${W} ami-new published`],
    ],
    [
      'a bake that succeeds with no image recorded',
      bake(['publishing']),
      bake(['publishing', 'succeeded'], { image: undefined }),
      [`b1:bake.succeeded:succeeded info ${W} image published`],
    ],
    [
      'a bake that fails',
      bake(['provisioning']),
      bake(['provisioning', 'failed']),
      [`b1:bake.failed:failed error ${W} bake b1 failed in provisioning`],
    ],
    [
      'a bake that is cancelled',
      bake(['provisioning']),
      bake(['provisioning', 'cancelled']),
      [`b1:bake.cancelled:cancelled warning ${W} bake b1 cancelled`],
    ],
    [
      'a rollout that starts, to two groups',
      bake(['publishing']),
      bake(['publishing', 'rolling'], {
        rollout: [target({ status: 'pending' }), target({ group: 'api', status: 'pending' })],
      }),
      [
        `b1:rollout.started:rolling info ${W} rolling out to web-fleet, api`,
        `b1:bake.phase:rolling info ${W} bake b1 is rolling`,
      ],
    ],
    [
      'a rollout waiting for approval',
      bake(['publishing']),
      bake(['publishing', 'awaiting-approval'], { rollout: [target({ status: 'pending' })] }),
      [
        `b1:rollout.awaiting-approval:awaiting-approval warning ${W} approve rolling ami-new out to web-fleet`,
        `b1:bake.phase:awaiting-approval info ${W} bake b1 is awaiting-approval`,
      ],
    ],
    [
      'a rollout waiting for approval of no recorded image',
      bake(['publishing']),
      bake(['publishing', 'awaiting-approval'], {
        image: undefined,
        rollout: [target({ status: 'pending' })],
      }),
      [
        `b1:rollout.awaiting-approval:awaiting-approval warning ${W} approve rolling the image out to web-fleet`,
        `b1:bake.phase:awaiting-approval info ${W} bake b1 is awaiting-approval`,
      ],
    ],
    [
      'a rollout that succeeds',
      bake(['refreshing'], { rollout: [target()] }),
      bake(['refreshing', 'succeeded'], { rollout: [target({ status: 'succeeded' })] }),
      [
        `b1:rollout.succeeded:succeeded info ${W} web-fleet refreshed`,
        `b1:bake.succeeded:succeeded info ${W} ami-new published`,
      ],
    ],
    [
      'a rollout that fails, two groups rolled back',
      bake(['refreshing'], { rollout: [target(), target({ group: 'api' }), target({ group: 'db' })] }),
      bake(['refreshing', 'failed'], {
        rollout: [
          target({ status: 'rolled-back' }),
          target({ group: 'api', status: 'failed' }),
          target({ group: 'db', status: 'rolled-back' }),
        ],
      }),
      [
        `b1:rollout.failed:failed error ${W} rollout failed`,
        `b1:rollout.rolled-back:failed warning ${W} web-fleet, db rolled back`,
        `b1:bake.failed:failed error ${W} bake b1 failed in refreshing`,
      ],
    ],
    [
      'a rollout that fails, nothing rolled back',
      bake(['refreshing'], { rollout: [target()] }),
      bake(['refreshing', 'failed'], { rollout: [target({ status: 'failed' })] }),
      [
        `b1:rollout.failed:failed error ${W} rollout failed`,
        `b1:bake.failed:failed error ${W} bake b1 failed in refreshing`,
      ],
    ],
    [
      'a manual rollout owes only rollout.* (and a cancel)',
      bake(['requested'], { kind: 'rollout' }),
      bake(['requested', 'rolling'], { kind: 'rollout', rollout: [target({ status: 'pending' })] }),
      [`b1:rollout.started:rolling info ${W} rolling out to web-fleet`],
    ],
    [
      'a manual rollout that is cancelled',
      bake(['rolling'], { kind: 'rollout', rollout: [target()] }),
      bake(['rolling', 'cancelled'], { kind: 'rollout', rollout: [target({ status: 'cancelled' })] }),
      [`b1:bake.cancelled:cancelled warning ${W} bake b1 cancelled`],
    ],
    [
      'a checkpoint passed, once',
      bake(['refreshing'], { rollout: [target({ checkpoint: 0 })] }),
      bake(['refreshing'], { rollout: [target({ checkpoint: 50 })] }),
      [`b1:rollout.checkpoint:web-fleet:50 info ${W} web-fleet at checkpoint 50%`],
    ],
    [
      'a first checkpoint, with no earlier record of the group',
      bake(['refreshing']),
      bake(['refreshing'], { rollout: [target({ checkpoint: 20 })] }),
      [`b1:rollout.checkpoint:web-fleet:20 info ${W} web-fleet at checkpoint 20%`],
    ],
    [
      'the same checkpoint again: nothing',
      bake(['refreshing'], { rollout: [target({ checkpoint: 50 })] }),
      bake(['refreshing'], { rollout: [target({ checkpoint: 50 })] }),
      [],
    ],
    [
      'another group at a checkpoint this one passed: only that group',
      bake(['refreshing'], { rollout: [target({ checkpoint: 50 }), target({ group: 'api' })] }),
      bake(['refreshing'], {
        rollout: [target({ checkpoint: 50 }), target({ group: 'api', checkpoint: 50 })],
      }),
      [`b1:rollout.checkpoint:api:50 info ${W} api at checkpoint 50%`],
    ],
    [
      'a refresh that starts waiting',
      bake(['refreshing'], { rollout: [target({ refreshId: 'r-1' })] }),
      bake(['refreshing'], {
        rollout: [target({ refreshId: 'r-1', reason: 'Waiting for protected instances' })],
      }),
      [
        `b1:rollout.waiting:web-fleet:waiting:r-1 warning ${W} web-fleet refresh waits: Waiting for protected instances`,
      ],
    ],
    [
      'a wait before the refresh has an id',
      bake(['refreshing']),
      bake(['refreshing'], { rollout: [target({ reason: 'Waiting for Standby instances' })] }),
      [
        `b1:rollout.waiting:web-fleet:waiting: warning ${W} web-fleet refresh waits: Waiting for Standby instances`,
      ],
    ],
    [
      'still waiting for the same: nothing',
      bake(['refreshing'], { rollout: [target({ reason: 'Waiting for protected instances' })] }),
      bake(['refreshing'], { rollout: [target({ reason: 'Waiting for protected instances' })] }),
      [],
    ],
    [
      'another group waiting for what this one waited for: only that group',
      bake(['refreshing'], {
        rollout: [target({ reason: 'Waiting for protected instances' }), target({ group: 'api' })],
      }),
      bake(['refreshing'], {
        rollout: [
          target({ reason: 'Waiting for protected instances' }),
          target({ group: 'api', reason: 'Waiting for protected instances' }),
        ],
      }),
      [`b1:rollout.waiting:api:waiting: warning ${W} api refresh waits: Waiting for protected instances`],
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
      [
        `b1:rollout.checkpoint:web-fleet:50 info ${W} web-fleet at checkpoint 50%`,
        `b1:rollout.succeeded:succeeded info ${W} web-fleet refreshed`,
        `b1:bake.succeeded:succeeded info ${W} ami-new published`,
      ],
    ],
  ])('%s', (_, previous, next, expected) => {
    expect(said(previous, next)).toEqual(expected);
  });

  it('says where each phase entered came from, and what the bake made', () => {
    const next = bake(['requested', 'launching', 'provisioning', 'validating']);
    const [, second, third] = notificationsFor(bake(['requested']), next);
    const [succeeded] = notificationsFor(
      bake(['publishing']),
      bake(['publishing', 'succeeded'], {
        copies: [{ region: 'eu-west-1', imageId: 'ami-copy' }],
        published: [{ region: 'us-east-1', parameter: '/p', imageId: 'ami-new' }],
      }),
    );

    expect(second?.detail).toEqual({ from: 'launching' });
    expect(third?.detail).toEqual({ from: 'provisioning' });
    expect(succeeded?.detail).toEqual({
      imageId: 'ami-new',
      imageName: 'web-1',
      copies: [{ region: 'eu-west-1', imageId: 'ami-copy' }],
      published: [{ region: 'us-east-1', parameter: '/p', imageId: 'ami-new' }],
    });
  });

  it('rollout notifications carry the image and the targets; a manual rollout says it is one, and why', () => {
    const pending = [target({ status: 'pending' })];
    const [started] = notificationsFor(
      bake(['requested'], { kind: 'rollout', reason: 'hotfix' }),
      bake(['requested', 'rolling'], { kind: 'rollout', reason: 'hotfix', rollout: pending }),
    );
    const [baked] = notificationsFor(
      bake(['publishing']),
      bake(['publishing', 'rolling'], { rollout: pending }),
    );
    const [checkpoint] = notificationsFor(
      bake(['refreshing'], { rollout: [target({ checkpoint: 0 })] }),
      bake(['refreshing'], { rollout: [target({ checkpoint: 50 })] }),
    );
    const [waiting] = notificationsFor(
      bake(['refreshing'], { rollout: [target()] }),
      bake(['refreshing'], { rollout: [target({ reason: 'Waiting for protected instances' })] }),
    );

    expect(started?.detail).toEqual({ imageId: 'ami-new', targets: pending, manual: true, reason: 'hotfix' });
    expect(baked?.detail).toEqual({ imageId: 'ami-new', targets: pending });
    expect(checkpoint?.detail).toEqual({
      imageId: 'ami-new',
      group: 'web-fleet',
      checkpoint: 50,
      target: target({ checkpoint: 50 }),
    });
    expect(waiting?.detail).toEqual({
      imageId: 'ami-new',
      group: 'web-fleet',
      reason: 'Waiting for protected instances',
      target: target({ reason: 'Waiting for protected instances' }),
    });
  });

  it('a cancel with no groups carries no targets; its failure phase wins over the phase it came from', () => {
    const [cancelled] = notificationsFor(
      bake(['provisioning']),
      bake(['provisioning', 'cancelled'], { rollout: [] }),
    );
    const [failed] = notificationsFor(
      bake(['refreshing']),
      bake(['refreshing', 'failed'], { failure: { phase: 'rolling', code: 'X', message: 'm' } }),
    );

    expect(cancelled?.detail).toEqual({});
    expect(failed?.subject).toBe('[ami-bakery] web: bake b1 failed in rolling');
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

describe('bakeStarted and bakeSkipped', () => {
  it('a bake started: why, from which base image and recipe', () => {
    expect(bakeStarted(bake(['requested'], { reason: 'CVE-2026-1' }))).toEqual({
      id: 'b1:bake.started:requested',
      type: 'bake.started',
      severity: 'info',
      subject: '[ami-bakery] web: bake b1 started',
      pipeline: 'web',
      bakeId: 'b1',
      phase: 'requested',
      at: T1,
      detail: { reason: 'CVE-2026-1', baseImageId: 'ami-base', recipeHash: 'h' },
    });
  });

  it('a nightly skip: once per pipeline and day', () => {
    const skipped = bakeSkipped(
      'web',
      'b0',
      'base image and recipe unchanged',
      new Date('2026-11-30T02:00:00Z'),
    );

    expect(skipped).toEqual({
      id: 'web:bake.skipped:2026-11-30',
      type: 'bake.skipped',
      severity: 'info',
      subject: '[ami-bakery] web: nightly bake skipped',
      pipeline: 'web',
      bakeId: 'b0',
      phase: 'skipped',
      at: '2026-11-30T02:00:00.000Z',
      detail: { reason: 'base image and recipe unchanged', lastBakeId: 'b0' },
    });
    expect(bakeSkipped('web', 'b0', 'x', new Date('2026-11-30T23:59:59Z')).id).toBe(skipped.id);
    expect(bakeSkipped('p'.repeat(120), 'b0', 'x', new Date()).subject).toHaveLength(100);
  });
});
