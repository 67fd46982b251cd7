/** The notifications a bake owes as it moves: built here, published by lib/notify. */
import {
  subjectLine,
  type Notification,
  type NotificationType,
  type Severity,
} from '../notify/notifications';
import type { BakeRecord, WaveStatus } from './model';
import { inWave, sameGroup } from './waves';

function make(
  bake: BakeRecord,
  type: NotificationType,
  severity: Severity,
  subject: string,
  detail: Record<string, unknown> = {},
  phase: string = bake.phase,
  key: string = phase,
): Notification {
  return {
    id: `${bake.id}:${type}:${key}`,
    type,
    severity,
    subject: subjectLine(subject),
    pipeline: bake.pipeline,
    bakeId: bake.id,
    phase,
    at: bake.updatedAt,
    detail,
  };
}

export function bakeStarted(bake: BakeRecord): Notification {
  return make(bake, 'bake.started', 'info', `[ami-bakery] ${bake.pipeline}: bake ${bake.id} started`, {
    reason: bake.reason,
    baseImageId: bake.baseImageId,
    recipeHash: bake.recipeHash,
  });
}

/** Nightly found nothing to bake: said once per pipeline and day (the id is stable for that day). */
export function bakeSkipped(pipeline: string, lastBakeId: string, reason: string, now: Date): Notification {
  const day = now.toISOString().slice(0, 10);
  return {
    id: `${pipeline}:bake.skipped:${day}`,
    type: 'bake.skipped',
    severity: 'info',
    subject: `[ami-bakery] ${pipeline}: nightly bake skipped`.slice(0, 100),
    pipeline,
    bakeId: lastBakeId,
    phase: 'skipped',
    at: now.toISOString(),
    detail: { reason, lastBakeId },
  };
}

/**
 * The notifications a commit from `previous` to `next` owes: checkpoints its refreshes passed,
 * then for each phase entered, in order. A rollout of an existing image owes only rollout.* ones
 * (and bake.cancelled: a person stopped it).
 */
export function notificationsFor(previous: BakeRecord, next: BakeRecord): Notification[] {
  const entered = next.timeline.slice(previous.timeline.length);
  const rolloutOnly = next.kind === 'rollout';
  return [
    ...checkpointNotifications(previous, next),
    ...waitingNotifications(previous, next),
    ...waveNotifications(previous, next),
    ...entered.flatMap((entry, index) => {
      const from = index === 0 ? previous.phase : (entered[index - 1]?.phase ?? previous.phase);
      // A phase entered again (a later wave's rolling, refreshing or approval gate) is a new event.
      const times = next.timeline
        .slice(0, previous.timeline.length + index)
        .filter((e) => e.phase === entry.phase).length;
      const key = times === 0 ? entry.phase : `${entry.phase}#${times + 1}`;
      const own =
        rolloutOnly && entry.phase !== 'cancelled' ? [] : [bakeNotification(next, entry.phase, from, key)];
      return [...rolloutNotifications(next, entry.phase, key), ...own];
    }),
  ];
}

const WAVE_EVENTS: Partial<Record<WaveStatus, [NotificationType, Severity, string]>> = {
  rolling: ['rollout.wave-started', 'info', 'started'],
  baking: ['rollout.wave-baking', 'info', 'in its bake time'],
  succeeded: ['rollout.wave-succeeded', 'info', 'succeeded'],
  failed: ['rollout.wave-failed', 'error', 'failed'],
};

/**
 * One notification per wave that started, began its bake time, succeeded or failed since
 * `previous` (rollouts of several waves; one wave is the rollout's own start and end).
 */
function waveNotifications(previous: BakeRecord, next: BakeRecord): Notification[] {
  const waves = next.waves ?? [];
  if (waves.length < 2) return [];
  return waves.flatMap((wave, index) => {
    const before = previous.waves?.[index]?.status;
    const event = WAVE_EVENTS[wave.status];
    if (!event || wave.status === before) return [];
    const [type, severity, said] = event;
    const targets = (next.rollout ?? []).filter((t) => inWave(t, index));
    return [
      make(
        next,
        type,
        severity,
        `[ami-bakery] ${next.pipeline}: wave ${wave.name} ${said}`,
        { imageId: next.image?.imageId, wave: { index, ...wave }, targets },
        next.phase,
        `wave-${index}:${wave.status}`,
      ),
    ];
  });
}

/** One rollout.waiting when a target's refresh starts waiting on protected or Standby instances. */
function waitingNotifications(previous: BakeRecord, next: BakeRecord): Notification[] {
  return (next.rollout ?? []).flatMap((target) => {
    const before = previous.rollout?.find((t) => sameGroup(t, target))?.reason;
    if (
      target.status !== 'refreshing' ||
      !target.reason?.startsWith('Waiting for') ||
      target.reason === before
    )
      return [];
    return [
      make(
        next,
        'rollout.waiting',
        'warning',
        `[ami-bakery] ${next.pipeline}: ${target.group} refresh waits: ${target.reason}`,
        { imageId: next.image?.imageId, group: target.group, reason: target.reason, target },
        next.phase,
        `${target.group}:waiting:${target.refreshId ?? ''}`,
      ),
    ];
  });
}

/** One rollout.checkpoint per configured checkpoint a target's refresh passed since `previous`. */
function checkpointNotifications(previous: BakeRecord, next: BakeRecord): Notification[] {
  return (next.rollout ?? []).flatMap((target) => {
    const before = previous.rollout?.find((t) => sameGroup(t, target))?.checkpoint ?? 0;
    if (target.checkpoint === undefined || target.checkpoint <= before) return [];
    return [
      make(
        next,
        'rollout.checkpoint',
        'info',
        `[ami-bakery] ${next.pipeline}: ${target.group} at checkpoint ${target.checkpoint}%`,
        { imageId: next.image?.imageId, group: target.group, checkpoint: target.checkpoint, target },
        next.phase,
        `${target.group}:${target.checkpoint}`,
      ),
    ];
  });
}

function bakeNotification(bake: BakeRecord, phase: string, from: string, key: string = phase): Notification {
  const title = `[ami-bakery] ${bake.pipeline}`;
  switch (phase) {
    case 'succeeded':
      return make(bake, 'bake.succeeded', 'info', `${title}: ${bake.image?.imageId ?? 'image'} published`, {
        imageId: bake.image?.imageId,
        imageName: bake.image?.name,
        copies: bake.copies,
        published: bake.published,
      });
    case 'failed':
      return make(
        bake,
        'bake.failed',
        'error',
        `${title}: bake ${bake.id} failed in ${bake.failure?.phase ?? from}`,
        {
          failure: bake.failure,
        },
      );
    case 'cancelled':
      return make(
        bake,
        'bake.cancelled',
        'warning',
        bake.approval?.decision === 'rejected'
          ? `${title}: rollout of ${bake.image?.imageId ?? 'image'} rejected`
          : `${title}: bake ${bake.id} cancelled`,
        {
          ...(bake.approval ? { approval: bake.approval } : {}),
          // What the cancel left on each group: versions, instances, the default (restored or not).
          ...(bake.rollout && bake.rollout.length > 0 ? { targets: bake.rollout } : {}),
        },
      );
    default:
      return make(bake, 'bake.phase', 'info', `${title}: bake ${bake.id} is ${phase}`, { from }, phase, key);
  }
}

/** What a rollout's start and end owe, besides the bake's own notification. */
function rolloutNotifications(bake: BakeRecord, phase: string, key: string = phase): Notification[] {
  const targets = bake.rollout ?? [];
  if (targets.length === 0) return [];
  const detail = { imageId: bake.image?.imageId, targets };
  const title = `[ami-bakery] ${bake.pipeline}`;
  const groups = targets.map((t) => t.group).join(', ');
  if (phase === 'awaiting-approval') {
    // A later wave's gate names that wave and its groups.
    const waves = bake.waves ?? [];
    const gate = waves.findIndex((w) => w.status === 'awaiting-approval');
    const wave = waves.length > 1 && gate >= 0 ? waves[gate] : undefined;
    const mine = wave
      ? targets
          .filter((t) => inWave(t, gate))
          .map((t) => t.group)
          .join(', ')
      : groups;
    return [
      make(
        bake,
        'rollout.awaiting-approval',
        'warning',
        `${title}: approve rolling ${bake.image?.imageId ?? 'the image'} out to ${wave ? `wave ${wave.name}: ` : ''}${mine}`,
        { ...detail, ...(wave ? { wave: { index: gate, ...wave } } : {}) },
        phase,
        key,
      ),
    ];
  }
  if (phase === 'rolling' && key === phase) {
    const manual = bake.kind === 'rollout' ? { manual: true, reason: bake.reason } : {};
    return [
      make(
        bake,
        'rollout.started',
        'info',
        `${title}: rolling out to ${groups}`,
        { ...detail, ...manual },
        phase,
      ),
    ];
  }
  if (phase === 'succeeded')
    return [make(bake, 'rollout.succeeded', 'info', `${title}: ${groups} refreshed`, detail, phase)];
  if (phase !== 'failed') return [];
  const rolledBack = targets.filter((t) => t.status === 'rolled-back').map((t) => t.group);
  return [
    make(bake, 'rollout.failed', 'error', `${title}: rollout failed`, detail, phase),
    ...(rolledBack.length > 0
      ? [
          make(
            bake,
            'rollout.rolled-back',
            'warning',
            `${title}: ${rolledBack.join(', ')} rolled back`,
            detail,
            phase,
          ),
        ]
      : []),
  ];
}
