import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { applyResults } from '../../lib/bake/apply';
import { decide } from '../../lib/bake/decide';
import type {
  Action,
  BakeRecord,
  Observed,
  ObservedGroup,
  ObservedRefresh,
  Phase,
  RolloutTarget,
  WaveRecord,
} from '../../lib/bake/model';
import { notificationsFor } from '../../lib/bake/notifications';
import { loadPipelines } from '../../lib/pipeline/catalog';
import { pipelineSchema, wavesOf, type Pipeline, type PipelineInput } from '../../lib/pipeline/schema';
import { bakeRecord } from '../support/records';

const [, minimal] = loadPipelines([...pipelines], { builderProfile: 'ami-bakery-builder' }) as [
  Pipeline,
  Pipeline,
];

/** Two waves: a canary with a 10-minute bake time and an alarm, then the fleet behind a gate. */
function staged(onFailure: 'stop' | 'rollback' = 'stop'): Pipeline {
  const rollout = pipelineSchema.parse({
    ...pipelines[1],
    rollout: {
      onFailure,
      waves: [
        { name: 'canary', targets: [{ autoScalingGroup: 'canary' }], bakeMinutes: 10, alarms: ['errors'] },
        {
          name: 'fleet',
          targets: [{ autoScalingGroup: 'web-a' }, { autoScalingGroup: 'web-b', setDefaultVersion: false }],
          requireApproval: true,
        },
      ],
    },
  }).rollout;
  return { ...minimal, rollout };
}

const T0 = '2026-11-22T00:00:00.000Z';
const NOW = new Date('2026-11-22T00:00:10.000Z');

function bake(phase: Phase, patch: Partial<BakeRecord> = {}): BakeRecord {
  return bakeRecord({
    id: 'b1',
    pipeline: 'minimal',
    createdAt: T0,
    image: { imageId: 'ami-new', name: 'n' },
    phase,
    ...patch,
  });
}

function seen(parts: Partial<Observed> = {}): Observed {
  return { now: NOW, instances: [], agentOnline: new Set(), commands: [], images: [], ...parts };
}

const groups: ObservedGroup[] = ['canary', 'web-a', 'web-b'].map((name, index) => ({
  name,
  templateId: `lt-${index}`,
  templateVersion: 3,
  usesAlias: false,
  namedVersion: '3',
  defaultVersion: 4,
  instances: [],
}));

const refresh = (group: string, status: string, id = `r-${group}`, percentage = 100): ObservedRefresh => ({
  group,
  id,
  status,
  percentage,
});

/** A target already refreshing from version 3 to 4 (its wave's), which it made the default. */
const moving = (group: string, wave: number, patch: Partial<RolloutTarget> = {}): RolloutTarget => ({
  group,
  wave,
  status: 'refreshing',
  refreshId: `r-${group}`,
  templateId: `lt-${['canary', 'web-a', 'web-b'].indexOf(group)}`,
  sourceVersion: 3,
  version: 4,
  madeDefault: true,
  ...patch,
});

const waves = (first: WaveRecord['status'], second: WaveRecord['status']): WaveRecord[] => [
  { name: 'canary', status: first },
  { name: 'fleet', status: second },
];

const kinds = (actions: readonly Action[]) => actions.map((a) => a.kind);

describe('waves: the configuration', () => {
  const base = { ...pipelines[1] } as PipelineInput;
  const parse = (rollout: unknown) => pipelineSchema.safeParse({ ...base, rollout });

  it.each<[string, unknown, string | undefined]>([
    ['targets alone (one wave)', { targets: [{ autoScalingGroup: 'a' }] }, undefined],
    ['waves alone', { waves: [{ targets: [{ autoScalingGroup: 'a' }] }] }, undefined],
    [
      'both',
      { targets: [{ autoScalingGroup: 'a' }], waves: [{ targets: [{ autoScalingGroup: 'b' }] }] },
      'give either targets (one wave) or waves',
    ],
    ['neither', {}, 'give either targets (one wave) or waves'],
    [
      'a group in two waves',
      { waves: [{ targets: [{ autoScalingGroup: 'a' }] }, { targets: [{ autoScalingGroup: 'a' }] }] },
      'a group can be the target of one wave only, once',
    ],
    ['an empty wave', { waves: [{ targets: [] }] }, 'Too small'],
    [
      'a bake time as long as the refreshing deadline',
      { waves: [{ targets: [{ autoScalingGroup: 'a' }], bakeMinutes: 240 }] },
      'the bake time (14400 s) must be shorter than deadlines.refreshing (14400 s)',
    ],
    ['an unknown onFailure', { targets: [{ autoScalingGroup: 'a' }], onFailure: 'ignore' }, 'Invalid option'],
  ])('%s', (_, rollout, problem) => {
    const parsed = parse(rollout);

    expect(parsed.success).toBe(problem === undefined);
    if (problem !== undefined)
      expect(parsed.error?.issues.map((i) => i.message).join('; ')).toContain(problem);
  });

  it('reads targets as one wave, whose gate is the rollout’s', () => {
    const rollout = pipelineSchema.parse({
      ...base,
      rollout: { targets: [{ autoScalingGroup: 'a' }], requireApproval: true },
    }).rollout;

    expect(rollout && wavesOf(rollout)).toEqual([
      {
        name: 'wave-1',
        targets: [{ autoScalingGroup: 'a', setDefaultVersion: true }],
        bakeMinutes: 0,
        alarms: [],
        requireApproval: true,
      },
    ]);
  });

  it('names waves, and gates the first one when the rollout asks', () => {
    const rollout = pipelineSchema.parse({
      ...base,
      rollout: {
        requireApproval: true,
        waves: [
          { targets: [{ autoScalingGroup: 'a' }] },
          { name: 'rest', targets: [{ autoScalingGroup: 'b' }] },
        ],
      },
    }).rollout;

    expect(rollout && wavesOf(rollout).map((w) => [w.name, w.requireApproval])).toEqual([
      ['wave-1', true],
      ['rest', false],
    ]);
  });
});

describe('waves: decide, wave by wave', () => {
  it('publishing starts the first wave only', () => {
    const decision = decide(bake('publishing'), staged(), seen());

    expect(decision.next.phase).toBe('rolling');
    expect(decision.next.waves).toEqual([
      { name: 'canary', status: 'rolling', startedAt: NOW.toISOString() },
      { name: 'fleet', status: 'pending' },
    ]);
    expect(decision.next.rollout).toEqual([
      { group: 'canary', wave: 0, status: 'pending' },
      { group: 'web-a', wave: 1, status: 'pending' },
      { group: 'web-b', wave: 1, status: 'pending' },
    ]);
  });

  it('versions the current wave’s groups, not the next one’s', () => {
    const started = decide(bake('publishing'), staged(), seen()).next;

    const decision = decide(started, staged(), seen({ groups }));

    expect(decision.actions).toEqual([
      expect.objectContaining({ kind: 'create-template-version', group: 'canary' }),
    ]);
  });

  it('starts the wave’s refreshes with its alarms and its bake time', () => {
    const record = bake('refreshing', {
      waves: waves('rolling', 'pending'),
      rollout: [
        moving('canary', 0, { status: 'versioned', refreshId: undefined }),
        { group: 'web-a', wave: 1, status: 'pending' },
      ],
    });

    const decision = decide(record, staged(), seen({ groups, refreshes: [] }));

    expect(decision.actions).toEqual([
      {
        kind: 'start-refresh',
        group: 'canary',
        templateId: 'lt-0',
        version: 4,
        autoRollback: true,
        alarms: ['errors'],
        bakeTimeSeconds: 600,
      },
    ]);
  });

  it('says the wave is baking once its refreshes are in their bake time', () => {
    const record = bake('refreshing', {
      waves: waves('rolling', 'pending'),
      rollout: [moving('canary', 0), { group: 'web-a', wave: 1, status: 'pending' }],
    });

    const decision = decide(record, staged(), seen({ groups, refreshes: [refresh('canary', 'Baking')] }));

    expect(decision.next.phase).toBe('refreshing');
    expect(decision.next.waves?.[0]?.status).toBe('baking');
    expect(decision.next.rollout?.[0]?.baking).toBe(true);
  });

  it('goes to the next wave’s approval gate when a wave succeeds, the last answer kept on its wave', () => {
    const approval = { decision: 'approved' as const, at: T0, by: 'ann' };
    const record = bake('refreshing', {
      approval,
      waves: [
        { name: 'canary', status: 'baking', approval },
        { name: 'fleet', status: 'pending' },
      ],
      rollout: [moving('canary', 0), { group: 'web-a', wave: 1, status: 'pending' }],
    });

    const decision = decide(record, staged(), seen({ groups, refreshes: [refresh('canary', 'Successful')] }));

    expect(decision.next.phase).toBe('awaiting-approval');
    expect(decision.next.approval).toBeUndefined();
    expect(decision.next.waves).toEqual([
      { name: 'canary', status: 'succeeded', approval, endedAt: NOW.toISOString() },
      { name: 'fleet', status: 'awaiting-approval' },
    ]);
    expect(decision.actions).toEqual([]);
  });

  it('rolls the next wave out once approved', () => {
    const approval = { decision: 'approved' as const, at: T0, by: 'bob' };
    const record = bake('awaiting-approval', {
      approval,
      waves: waves('succeeded', 'awaiting-approval'),
      rollout: [
        moving('canary', 0, { status: 'succeeded' }),
        { group: 'web-a', wave: 1, status: 'pending' },
        { group: 'web-b', wave: 1, status: 'pending' },
      ],
    });

    const decision = decide(record, staged(), seen({ groups }));

    expect(decision.next.phase).toBe('rolling');
    expect(decision.next.waves?.[1]).toEqual({
      name: 'fleet',
      status: 'rolling',
      startedAt: NOW.toISOString(),
      approval,
    });
    expect(decision.actions.map((a) => (a.kind === 'create-template-version' ? a.group : a.kind))).toEqual([
      'web-a',
      'web-b',
    ]);
  });

  it('ends a rejected wave cancelled, the waves before it left as they are', () => {
    const approval = { decision: 'rejected' as const, at: T0, by: 'bob' };
    const record = bake('awaiting-approval', {
      approval,
      waves: waves('succeeded', 'awaiting-approval'),
      rollout: [moving('canary', 0, { status: 'succeeded' }), { group: 'web-a', wave: 1, status: 'pending' }],
    });

    const decision = decide(record, staged('rollback'), seen());

    expect(decision.next.phase).toBe('cancelled');
    expect(decision.next.waves?.map((w) => w.status)).toEqual(['succeeded', 'cancelled']);
    expect(decision.next.rollout?.map((t) => t.status)).toEqual(['succeeded', 'cancelled']);
  });

  it('succeeds when the last wave does, pruning every target’s template', () => {
    const record = bake('refreshing', {
      waves: waves('succeeded', 'rolling'),
      rollout: [moving('canary', 0, { status: 'succeeded' }), moving('web-a', 1), moving('web-b', 1)],
    });

    const decision = decide(
      record,
      staged(),
      seen({ groups, refreshes: [refresh('web-a', 'Successful'), refresh('web-b', 'Successful')] }),
    );

    expect(decision.next.phase).toBe('succeeded');
    expect(decision.next.waves?.map((w) => w.status)).toEqual(['succeeded', 'succeeded']);
    expect(decision.actions.filter((a) => a.kind === 'prune-template-versions')).toHaveLength(3);
  });

  it('waits for every refresh of a wave before it ends, even one that already failed', () => {
    const record = bake('refreshing', {
      waves: waves('succeeded', 'rolling'),
      rollout: [moving('canary', 0, { status: 'succeeded' }), moving('web-a', 1), moving('web-b', 1)],
    });

    const decision = decide(
      record,
      staged('rollback'),
      seen({
        groups,
        refreshes: [refresh('web-a', 'Failed'), refresh('web-b', 'InProgress', 'r-web-b', 40)],
      }),
    );

    expect(decision.next.phase).toBe('refreshing');
    expect(decision.next.rollout?.map((t) => t.status)).toEqual(['succeeded', 'failed', 'refreshing']);
  });
});

describe('waves: a wave that fails', () => {
  const failedCanary = bake('refreshing', {
    waves: waves('baking', 'pending'),
    rollout: [
      moving('canary', 0),
      { group: 'web-a', wave: 1, status: 'pending' },
      { group: 'web-b', wave: 1, status: 'pending' },
    ],
  });
  const alarmed = refresh('canary', 'RollbackSuccessful');
  const alarmReason = { ...alarmed, reason: 'The alarm errors is in ALARM state.' };

  it('stops every later wave, and the bake fails naming the wave and the group', () => {
    const decision = decide(failedCanary, staged('stop'), seen({ groups, refreshes: [alarmReason] }));

    expect(decision.next.phase).toBe('failed');
    expect(decision.next.failure).toEqual({
      phase: 'refreshing',
      code: 'RolloutFailed',
      message: 'wave canary: canary: rolled-back (The alarm errors is in ALARM state.)',
    });
    expect(decision.next.waves?.map((w) => [w.status, w.reason])).toEqual([
      ['failed', 'canary: rolled-back (The alarm errors is in ALARM state.)'],
      ['cancelled', 'Not started: wave canary failed'],
    ]);
    expect(decision.next.rollout?.slice(1).map((t) => [t.status, t.reason])).toEqual([
      ['cancelled', 'Not started: wave canary failed'],
      ['cancelled', 'Not started: wave canary failed'],
    ]);
  });

  it('with onFailure rollback but nothing moved yet: fails at once', () => {
    const decision = decide(failedCanary, staged('rollback'), seen({ groups, refreshes: [alarmReason] }));

    expect(decision.next.phase).toBe('failed');
    expect(decision.next.rollbackFor).toBeUndefined();
  });

  const failedFleet = bake('refreshing', {
    waves: waves('succeeded', 'rolling'),
    rollout: [moving('canary', 0, { status: 'succeeded' }), moving('web-a', 1), moving('web-b', 1)],
  });
  const fleetEnds = seen({
    groups,
    refreshes: [refresh('web-a', 'Successful'), { ...refresh('web-b', 'Failed'), reason: 'capacity' }],
  });

  it('with onFailure stop: leaves the groups already moved on the new image', () => {
    const decision = decide(failedFleet, staged('stop'), fleetEnds);

    expect(decision.next.phase).toBe('failed');
    expect(decision.next.failure?.message).toBe('wave fleet: web-b: failed (capacity)');
    expect(decision.next.rollout?.map((t) => t.status)).toEqual(['succeeded', 'succeeded', 'failed']);
    expect(kinds(decision.actions)).not.toContain('start-refresh');
  });

  it('with onFailure rollback: refreshes every group already moved back to the version it ran', () => {
    const decision = decide(failedFleet, staged('rollback'), fleetEnds);

    expect(decision.next.phase).toBe('rolling-back');
    expect(decision.next.failure).toBeUndefined();
    expect(decision.next.rollbackFor?.message).toBe('wave fleet: web-b: failed (capacity)');
    // web-b's refresh failed part way (AWS could not roll it back): back it goes too.
    expect(decision.next.rollout?.map((t) => t.status)).toEqual([
      'rolling-back',
      'rolling-back',
      'rolling-back',
    ]);
    // The refreshes this pass read show no rollback yet: started at once.
    expect(decision.actions).toEqual([
      {
        kind: 'start-refresh',
        group: 'canary',
        templateId: 'lt-0',
        version: 3,
        autoRollback: false,
        rollback: true,
      },
      {
        kind: 'start-refresh',
        group: 'web-a',
        templateId: 'lt-1',
        version: 3,
        autoRollback: false,
        rollback: true,
      },
      {
        kind: 'start-refresh',
        group: 'web-b',
        templateId: 'lt-2',
        version: 3,
        autoRollback: false,
        rollback: true,
      },
    ]);
  });

  it('with onFailure rollback: leaves a group AWS already rolled back, and one that never started', () => {
    const record = {
      ...failedFleet,
      rollout: [
        moving('canary', 0, { status: 'succeeded' }),
        moving('web-a', 1),
        moving('web-b', 1, { status: 'versioned', refreshId: undefined }),
      ],
    };
    const decision = decide(
      record,
      staged('rollback'),
      seen({ groups, refreshes: [refresh('web-a', 'RollbackSuccessful')] }),
    );

    // web-b's refresh was never started this pass (web-a's end is known): it waits.
    expect(decision.next.phase).toBe('refreshing');

    const ended = decide(
      {
        ...record,
        rollout: [
          moving('canary', 0, { status: 'succeeded' }),
          moving('web-a', 1),
          moving('web-b', 1, { status: 'failed', refreshId: undefined, reason: 'Group gone' }),
        ],
      },
      staged('rollback'),
      seen({ groups, refreshes: [refresh('web-a', 'RollbackSuccessful')] }),
    );

    expect(ended.next.phase).toBe('rolling-back');
    expect(ended.next.rollout?.map((t) => t.status)).toEqual(['rolling-back', 'rolled-back', 'failed']);
  });

  const rollingBack = bake('rolling-back', {
    waves: waves('succeeded', 'failed'),
    rollbackFor: { phase: 'refreshing', code: 'RolloutFailed', message: 'wave fleet: web-b: failed' },
    rollout: [
      moving('canary', 0, { status: 'rolling-back', rollbackRefreshId: 'back-canary' }),
      moving('web-a', 1, { status: 'rolling-back', rollbackRefreshId: 'back-web-a' }),
      moving('web-b', 1, { status: 'failed', madeDefault: false }),
    ],
  });

  it('records the rollback refreshes it started, and follows them', () => {
    const record = bake('rolling-back', {
      ...rollingBack,
      rollout: [moving('canary', 0, { status: 'rolling-back' })],
    });
    const started = applyResults(record, [
      { kind: 'refresh-started', group: 'canary', refreshId: 'back-canary', rollback: true },
    ]);

    expect(started.rollout?.[0]).toMatchObject({
      status: 'rolling-back',
      refreshId: 'r-canary',
      rollbackRefreshId: 'back-canary',
    });
  });

  it('adopts a rollback refresh a dead pass started (to the earlier version), rather than starting another', () => {
    const record = bake('rolling-back', {
      ...rollingBack,
      rollout: [moving('canary', 0, { status: 'rolling-back' })],
    });
    const theirs = {
      ...refresh('canary', 'InProgress', 'back-x', 10),
      desiredTemplateId: 'lt-0',
      desiredVersion: '3',
    };

    const decision = decide(record, staged('rollback'), seen({ groups, refreshes: [theirs] }));

    expect(decision.actions).toEqual([]);
    expect(decision.next.rollout?.[0]).toMatchObject({ rollbackRefreshId: 'back-x', percentage: 10 });
  });

  it('waits while one rollback runs', () => {
    const decision = decide(
      rollingBack,
      staged('rollback'),
      seen({
        groups,
        refreshes: [
          refresh('canary', 'Successful', 'back-canary'),
          refresh('web-a', 'InProgress', 'back-web-a', 50),
        ],
      }),
    );

    expect(decision.next.phase).toBe('rolling-back');
    expect(decision.next.rollout?.map((t) => t.status)).toEqual(['rolled-back', 'rolling-back', 'failed']);
  });

  it('fails with the wave’s failure once every group is back, and puts back the defaults it made', () => {
    const decision = decide(
      rollingBack,
      staged('rollback'),
      seen({
        groups,
        refreshes: [
          refresh('canary', 'Successful', 'back-canary'),
          refresh('web-a', 'Successful', 'back-web-a'),
        ],
      }),
    );

    expect(decision.next.phase).toBe('failed');
    expect(decision.next.failure).toEqual({
      phase: 'refreshing',
      code: 'RolloutFailed',
      message: 'wave fleet: web-b: failed',
    });
    expect(decision.next.rollbackFor).toBeUndefined();
    expect(decision.next.waves?.map((w) => w.status)).toEqual(['rolled-back', 'failed']);
    expect(decision.next.rollout?.map((t) => [t.group, t.status])).toEqual([
      ['canary', 'rolled-back'],
      ['web-a', 'rolled-back'],
      ['web-b', 'failed'],
    ]);
    expect(decision.actions.filter((a) => a.kind === 'restore-default-version')).toEqual([
      { kind: 'restore-default-version', templateId: 'lt-0', version: 3, replacing: 4 },
      { kind: 'restore-default-version', templateId: 'lt-1', version: 3, replacing: 4 },
    ]);
  });

  it('fails at the rolling-back deadline with DeadlineExceeded, the rollback’s cause dropped', () => {
    const late = seen({ now: new Date(Date.parse(T0) + 14_401_000), groups, refreshes: [] });

    const decision = decide(rollingBack, staged('rollback'), late);

    expect(decision.next.phase).toBe('failed');
    expect(decision.next.failure?.code).toBe('DeadlineExceeded');
    expect(decision.next.rollbackFor).toBeUndefined();
  });

  it('says so when a rollback refresh fails', () => {
    const decision = decide(
      rollingBack,
      staged('rollback'),
      seen({
        groups,
        refreshes: [
          { ...refresh('canary', 'Failed', 'back-canary'), reason: 'boom' },
          refresh('web-a', 'Successful', 'back-web-a'),
        ],
      }),
    );

    expect(decision.next.phase).toBe('failed');
    expect(decision.next.rollout?.[0]).toMatchObject({
      status: 'failed',
      reason: 'Rollback refresh Failed: boom',
    });
    expect(decision.next.waves?.map((w) => w.status)).toEqual(['succeeded', 'failed']);
  });
});

describe('waves: a record made before waves', () => {
  it('is one wave', () => {
    const record = bake('refreshing', { rollout: [moving('canary', 0, { wave: undefined })] });
    const { rollout } = staged();
    if (!rollout) throw new Error('staged() has a rollout');
    const single: Pipeline = {
      ...minimal,
      rollout: {
        ...rollout,
        waves: undefined,
        targets: [{ autoScalingGroup: 'canary', setDefaultVersion: true }],
      },
    };

    const decision = decide(record, single, seen({ groups, refreshes: [refresh('canary', 'Successful')] }));

    expect(decision.next.phase).toBe('succeeded');
    expect(decision.next.waves).toBeUndefined();
  });
});

describe('waves: notifications', () => {
  it('says when a wave starts, bakes, succeeds and fails, each once', () => {
    const before = bake('refreshing', { waves: waves('rolling', 'pending') });
    const types = (previous: BakeRecord, next: BakeRecord) =>
      notificationsFor(previous, next).map((n) => n.type);

    expect(types(before, { ...before, waves: waves('baking', 'pending') })).toEqual(['rollout.wave-baking']);
    expect(types(before, before)).toEqual([]);
    expect(types(before, { ...before, waves: waves('succeeded', 'rolling') })).toEqual([
      'rollout.wave-succeeded',
      'rollout.wave-started',
    ]);
    expect(types(before, { ...before, waves: waves('failed', 'cancelled') })).toEqual([
      'rollout.wave-failed',
    ]);
  });

  it('tells a later wave’s phases apart from the first one’s', () => {
    const first = bake('refreshing', {
      waves: waves('succeeded', 'rolling'),
      rollout: [moving('canary', 0, { status: 'succeeded' })],
      timeline: [
        { phase: 'rolling', at: T0 },
        { phase: 'refreshing', at: T0 },
      ],
    });
    const again = {
      ...first,
      phase: 'rolling' as const,
      timeline: [...first.timeline, { phase: 'rolling' as const, at: T0 }],
    };

    const said = notificationsFor(first, again);

    expect(said.map((n) => n.id)).toEqual(['b1:bake.phase:rolling#2']);
  });

  it('names the wave and its groups at a later approval gate', () => {
    const previous = bake('refreshing', {
      waves: waves('baking', 'pending'),
      rollout: [moving('canary', 0), { group: 'web-a', wave: 1, status: 'pending' }],
      timeline: [
        { phase: 'awaiting-approval', at: T0 },
        { phase: 'refreshing', at: T0 },
      ],
    });
    const next = {
      ...previous,
      phase: 'awaiting-approval' as const,
      waves: waves('succeeded', 'awaiting-approval'),
      timeline: [...previous.timeline, { phase: 'awaiting-approval' as const, at: T0 }],
    };

    const gate = notificationsFor(previous, next).find((n) => n.type === 'rollout.awaiting-approval');

    expect(gate?.id).toBe('b1:rollout.awaiting-approval:awaiting-approval#2');
    expect(gate?.subject).toBe('[ami-bakery] minimal: approve rolling ami-new out to wave fleet: web-a');
  });
});

function rolloutOf(pipeline: Pipeline): NonNullable<Pipeline['rollout']> {
  if (!pipeline.rollout) throw new Error('the pipeline has no rollout');
  return pipeline.rollout;
}

function firstWave(rollout: NonNullable<Pipeline['rollout']>) {
  const [wave] = rollout.waves ?? [];
  if (!wave) throw new Error('the rollout has no waves');
  return wave;
}

describe('waves: what mutation testing found unstated', () => {
  it('a manual rollout skips the first wave’s gate but not the later ones', () => {
    const gated: Pipeline = {
      ...staged(),
      rollout: {
        ...rolloutOf(staged()),
        requireApproval: true,
      },
    };
    const decision = decide(bake('requested', { kind: 'rollout' }), gated, seen());

    expect(decision.next.phase).toBe('rolling');
    expect(decision.next.waves).toEqual([
      { name: 'canary', status: 'rolling', startedAt: NOW.toISOString() },
      { name: 'fleet', status: 'pending' },
    ]);
  });

  it('a bake cancelled during a wave cancels it and the waves after, with the reason, and keeps the ones done', () => {
    const record = bake('refreshing', {
      cancelRequested: true,
      waves: [
        { name: 'canary', status: 'succeeded' },
        { name: 'fleet', status: 'baking' },
        { name: 'rest', status: 'pending' },
      ],
      rollout: [moving('canary', 0, { status: 'succeeded' }), moving('web-a', 1)],
    });

    const decision = decide(record, staged(), seen({ groups, refreshes: [refresh('web-a', 'Baking')] }));

    expect(decision.next.phase).toBe('cancelled');
    expect(decision.next.waves).toEqual([
      { name: 'canary', status: 'succeeded' },
      { name: 'fleet', status: 'cancelled', reason: 'The bake was cancelled' },
      { name: 'rest', status: 'cancelled', reason: 'The bake was cancelled' },
    ]);
    expect(decision.actions).toContainEqual({ kind: 'cancel-refresh', group: 'web-a' });
  });

  const westPipeline = (): Pipeline => {
    const { rollout } = staged();
    if (!rollout) throw new Error('staged() has a rollout');
    return {
      ...minimal,
      distribute: { ...minimal.distribute, regions: ['eu-west-1'] },
      rollout: {
        ...rollout,
        waves: [
          {
            ...firstWave(rollout),
            targets: [{ autoScalingGroup: 'canary', region: 'eu-west-1', setDefaultVersion: true }],
          },
        ],
      },
    };
  };

  /** The groups as a pass reads them in eu-west-1. */
  const westGroups = groups.map((g) => ({ ...g, region: 'eu-west-1' }));

  it('versions a group in another region with the copy there, and every later action names the region', () => {
    const record = bake('rolling', {
      copies: [{ region: 'eu-west-1', imageId: 'ami-west' }],
      waves: [{ name: 'canary', status: 'rolling' }],
      rollout: [{ group: 'canary', wave: 0, region: 'eu-west-1', status: 'pending' }],
    });

    const decision = decide(record, westPipeline(), seen({ groups: westGroups }));

    expect(decision.actions).toEqual([
      {
        kind: 'create-template-version',
        region: 'eu-west-1',
        group: 'canary',
        templateId: 'lt-0',
        sourceVersion: 3,
        imageId: 'ami-west',
        makeDefault: true,
      },
    ]);

    const refreshing = decide(
      bake('refreshing', {
        waves: [{ name: 'canary', status: 'rolling' }],
        rollout: [moving('canary', 0, { region: 'eu-west-1' })],
      }),
      westPipeline(),
      seen({ groups: westGroups, refreshes: [{ ...refresh('canary', 'Successful'), region: 'eu-west-1' }] }),
    );
    expect(refreshing.actions.filter((a) => a.kind === 'prune-template-versions')).toEqual([
      { kind: 'prune-template-versions', region: 'eu-west-1', templateId: 'lt-0', keep: 10 },
    ]);
  });

  it('fails a group in a region without a copy of the image, naming the region', () => {
    const record = bake('rolling', {
      waves: [{ name: 'canary', status: 'rolling' }],
      rollout: [{ group: 'canary', wave: 0, region: 'eu-west-1', status: 'pending' }],
    });

    const decision = decide(record, westPipeline(), seen({ groups: westGroups, refreshes: [] }));

    // The wave fails with it, and the bake ends: the record says where the group was left too.
    expect(decision.next.rollout?.[0]).toMatchObject({
      group: 'canary',
      wave: 0,
      region: 'eu-west-1',
      status: 'failed',
      reason: 'No copy of the image in eu-west-1',
    });
    expect(decision.next.failure?.message).toBe('canary: failed (No copy of the image in eu-west-1)');
  });

  it.each<[string, string[], WaveRecord['status']]>([
    ['one refresh baking, one still replacing', ['Baking', 'InProgress'], 'rolling'],
    ['both baking', ['Baking', 'Baking'], 'baking'],
  ])('a wave bakes only when every running refresh does: %s', (_, statuses, status) => {
    const record = bake('refreshing', {
      waves: waves('succeeded', 'rolling'),
      rollout: [moving('canary', 0, { status: 'succeeded' }), moving('web-a', 1), moving('web-b', 1)],
    });

    const decision = decide(
      record,
      staged(),
      seen({ groups, refreshes: [refresh('web-a', statuses[0] ?? ''), refresh('web-b', statuses[1] ?? '')] }),
    );

    expect(decision.next.waves?.[1]?.status).toBe(status);
  });

  it('a target leaving its bake time says so', () => {
    const record = bake('refreshing', {
      waves: waves('baking', 'pending'),
      rollout: [moving('canary', 0, { baking: true }), { group: 'web-a', wave: 1, status: 'pending' }],
    });

    const decision = decide(
      record,
      staged(),
      seen({ groups, refreshes: [refresh('canary', 'InProgress', 'r-canary', 60)] }),
    );

    expect(decision.next.rollout?.[0]).toMatchObject({ baking: false, percentage: 60, status: 'refreshing' });
  });

  it('rolls back only what moved: not a group of this wave that failed before its refresh, nor one of an earlier wave that failed', () => {
    const record = bake('refreshing', {
      waves: waves('succeeded', 'rolling'),
      rollout: [
        moving('canary', 0, { status: 'succeeded' }),
        moving('web-a', 1, { status: 'failed', refreshId: undefined, reason: 'Group gone' }),
        moving('web-b', 1),
      ],
    });

    const decision = decide(
      record,
      staged('rollback'),
      seen({ groups, refreshes: [{ ...refresh('web-b', 'Failed'), reason: 'boom' }] }),
    );

    expect(decision.next.rollout?.map((t) => [t.group, t.status])).toEqual([
      ['canary', 'rolling-back'],
      ['web-a', 'failed'],
      ['web-b', 'rolling-back'],
    ]);
    expect(decision.next.rollout?.[0]).toMatchObject({ percentage: 0, baking: false });
    expect(decision.next.rollbackFor).toEqual({
      phase: 'refreshing',
      code: 'RolloutFailed',
      message: 'wave fleet: web-a: failed (Group gone); web-b: failed (boom)',
    });
  });

  it('while rolling back: waits for a refresh it did not start, and for one it started that is not visible yet', () => {
    const record = bake('rolling-back', {
      waves: waves('succeeded', 'failed'),
      rollbackFor: { phase: 'refreshing', code: 'RolloutFailed', message: 'x' },
      rollout: [
        moving('canary', 0, { status: 'rolling-back' }),
        moving('web-a', 1, { status: 'rolling-back', rollbackRefreshId: 'back-web-a' }),
        moving('web-b', 1, { status: 'rolling-back', templateId: undefined }),
      ],
    });

    const decision = decide(
      record,
      staged('rollback'),
      seen({ groups, refreshes: [refresh('canary', 'InProgress', 'theirs')] }),
    );

    expect(decision.actions).toEqual([]);
    expect(decision.next.phase).toBe('rolling-back');
    expect(decision.next.rollout?.map((t) => [t.status, t.reason])).toEqual([
      ['rolling-back', 'Waiting for refresh theirs (InProgress)'],
      ['rolling-back', undefined],
      ['failed', 'Nothing to roll back to'],
    ]);
  });

  it('while rolling back: follows its refresh by id, and ignores an old one of the same version', () => {
    const record = bake('rolling-back', {
      waves: waves('succeeded', 'failed'),
      rollbackFor: { phase: 'refreshing', code: 'RolloutFailed', message: 'x' },
      rollout: [moving('canary', 0, { status: 'rolling-back', rollbackRefreshId: 'back-2' })],
    });
    const old = { ...refresh('canary', 'Failed', 'back-1'), desiredTemplateId: 'lt-0', desiredVersion: '3' };

    const decision = decide(
      record,
      staged('rollback'),
      seen({ groups, refreshes: [old, refresh('canary', 'InProgress', 'back-2', 30)] }),
    );

    expect(decision.next.rollout?.[0]).toMatchObject({
      status: 'rolling-back',
      rollbackRefreshId: 'back-2',
      percentage: 30,
    });
  });
});

describe('waves: each notification, exactly', () => {
  const before = bake('refreshing', {
    waves: waves('rolling', 'pending'),
    rollout: [moving('canary', 0), { group: 'web-a', wave: 1, status: 'pending' }],
  });

  it.each<[WaveRecord['status'], string, string, string]>([
    ['baking', 'rollout.wave-baking', 'info', 'in its bake time'],
    ['succeeded', 'rollout.wave-succeeded', 'info', 'succeeded'],
    ['failed', 'rollout.wave-failed', 'error', 'failed'],
  ])(
    'a wave %s: its type, severity, subject, stable id, and its own groups only',
    (status, type, severity, said) => {
      const next = {
        ...before,
        waves: [
          { name: 'canary', status },
          { name: 'fleet', status: 'pending' as const },
        ],
      };

      expect(notificationsFor(before, next)).toEqual([
        {
          id: `b1:${type}:wave-0:${status}`,
          type,
          severity,
          subject: `[ami-bakery] minimal: wave canary ${said}`,
          pipeline: 'minimal',
          bakeId: 'b1',
          phase: 'refreshing',
          at: T0,
          detail: {
            imageId: 'ami-new',
            wave: { index: 0, name: 'canary', status },
            targets: [moving('canary', 0)],
          },
        },
      ]);
    },
  );

  it('a later wave starting is rollout.wave-started', () => {
    const next = { ...before, waves: waves('succeeded', 'rolling') };

    expect(notificationsFor(before, next).map((n) => [n.type, n.subject])).toEqual([
      ['rollout.wave-succeeded', '[ami-bakery] minimal: wave canary succeeded'],
      ['rollout.wave-started', '[ami-bakery] minimal: wave fleet started'],
    ]);
  });

  it('a rollout of one wave says nothing per wave', () => {
    const one = bake('refreshing', { waves: [{ name: 'wave-1', status: 'rolling' }] });

    expect(notificationsFor(one, { ...one, waves: [{ name: 'wave-1', status: 'succeeded' }] })).toEqual([]);
  });

  it('a gate at the first wave of several names that wave; a gate of one wave names none', () => {
    const gated = (waveRecords: WaveRecord[]) => {
      const previous = bake('publishing', {
        waves: waveRecords.map((w) => ({ ...w, status: 'pending' as const })),
        rollout: [{ group: 'canary', wave: 0, status: 'pending' }],
      });
      const next = {
        ...previous,
        phase: 'awaiting-approval' as const,
        waves: waveRecords,
        timeline: [...previous.timeline, { phase: 'awaiting-approval' as const, at: T0 }],
      };
      return notificationsFor(previous, next).find((n) => n.type === 'rollout.awaiting-approval');
    };

    const first = gated([
      { name: 'canary', status: 'awaiting-approval' },
      { name: 'fleet', status: 'pending' },
    ]);
    const single = gated([{ name: 'wave-1', status: 'awaiting-approval' }]);

    expect(first?.subject).toBe('[ami-bakery] minimal: approve rolling ami-new out to wave canary: canary');
    expect(first?.detail.wave).toEqual({ index: 0, name: 'canary', status: 'awaiting-approval' });
    expect(first?.id).toBe('b1:rollout.awaiting-approval:awaiting-approval');
    expect(single?.subject).toBe('[ami-bakery] minimal: approve rolling ami-new out to canary');
    expect(single?.detail.wave).toBeUndefined();
  });

  it('a phase entered twice in one commit: each entry says the phase it came from', () => {
    const previous = bake('refreshing', { timeline: [{ phase: 'refreshing', at: T0 }] });
    const next = {
      ...previous,
      phase: 'refreshing' as const,
      timeline: [
        ...previous.timeline,
        { phase: 'rolling' as const, at: T0 },
        { phase: 'refreshing' as const, at: T0 },
      ],
    };

    expect(notificationsFor(previous, next).map((n) => [n.id, n.detail.from])).toEqual([
      ['b1:bake.phase:rolling', 'refreshing'],
      ['b1:bake.phase:refreshing#2', 'rolling'],
    ]);
  });
});

describe('waves: rolling back, the last details', () => {
  const back = (patch: Partial<BakeRecord> = {}) =>
    bake('rolling-back', {
      waves: waves('succeeded', 'failed'),
      rollbackFor: { phase: 'refreshing', code: 'RolloutFailed', message: 'wave fleet: web-b: failed' },
      rollout: [
        moving('canary', 0, { status: 'rolling-back', rollbackRefreshId: 'back-canary' }),
        moving('web-a', 0, { status: 'rolling-back', rollbackRefreshId: 'back-web-a' }),
      ],
      ...patch,
    });

  it('waits for the refreshes to be read before it starts any', () => {
    const decision = decide(
      back({ rollout: [moving('canary', 0, { status: 'rolling-back' })] }),
      staged('rollback'),
      seen({ groups }),
    );

    expect(decision.actions).toEqual([]);
    expect(decision.next.phase).toBe('rolling-back');
  });

  it('a wave is rolled back only when every one of its groups is back', () => {
    const decision = decide(
      back(),
      staged('rollback'),
      seen({
        groups,
        refreshes: [
          refresh('canary', 'Successful', 'back-canary'),
          refresh('web-a', 'Cancelled', 'back-web-a'),
        ],
      }),
    );

    expect(decision.next.phase).toBe('failed');
    expect(decision.next.waves?.map((w) => w.status)).toEqual(['succeeded', 'failed']);
    expect(decision.next.rollout?.map((t) => [t.status, t.reason])).toEqual([
      ['rolled-back', 'Back on version 3'],
      ['failed', 'Rollback refresh Cancelled'],
    ]);
  });
  const WORKLOAD = '222233334444';
  const accountPipeline = (): Pipeline => {
    const { rollout } = staged();
    if (!rollout) throw new Error('staged() has a rollout');
    return {
      ...minimal,
      distribute: { ...minimal.distribute, accounts: [WORKLOAD] },
      rollout: {
        ...rollout,
        targetRole: { name: 'ami-bakery-target', externalId: 'ext-1' },
        waves: [
          {
            ...firstWave(rollout),
            targets: [{ autoScalingGroup: 'canary', account: WORKLOAD, setDefaultVersion: true }],
          },
        ],
      },
    };
  };
  const accountRecord = () =>
    bake('rolling', {
      waves: [{ name: 'canary', status: 'rolling' }],
      rollout: [{ group: 'canary', wave: 0, account: WORKLOAD, status: 'pending' }],
    });

  it('versions a group in another account only as read there, and the action names the account', () => {
    // A group of the same name in the service's own account is another group.
    const home = decide(accountRecord(), accountPipeline(), seen({ groups }));
    const there = decide(
      accountRecord(),
      accountPipeline(),
      seen({ groups: groups.map((g) => ({ ...g, account: WORKLOAD })) }),
    );

    expect(home.next.rollout?.[0]).toMatchObject({
      status: 'failed',
      reason: 'Group canary not found, or not using a launch template',
    });
    expect(there.actions).toEqual([
      {
        kind: 'create-template-version',
        account: WORKLOAD,
        group: 'canary',
        templateId: 'lt-0',
        sourceVersion: 3,
        imageId: 'ami-new',
        makeDefault: true,
      },
    ]);
  });

  it('fails a group whose account could not be read, with the refusal', () => {
    const decision = decide(
      accountRecord(),
      accountPipeline(),
      seen({ groups: [], unreachable: [{ account: WORKLOAD, reason: 'AccessDenied: not trusted' }] }),
    );

    expect(decision.next.rollout?.[0]).toMatchObject({
      status: 'failed',
      reason: `Account ${WORKLOAD} unreachable for canary: AccessDenied: not trusted`,
    });
  });
  it('fails a refreshing group whose account stopped answering; one it can read goes on', () => {
    const record = bake('refreshing', {
      waves: [{ name: 'canary', status: 'rolling' }],
      rollout: [moving('canary', 0, { account: WORKLOAD }), moving('web-a', 0)],
    });
    const cut = [{ account: WORKLOAD, reason: 'AccessDenied: revoked' }];

    const decision = decide(
      record,
      accountPipeline(),
      seen({ groups, refreshes: [refresh('web-a', 'InProgress', 'r-web-a', 50)], unreachable: cut }),
    );

    expect(decision.next.rollout?.map((t) => [t.group, t.status, t.reason])).toEqual([
      ['canary', 'failed', `Account ${WORKLOAD} unreachable for canary: AccessDenied: revoked`],
      ['web-a', 'refreshing', undefined],
    ]);
  });
});
