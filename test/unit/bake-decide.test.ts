import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { applyResults, settle } from '../../lib/bake/apply';
import { backoffSeconds, decide, imageName } from '../../lib/bake/decide';
import type {
  Action,
  ActionResult,
  BakeRecord,
  Cleanup,
  Observed,
  ObservedCommand,
  ObservedGroup,
  ObservedImage,
  ObservedInstance,
  ObservedRefresh,
  Phase,
  RolloutTarget,
} from '../../lib/bake/model';
import { loadPipelines } from '../../lib/pipeline/catalog';
import type { Pipeline } from '../../lib/pipeline/schema';

const [web, minimal] = loadPipelines([...pipelines], { builderProfile: 'ami-bakery-builder' }) as [
  Pipeline,
  Pipeline,
];
const withTest: Pipeline = {
  ...minimal,
  test: { steps: [{ name: 'boots', run: ['true'], timeoutSeconds: 60 }] },
};
const distributed: Pipeline = {
  ...minimal,
  distribute: { regions: ['eu-west-1'], accounts: ['111122223333'], organizationalUnits: [], kmsKeys: {} },
};

const T0 = '2026-11-22T00:00:00.000Z';
const NOW = new Date('2026-11-22T00:00:10.000Z');

function bake(phase: Phase, patch: Partial<BakeRecord> = {}): BakeRecord {
  return {
    id: 'b1',
    pipeline: 'minimal',
    phase,
    version: 3,
    createdAt: T0,
    updatedAt: T0,
    phaseStartedAt: T0,
    region: 'us-east-1',
    baseImageId: 'ami-base',
    rootDeviceName: '/dev/xvda',
    recipeHash: 'h',
    builder: { attempt: 0, instanceType: 't3.micro', instanceId: 'i-b' },
    steps: [],
    copies: [],
    published: [],
    cancelRequested: false,
    timeline: [{ phase, at: T0 }],
    resources: [],
    ...patch,
  };
}

const builder = (state: string): ObservedInstance => ({ instanceId: 'i-b', role: 'builder', state });
const tester = (state: string): ObservedInstance => ({ instanceId: 'i-t', role: 'tester', state });
const command = (
  stage: ObservedCommand['stage'],
  step: string,
  status: ObservedCommand['status'],
  extra = {},
): ObservedCommand => ({
  commandId: `c-${step}`,
  stage,
  step,
  status,
  ...extra,
});
const image = (
  state: string,
  region = 'us-east-1',
  imageId = region === 'us-east-1' ? 'ami-new' : 'ami-copy',
): ObservedImage => ({
  imageId,
  name: 'minimal-x-b1',
  region,
  state,
});

function seen(parts: Partial<Observed> = {}): Observed {
  return { now: NOW, instances: [], agentOnline: new Set(), commands: [], images: [], ...parts };
}

const kinds = (actions: readonly Action[]) => actions.map((a) => a.kind);
const done = (stage: ObservedCommand['stage'], step: string) => command(stage, step, 'Success');

describe('decide: every phase against what AWS shows', () => {
  it.each<[string, BakeRecord, Pipeline, Observed, Phase, string[]]>([
    [
      'requested: launch the first instance type',
      bake('requested', { builder: undefined }),
      minimal,
      seen(),
      'launching',
      ['launch'],
    ],
    [
      'launching, nothing yet: launch (idempotent token)',
      bake('launching', { builder: { attempt: 0, instanceType: 't3.micro' } }),
      minimal,
      seen(),
      'launching',
      ['launch'],
    ],
    [
      'launching, pending: wait',
      bake('launching'),
      minimal,
      seen({ instances: [builder('pending')] }),
      'launching',
      [],
    ],
    [
      'launching, running but agent offline: wait',
      bake('launching'),
      minimal,
      seen({ instances: [builder('running')] }),
      'launching',
      [],
    ],
    [
      'launching, online: first step',
      bake('launching'),
      minimal,
      seen({ instances: [builder('running')], agentOnline: new Set(['i-b']) }),
      'provisioning',
      ['send-command'],
    ],
    [
      'launching, builder vanished: fail and clean',
      bake('launching'),
      minimal,
      seen({ instances: [builder('terminated')] }),
      'failed',
      [],
    ],
    [
      'provisioning, step running: wait',
      bake('provisioning'),
      minimal,
      seen({ instances: [builder('running')], commands: [command('provision', 'update', 'InProgress')] }),
      'provisioning',
      [],
    ],
    [
      'provisioning, last step done: validate',
      bake('provisioning'),
      minimal,
      seen({ instances: [builder('running')], commands: [done('provision', 'update')] }),
      'validating',
      ['send-command'],
    ],
    [
      'provisioning, step failed: fail, terminate builder',
      bake('provisioning'),
      minimal,
      seen({
        instances: [builder('running')],
        commands: [command('provision', 'update', 'Failed', { exitCode: 2 })],
      }),
      'failed',
      ['terminate'],
    ],
    [
      'provisioning, next step of many',
      bake('provisioning', { pipeline: 'web' }),
      web,
      seen({ instances: [builder('running')], commands: [done('provision', 'install-node')] }),
      'provisioning',
      ['send-command'],
    ],
    [
      'validating, done: stop',
      bake('validating'),
      minimal,
      seen({ instances: [builder('running')], commands: [done('validate', 'kernel')] }),
      'stopping',
      ['stop'],
    ],
    [
      'validating, timed out: fail',
      bake('validating'),
      minimal,
      seen({ instances: [builder('running')], commands: [command('validate', 'kernel', 'TimedOut')] }),
      'failed',
      ['terminate'],
    ],
    [
      'stopping, still stopping: wait',
      bake('stopping'),
      minimal,
      seen({ instances: [builder('stopping')] }),
      'stopping',
      [],
    ],
    [
      'stopping, stopped: create image',
      bake('stopping'),
      minimal,
      seen({ instances: [builder('stopped')] }),
      'imaging',
      ['create-image'],
    ],
    [
      'stopping, image already there (a pass died): adopt it',
      bake('stopping'),
      minimal,
      seen({ instances: [builder('stopped')], images: [image('pending')] }),
      'imaging',
      [],
    ],
    [
      'imaging, pending: wait',
      bake('imaging', { image: { imageId: 'ami-new', name: 'n' } }),
      minimal,
      seen({ instances: [builder('stopped')], images: [image('pending')] }),
      'imaging',
      [],
    ],
    [
      'imaging, failed: fail, mark image, terminate',
      bake('imaging', { image: { imageId: 'ami-new', name: 'n' } }),
      minimal,
      seen({ instances: [builder('stopped')], images: [image('failed')] }),
      'failed',
      ['mark-image-failed', 'terminate'],
    ],
    [
      'imaging, available: publish and succeed',
      bake('imaging', { image: { imageId: 'ami-new', name: 'n' } }),
      minimal,
      seen({ instances: [builder('stopped')], images: [image('available')] }),
      'succeeded',
      ['publish', 'terminate'],
    ],
    [
      'imaging, available, with a test stage: launch tester',
      bake('imaging', { image: { imageId: 'ami-new', name: 'n' } }),
      withTest,
      seen({ instances: [builder('stopped')], images: [image('available')] }),
      'testing',
      ['launch', 'terminate'],
    ],
    [
      'testing, tester online: run test',
      bake('testing', { image: { imageId: 'ami-new', name: 'n' } }),
      withTest,
      seen({ instances: [tester('running')], agentOnline: new Set(['i-t']), images: [image('available')] }),
      'testing',
      ['send-command'],
    ],
    [
      'testing, test failed: fail, mark image, terminate tester',
      bake('testing', { image: { imageId: 'ami-new', name: 'n' } }),
      withTest,
      seen({
        instances: [tester('running')],
        agentOnline: new Set(['i-t']),
        images: [image('available')],
        commands: [command('test', 'boots', 'Failed')],
      }),
      'failed',
      ['mark-image-failed', 'terminate'],
    ],
    [
      'testing, passed: terminate tester, publish',
      bake('testing', { image: { imageId: 'ami-new', name: 'n' } }),
      withTest,
      seen({
        instances: [tester('running')],
        agentOnline: new Set(['i-t']),
        images: [image('available')],
        commands: [done('test', 'boots')],
      }),
      'succeeded',
      ['publish', 'terminate'],
    ],
    [
      'distributing, copy missing: copy',
      bake('distributing', { pipeline: 'minimal', image: { imageId: 'ami-new', name: 'n' } }),
      distributed,
      seen({ images: [image('available')] }),
      'distributing',
      ['copy-image'],
    ],
    [
      'distributing, copy pending: wait',
      bake('distributing', {
        image: { imageId: 'ami-new', name: 'n' },
        copies: [{ region: 'eu-west-1', imageId: 'ami-copy' }],
      }),
      distributed,
      seen({ images: [image('available'), image('pending', 'eu-west-1')] }),
      'distributing',
      [],
    ],
    [
      'distributing, copies ready: share both, publish both',
      bake('distributing', {
        image: { imageId: 'ami-new', name: 'n' },
        copies: [{ region: 'eu-west-1', imageId: 'ami-copy' }],
      }),
      distributed,
      seen({ images: [image('available'), image('available', 'eu-west-1')] }),
      'succeeded',
      ['share-image', 'share-image', 'publish', 'publish'],
    ],
    [
      'cancel requested: cancel and clean',
      bake('provisioning', { cancelRequested: true }),
      minimal,
      seen({ instances: [builder('running')] }),
      'cancelled',
      ['terminate'],
    ],
    [
      'failure recorded by act: fail and clean',
      bake('stopping', { failure: { phase: 'stopping', code: 'X', message: 'm' } }),
      minimal,
      seen({ instances: [builder('running')] }),
      'failed',
      ['terminate'],
    ],
    [
      'terminal, instance still alive: terminate it',
      bake('failed'),
      minimal,
      seen({ instances: [builder('running')] }),
      'failed',
      ['terminate'],
    ],
    [
      'terminal, all gone: nothing',
      bake('succeeded'),
      minimal,
      seen({ instances: [builder('terminated')] }),
      'succeeded',
      [],
    ],
  ])('%s', (_, record, pipeline, observed, phase, actions) => {
    const decision = decide(record, pipeline, observed);

    expect(decision.next.phase).toBe(phase);
    expect(kinds(decision.actions)).toEqual(actions);
  });
});

const rolloutConfig: NonNullable<Pipeline['rollout']> = {
  targets: [{ autoScalingGroup: 'web-fleet', setDefaultVersion: true }],
  onFailure: 'stop',
  refresh: {
    minHealthyPercentage: 50,
    maxHealthyPercentage: 100,
    skipMatching: true,
    autoRollback: true,
    alarms: [],
    scaleInProtectedInstances: 'Wait',
    standbyInstances: 'Wait',
  },
  whenRefreshInProgress: 'wait',
  requireApproval: false,
  keepTemplateVersions: 10,
};
const rolled: Pipeline = { ...minimal, rollout: rolloutConfig };
const imaged = { image: { imageId: 'ami-new', name: 'n' } };
const target = (patch: Partial<RolloutTarget>): RolloutTarget[] => [
  { group: 'web-fleet', status: 'pending', ...patch },
];
const fleet = (usesAlias = false): ObservedGroup[] => [
  { name: 'web-fleet', templateId: 'lt-1', templateVersion: 3, usesAlias },
];
const refresh = (status: string, id = 'r-1', percentage = 50): ObservedRefresh => ({
  group: 'web-fleet',
  id,
  status,
  percentage,
});

/** A target of the bake's own: web-fleet refreshing from version 3 to 4, which it made the default. */
const ours = (patch: Partial<RolloutTarget> = {}): RolloutTarget => ({
  group: 'web-fleet',
  status: 'refreshing',
  refreshId: 'r-1',
  templateId: 'lt-1',
  sourceVersion: 3,
  version: 4,
  madeDefault: true,
  ...patch,
});

describe('decide: rollout', () => {
  it.each<[string, BakeRecord, Observed, Phase, string[]]>([
    [
      'publishing with a rollout: publish, then roll',
      bake('publishing', imaged),
      seen(),
      'rolling',
      ['publish'],
    ],
    [
      'rolling, groups not read yet: wait',
      bake('rolling', { ...imaged, rollout: target({}) }),
      seen(),
      'rolling',
      [],
    ],
    [
      'rolling: a version per target',
      bake('rolling', { ...imaged, rollout: target({}) }),
      seen({ groups: fleet() }),
      'rolling',
      ['create-template-version'],
    ],
    [
      'rolling, group missing: the target fails, then the bake',
      bake('rolling', { ...imaged, rollout: target({}) }),
      seen({ groups: [], refreshes: [] }),
      'failed',
      [],
    ],
    [
      'rolling, all versioned: start refreshes',
      bake('rolling', {
        ...imaged,
        rollout: target({ status: 'versioned', templateId: 'lt-1', version: 4 }),
      }),
      seen({ groups: fleet(), refreshes: [] }),
      'refreshing',
      ['start-refresh'],
    ],
    [
      'refreshing, a foreign refresh, policy wait: wait',
      bake('refreshing', {
        ...imaged,
        rollout: target({ status: 'versioned', templateId: 'lt-1', version: 4 }),
      }),
      seen({ groups: fleet(), refreshes: [refresh('InProgress', 'r-other')] }),
      'refreshing',
      [],
    ],
    [
      'refreshing, ours in progress: wait',
      bake('refreshing', { ...imaged, rollout: target({ status: 'refreshing', refreshId: 'r-1' }) }),
      seen({ groups: fleet(), refreshes: [refresh('InProgress')] }),
      'refreshing',
      [],
    ],
    [
      'refreshing, ours successful: succeed, and prune the template',
      bake('refreshing', {
        ...imaged,
        rollout: target({ status: 'refreshing', refreshId: 'r-1', templateId: 'lt-1', version: 4 }),
      }),
      seen({ groups: fleet(), refreshes: [refresh('Successful', 'r-1', 100)] }),
      'succeeded',
      ['prune-template-versions'],
    ],
    [
      'refreshing, cancel requested: cancel our refresh, end cancelled',
      bake('refreshing', {
        ...imaged,
        cancelRequested: true,
        rollout: target({ status: 'refreshing', refreshId: 'r-1' }),
      }),
      seen({ groups: fleet(), refreshes: [refresh('InProgress')] }),
      'cancelled',
      ['cancel-refresh'],
    ],
    [
      'refreshing, cancel requested after ours ended: nothing to cancel',
      bake('refreshing', {
        ...imaged,
        cancelRequested: true,
        rollout: target({ status: 'refreshing', refreshId: 'r-1' }),
      }),
      seen({ groups: fleet(), refreshes: [refresh('Successful', 'r-1', 100), refresh('InProgress', 'r-x')] }),
      'cancelled',
      [],
    ],
    [
      'a rollout of an existing image: straight to rolling',
      bake('requested', { ...imaged, kind: 'rollout', builder: undefined }),
      seen(),
      'rolling',
      [],
    ],
    [
      'refreshing, ours rolled back: fail',
      bake('refreshing', { ...imaged, rollout: target({ status: 'refreshing', refreshId: 'r-1' }) }),
      seen({ groups: fleet(), refreshes: [refresh('RollbackSuccessful')] }),
      'failed',
      [],
    ],
  ])('%s', (_, record, observed, phase, actions) => {
    const decision = decide(record, rolled, observed);

    expect(decision.next.phase).toBe(phase);
    expect(kinds(decision.actions)).toEqual(actions);
  });

  it('adopts a refresh it started but never recorded (a pass died), instead of starting another', () => {
    const record = bake('refreshing', {
      ...imaged,
      rollout: target({ status: 'versioned', templateId: 'lt-1', version: 4 }),
    });
    const unrecorded: ObservedRefresh = {
      ...refresh('InProgress', 'r-9'),
      desiredTemplateId: 'lt-1',
      desiredVersion: '4',
    };

    const decision = decide(record, rolled, seen({ groups: fleet(), refreshes: [unrecorded] }));

    expect(decision.actions).toEqual([]);
    expect(decision.next.rollout?.[0]).toMatchObject({ status: 'refreshing', refreshId: 'r-9' });
  });

  it('cancels a foreign refresh when the policy says so', () => {
    const cancelling: Pipeline = {
      ...rolled,
      rollout: { ...rolloutConfig, whenRefreshInProgress: 'cancel' },
    };
    const record = bake('refreshing', {
      ...imaged,
      rollout: target({ status: 'versioned', templateId: 'lt-1', version: 4 }),
    });

    const decision = decide(
      record,
      cancelling,
      seen({ groups: fleet(), refreshes: [refresh('InProgress', 'r-other')] }),
    );

    expect(decision.actions).toEqual([{ kind: 'cancel-refresh', group: 'web-fleet' }]);
  });

  it.each([
    [false, true],
    [true, false],
  ])(
    'asks for auto rollback only on a group with an explicit version (alias %s -> %s)',
    (usesAlias, autoRollback) => {
      const record = bake('refreshing', {
        ...imaged,
        rollout: target({ status: 'versioned', templateId: 'lt-1', version: 4 }),
      });

      const decision = decide(record, rolled, seen({ groups: fleet(usesAlias), refreshes: [] }));

      expect(decision.actions[0]).toMatchObject({ kind: 'start-refresh', version: 4, autoRollback });
    },
  );
});

describe('decide: approval gate', () => {
  const gated: Pipeline = { ...rolled, rollout: { ...rolloutConfig, requireApproval: true } };
  const waiting = (patch: Partial<BakeRecord> = {}) =>
    bake('awaiting-approval', { ...imaged, rollout: target({}), ...patch });
  const answer = (decision: 'approved' | 'rejected') => ({ approval: { decision, at: T0, by: 'alice' } });

  it.each<[string, BakeRecord, Observed, Phase, string[]]>([
    [
      'publishing: publish, then wait for approval',
      bake('publishing', imaged),
      seen(),
      'awaiting-approval',
      ['publish'],
    ],
    ['no answer yet: wait', waiting(), seen(), 'awaiting-approval', []],
    ['approved: roll', waiting(answer('approved')), seen(), 'rolling', []],
    [
      'rejected: cancelled, the image marked so it is never rolled out',
      waiting(answer('rejected')),
      seen({ images: [image('available')] }),
      'cancelled',
      ['mark-image-failed'],
    ],
    [
      'cancel requested while waiting: cancelled',
      waiting({ cancelRequested: true }),
      seen(),
      'cancelled',
      [],
    ],
  ])('%s', (_, record, observed, phase, actions) => {
    const decision = decide(record, gated, observed);

    expect(decision.next.phase).toBe(phase);
    expect(kinds(decision.actions)).toEqual(actions);
  });

  it('waits with a long timer: approve and reject wake the bake themselves', () => {
    expect(decide(waiting(), gated, seen()).wakeInSeconds).toBe(900);
  });

  it('fails the bake when nobody answers before the deadline', () => {
    const late = { ...seen(), now: new Date(Date.parse(T0) + 259_201_000) };

    const decision = decide(waiting(), gated, late);

    expect(decision.next.phase).toBe('failed');
    expect(decision.next.failure).toMatchObject({ code: 'ApprovalTimedOut', phase: 'awaiting-approval' });
  });
});

describe('decide: refresh checkpoints', () => {
  const checkpointed: Pipeline = {
    ...rolled,
    rollout: {
      ...rolloutConfig,
      refresh: { ...rolloutConfig.refresh, checkpointPercentages: [25, 50, 100], checkpointDelaySeconds: 60 },
    },
  };
  const refreshing = (checkpoint?: number) =>
    bake('refreshing', {
      ...imaged,
      rollout: target({ status: 'refreshing', refreshId: 'r-1', ...(checkpoint ? { checkpoint } : {}) }),
    });

  it.each<[string, number | undefined, number, number | undefined]>([
    ['below the first checkpoint', undefined, 20, undefined],
    ['at the first', undefined, 25, 25],
    ['past two at once: the highest', undefined, 60, 50],
    ['already announced', 50, 60, 50],
    ['at 100 while still in progress: completion, not a checkpoint', 50, 100, 50],
  ])('%s', (_, before, percentage, after) => {
    const decision = decide(
      refreshing(before),
      checkpointed,
      seen({ groups: fleet(), refreshes: [refresh('InProgress', 'r-1', percentage)] }),
    );

    expect(decision.next.rollout?.[0]?.checkpoint).toBe(after);
  });

  it('waits while the refresh is Baking (its bake time), as a refresh still under way', () => {
    const decision = decide(
      refreshing(50),
      checkpointed,
      seen({ groups: fleet(), refreshes: [refresh('Baking', 'r-1', 100)] }),
    );

    expect(decision.next.phase).toBe('refreshing');
    expect(decision.next.rollout?.[0]).toMatchObject({
      status: 'refreshing',
      percentage: 100,
      checkpoint: 50,
    });
  });

  it('records why a refresh waits (protected or Standby instances), and drops it once it goes on', () => {
    const reason = 'Waiting for 1 instance(s) protected from scale in.';
    const waiting = decide(
      refreshing(),
      checkpointed,
      seen({ groups: fleet(), refreshes: [{ ...refresh('InProgress', 'r-1', 50), reason }] }),
    );
    const moving = decide(
      waiting.next,
      checkpointed,
      seen({ groups: fleet(), refreshes: [refresh('InProgress', 'r-1', 60)] }),
    );

    expect(waiting.next.rollout?.[0]).toMatchObject({ status: 'refreshing', reason });
    expect(moving.next.rollout?.[0]?.reason).toBeUndefined();
  });

  it('passes no checkpoint while rolling back, and records the percentage as it counts down', () => {
    const decision = decide(
      refreshing(),
      checkpointed,
      seen({ groups: fleet(), refreshes: [refresh('RollbackInProgress', 'r-1', 60)] }),
    );

    expect(decision.next.rollout?.[0]).toMatchObject({ status: 'refreshing', percentage: 60 });
    expect(decision.next.rollout?.[0]?.checkpoint).toBeUndefined();
  });
});

describe('decide: steps of a bake that ends early', () => {
  const steps: BakeRecord['steps'] = [
    { stage: 'provision', name: 'update', commandId: 'c-1', status: 'Success', exitCode: 0 },
    { stage: 'provision', name: 'configure', commandId: 'c-2', status: 'InProgress' },
    { stage: 'validate', name: 'kernel', status: 'NotStarted' },
  ];

  it.each<[string, BakeRecord]>([
    ['cancelled', bake('provisioning', { cancelRequested: true, steps })],
    ['failed', bake('provisioning', { steps, failure: { phase: 'provisioning', code: 'X', message: 'm' } })],
  ])('%s: the step under way is Cancelled, the one never started stays NotStarted', (phase, before) => {
    const decision = decide(before, minimal, seen({ instances: [builder('running')] }));

    expect(decision.next.phase).toBe(phase);
    expect(decision.next.steps.map((s) => s.status)).toEqual(['Success', 'Cancelled', 'NotStarted']);
  });
});

describe('decide: rollout targets of a bake that ends early', () => {
  it.each<[string, BakeRecord, string]>([
    [
      'rejected at the gate',
      bake('awaiting-approval', {
        approval: { decision: 'rejected', at: '2026-11-22T04:00:00Z' },
        rollout: target({ status: 'pending' }),
      }),
      'Rejected at the approval gate',
    ],
    [
      'cancelled while refreshing',
      bake('refreshing', {
        cancelRequested: true,
        rollout: target({ status: 'refreshing', refreshId: 'r-1' }),
      }),
      'The bake was cancelled',
    ],
  ])('%s: the target is cancelled, with why', (_, before, reason) => {
    const decision = decide(before, web, seen({ groups: fleet() }));

    expect(decision.next.phase).toBe('cancelled');
    expect(decision.next.rollout?.[0]).toMatchObject({ status: 'cancelled', reason });
  });
});

describe('decide: where the groups stand when a bake ends', () => {
  /** web-fleet names version 3; half its instances run the bake's version 4; `defaultVersion` is the template's. */
  const split = (defaultVersion: number, extra: Partial<ObservedGroup> = {}): ObservedGroup[] => [
    {
      name: 'web-fleet',
      templateId: 'lt-1',
      templateVersion: 3,
      usesAlias: false,
      namedVersion: '3',
      defaultVersion,
      instances: [
        { version: '3', count: 2 },
        { version: '4', count: 2 },
      ],
      ...extra,
    },
  ];
  const restore = { kind: 'restore-default-version', templateId: 'lt-1', version: 3, replacing: 4 };
  const cancelled = (targets: RolloutTarget[]): BakeRecord =>
    bake('refreshing', { ...imaged, cancelRequested: true, rollout: targets });

  it.each<[string, BakeRecord, Observed, object[], object]>([
    [
      'cancelled: the default the bake set is put back',
      cancelled([ours()]),
      seen({ groups: split(4), refreshes: [refresh('InProgress')] }),
      [restore],
      { defaultVersion: 3, defaultRestoredFrom: 4 },
    ],
    [
      'cancelled, somebody changed the default since: left alone',
      cancelled([ours()]),
      seen({ groups: split(7), refreshes: [refresh('InProgress')] }),
      [],
      { defaultVersion: 7 },
    ],
    [
      'cancelled, the pipeline did not set the default: left alone',
      cancelled([ours({ madeDefault: false })]),
      seen({ groups: split(4), refreshes: [refresh('InProgress')] }),
      [],
      { defaultVersion: 4 },
    ],
    [
      'rolled back: the default is put back too',
      bake('refreshing', { ...imaged, rollout: [ours()] }),
      seen({ groups: split(4), refreshes: [refresh('RollbackSuccessful', 'r-1', 0)] }),
      [restore],
      { defaultVersion: 3, defaultRestoredFrom: 4 },
    ],
    [
      'succeeded: the default stays the bake version',
      bake('refreshing', { ...imaged, rollout: [ours()] }),
      seen({
        groups: split(4, { namedVersion: '4', templateVersion: 4, instances: [{ version: '4', count: 4 }] }),
        refreshes: [refresh('Successful', 'r-1', 100)],
      }),
      [],
      { groupVersion: '4', instances: [{ version: '4', count: 4 }], defaultVersion: 4 },
    ],
  ])('%s', (_, before, observed, restores, ended) => {
    const decision = decide(before, rolled, observed);

    expect(decision.actions.filter((a) => a.kind === 'restore-default-version')).toEqual(restores);
    expect(decision.next.rollout?.[0]?.ended).toMatchObject({
      groupVersion: '3',
      instances: [
        { version: '3', count: 2 },
        { version: '4', count: 2 },
      ],
      ...ended,
    });
  });

  it('puts the default of a shared template back once, and says so on every group of it', () => {
    const two = [ours(), ours({ group: 'api-fleet', refreshId: 'r-2' })];
    const groups = [...split(4), ...split(4).map((g) => ({ ...g, name: 'api-fleet' }))];

    const decision = decide(cancelled(two), rolled, seen({ groups, refreshes: [] }));

    expect(decision.actions.filter((a) => a.kind === 'restore-default-version')).toEqual([restore]);
    expect(decision.next.rollout?.map((t) => t.ended?.defaultRestoredFrom)).toEqual([4, 4]);
  });

  it('says nothing of groups the bake never looked at (rejected before rolling)', () => {
    const rejected = bake('awaiting-approval', {
      ...imaged,
      approval: { decision: 'rejected', at: '2026-11-22T04:00:00Z' },
      rollout: target({}),
    });

    const decision = decide(rejected, rolled, seen());

    expect(decision.next.rollout?.[0]).not.toHaveProperty('ended');
  });
});

describe('applyResults: what the actions returned, folded into the record', () => {
  const base = bake('launching', { builder: { attempt: 1, instanceType: 't3.small' } });

  it.each<[string, BakeRecord, ActionResult[], Partial<BakeRecord>]>([
    [
      'a launched builder, kept with its attempt and type, and listed once',
      base,
      [
        { kind: 'launched', role: 'builder', instanceId: 'i-1' },
        { kind: 'launched', role: 'builder', instanceId: 'i-1' },
      ],
      {
        builder: { attempt: 1, instanceType: 't3.small', instanceId: 'i-1' },
        resources: [{ kind: 'instance', id: 'i-1', region: 'us-east-1' }],
      },
    ],
    [
      'a launched builder on a record without one',
      bake('launching', { builder: undefined }),
      [{ kind: 'launched', role: 'builder', instanceId: 'i-1' }],
      {
        builder: { attempt: 0, instanceType: '', instanceId: 'i-1' },
        resources: [{ kind: 'instance', id: 'i-1', region: 'us-east-1' }],
      },
    ],
    [
      'a launched tester, the builder untouched',
      base,
      [{ kind: 'launched', role: 'tester', instanceId: 'i-t' }],
      {
        tester: { instanceId: 'i-t' },
        builder: base.builder,
        resources: [{ kind: 'instance', id: 'i-t', region: 'us-east-1' }],
      },
    ],
    [
      'no capacity: the next attempt, with the type that had none',
      base,
      [{ kind: 'no-capacity', instanceType: 't3.small' }],
      { builder: { attempt: 2, instanceType: 't3.small' } },
    ],
    [
      'no capacity on a record without a builder: attempt 1',
      bake('launching', { builder: undefined }),
      [{ kind: 'no-capacity', instanceType: 't3.micro' }],
      { builder: { attempt: 1, instanceType: 't3.micro' } },
    ],
    [
      'a command sent for a new step: appended, Pending',
      bake('provisioning', {
        steps: [{ stage: 'provision', name: 'a', status: 'Success', commandId: 'c-a' }],
      }),
      [{ kind: 'command-sent', stage: 'provision', step: 'b', commandId: 'c-b' }],
      {
        steps: [
          { stage: 'provision', name: 'a', status: 'Success', commandId: 'c-a' },
          { stage: 'provision', name: 'b', status: 'Pending', commandId: 'c-b' },
        ],
      },
    ],
    [
      'a command sent for a step on record: replaced in place, other stages untouched',
      bake('validating', {
        steps: [
          { stage: 'provision', name: 'a', status: 'Success', commandId: 'c-1' },
          { stage: 'validate', name: 'a', status: 'NotStarted' },
        ],
      }),
      [{ kind: 'command-sent', stage: 'validate', step: 'a', commandId: 'c-2' }],
      {
        steps: [
          { stage: 'provision', name: 'a', status: 'Success', commandId: 'c-1' },
          { stage: 'validate', name: 'a', status: 'Pending', commandId: 'c-2' },
        ],
      },
    ],
    [
      'an image created: recorded with its name, and listed',
      bake('imaging'),
      [{ kind: 'image-created', imageId: 'ami-1', name: 'n' }],
      {
        image: { imageId: 'ami-1', name: 'n' },
        resources: [{ kind: 'image', id: 'ami-1', region: 'us-east-1' }],
      },
    ],
    [
      'a copy: recorded once per region, and listed',
      bake('distributing', { copies: [{ region: 'eu-west-1', imageId: 'ami-c1' }] }),
      [
        { kind: 'image-copied', region: 'eu-west-1', imageId: 'ami-c2' },
        { kind: 'image-copied', region: 'ap-south-1', imageId: 'ami-c3' },
      ],
      {
        copies: [
          { region: 'eu-west-1', imageId: 'ami-c1' },
          { region: 'ap-south-1', imageId: 'ami-c3' },
        ],
        resources: [
          { kind: 'image', id: 'ami-c2', region: 'eu-west-1' },
          { kind: 'image', id: 'ami-c3', region: 'ap-south-1' },
        ],
      },
    ],
    [
      'a parameter published: once per region, and listed',
      bake('publishing', { published: [{ region: 'us-east-1', parameter: '/p', imageId: 'ami-1' }] }),
      [
        { kind: 'published', region: 'us-east-1', parameter: '/p', imageId: 'ami-1' },
        { kind: 'published', region: 'eu-west-1', parameter: '/p', imageId: 'ami-2' },
      ],
      {
        published: [
          { region: 'us-east-1', parameter: '/p', imageId: 'ami-1' },
          { region: 'eu-west-1', parameter: '/p', imageId: 'ami-2' },
        ],
        resources: [
          { kind: 'parameter', id: '/p', region: 'us-east-1' },
          { kind: 'parameter', id: '/p', region: 'eu-west-1' },
        ],
      },
    ],
    [
      'a template versioned, then its refresh started: only that target changes',
      bake('rolling', {
        rollout: [
          { group: 'web-fleet', status: 'pending' },
          { group: 'api-fleet', status: 'pending' },
        ],
      }),
      [
        { kind: 'template-versioned', group: 'web-fleet', templateId: 'lt-1', version: 4 },
        { kind: 'refresh-started', group: 'web-fleet', refreshId: 'r-1' },
      ],
      {
        rollout: [
          {
            group: 'web-fleet',
            status: 'refreshing',
            templateId: 'lt-1',
            version: 4,
            refreshId: 'r-1',
            percentage: 0,
          },
          { group: 'api-fleet', status: 'pending' },
        ],
      },
    ],
    [
      'pruned: every target of the template gets the outcome, others none',
      bake('succeeded', {
        rollout: [
          { group: 'web-fleet', status: 'succeeded', templateId: 'lt-1' },
          { group: 'api-fleet', status: 'succeeded', templateId: 'lt-1' },
          { group: 'db-fleet', status: 'succeeded', templateId: 'lt-2' },
        ],
      }),
      [{ kind: 'pruned', templateId: 'lt-1', versions: [2, 3], problem: 'UnauthorizedOperation: no' }],
      {
        rollout: [
          {
            group: 'web-fleet',
            status: 'succeeded',
            templateId: 'lt-1',
            prunedVersions: [2, 3],
            pruneProblem: 'UnauthorizedOperation: no',
          },
          {
            group: 'api-fleet',
            status: 'succeeded',
            templateId: 'lt-1',
            prunedVersions: [2, 3],
            pruneProblem: 'UnauthorizedOperation: no',
          },
          { group: 'db-fleet', status: 'succeeded', templateId: 'lt-2' },
        ],
      },
    ],
    [
      'pruned without a problem: no problem recorded',
      bake('succeeded', { rollout: [{ group: 'web-fleet', status: 'succeeded', templateId: 'lt-1' }] }),
      [{ kind: 'pruned', templateId: 'lt-1', versions: [] }],
      { rollout: [{ group: 'web-fleet', status: 'succeeded', templateId: 'lt-1', prunedVersions: [] }] },
    ],
    [
      'a rejection: the failure, in AWS words, naming the action and the phase',
      bake('imaging'),
      [{ kind: 'rejected', action: 'create-image', code: 'InvalidParameterValue', message: 'bad name' }],
      { failure: { phase: 'imaging', code: 'InvalidParameterValue', message: 'create-image: bad name' } },
    ],
    [
      'a copy of a region already copied, among several: not recorded twice',
      bake('distributing', {
        copies: [
          { region: 'eu-west-1', imageId: 'ami-c1' },
          { region: 'ap-south-1', imageId: 'ami-c3' },
        ],
      }),
      [{ kind: 'image-copied', region: 'ap-south-1', imageId: 'ami-c3' }],
      {
        copies: [
          { region: 'eu-west-1', imageId: 'ami-c1' },
          { region: 'ap-south-1', imageId: 'ami-c3' },
        ],
        resources: [{ kind: 'image', id: 'ami-c3', region: 'ap-south-1' }],
      },
    ],
    [
      'a parameter of a region already published, among several: not recorded twice',
      bake('publishing', {
        published: [
          { region: 'us-east-1', parameter: '/p', imageId: 'ami-1' },
          { region: 'eu-west-1', parameter: '/p', imageId: 'ami-2' },
        ],
      }),
      [{ kind: 'published', region: 'eu-west-1', parameter: '/p', imageId: 'ami-2' }],
      {
        published: [
          { region: 'us-east-1', parameter: '/p', imageId: 'ami-1' },
          { region: 'eu-west-1', parameter: '/p', imageId: 'ami-2' },
        ],
        resources: [{ kind: 'parameter', id: '/p', region: 'eu-west-1' }],
      },
    ],
    [
      'resources are one per kind, id and region: the same id in another region or of another kind is another',
      bake('distributing', { resources: [{ kind: 'image', id: 'ami-1', region: 'us-east-1' }] }),
      [
        { kind: 'image-copied', region: 'eu-west-1', imageId: 'ami-1' },
        { kind: 'launched', role: 'tester', instanceId: 'ami-1' },
      ],
      {
        copies: [{ region: 'eu-west-1', imageId: 'ami-1' }],
        tester: { instanceId: 'ami-1' },
        resources: [
          { kind: 'image', id: 'ami-1', region: 'us-east-1' },
          { kind: 'image', id: 'ami-1', region: 'eu-west-1' },
          { kind: 'instance', id: 'ami-1', region: 'us-east-1' },
        ],
      },
    ],
    [
      'a command sent for a step of the same name in another stage: a step of its own',
      bake('validating', { steps: [{ stage: 'provision', name: 'a', status: 'Success', commandId: 'c-1' }] }),
      [{ kind: 'command-sent', stage: 'validate', step: 'a', commandId: 'c-2' }],
      {
        steps: [
          { stage: 'provision', name: 'a', status: 'Success', commandId: 'c-1' },
          { stage: 'validate', name: 'a', status: 'Pending', commandId: 'c-2' },
        ],
      },
    ],
    [
      'a versioned template: the target is versioned',
      bake('rolling', { rollout: [{ group: 'web-fleet', status: 'pending' }] }),
      [{ kind: 'template-versioned', group: 'web-fleet', templateId: 'lt-1', version: 4 }],
      { rollout: [{ group: 'web-fleet', status: 'versioned', templateId: 'lt-1', version: 4 }] },
    ],
    ['done: nothing changes', base, [{ kind: 'done' }], base],
  ])('%s', (_, before, results, expected) => {
    const after = applyResults(before, results);

    expect(after).toEqual({ ...before, ...expected });
  });
});

describe('settle: the record a pass commits', () => {
  const refused: ActionResult = {
    kind: 'rejected',
    action: 'publish',
    code: 'AccessDeniedException',
    message: 'no',
  };
  const publishing = bake('publishing', { ...imaged, timeline: [{ phase: 'publishing', at: T0 }] });
  const succeeded: BakeRecord = {
    ...publishing,
    phase: 'succeeded',
    timeline: [...publishing.timeline, { phase: 'succeeded', at: NOW.toISOString() }],
  };

  it('keeps a pass whose last action was refused out of succeeded: the phase before, with the failure', () => {
    const settled = settle(publishing, succeeded, [
      { kind: 'published', region: 'eu-west-1', parameter: '/p', imageId: 'ami-c' },
      refused,
    ]);

    expect(settled.phase).toBe('publishing');
    expect(settled.timeline).toEqual(publishing.timeline);
    expect(settled.failure).toEqual({
      phase: 'publishing',
      code: 'AccessDeniedException',
      message: 'publish: no',
    });
    expect(settled.published).toEqual([{ region: 'eu-west-1', parameter: '/p', imageId: 'ami-c' }]);
    // The next pass fails it the way every failure goes.
    const next = decide(settled, minimal, seen({ images: [image('available')] }));
    expect(next.next.phase).toBe('failed');
    expect(next.next.timeline.at(-1)?.phase).toBe('failed');
    expect(next.actions).toContainEqual({
      kind: 'mark-image-failed',
      imageId: 'ami-new',
      region: 'us-east-1',
    });
  });

  it('commits a succeeded pass as decided when nothing was refused', () => {
    expect(settle(publishing, succeeded, [{ kind: 'done' }])).toEqual(succeeded);
  });

  it('keeps the failure that ended a failed bake when a clean-up is refused after it', () => {
    const failed = bake('failed', { failure: { phase: 'provisioning', code: 'StepFailed', message: 'm' } });

    expect(settle(bake('provisioning'), failed, [refused]).failure).toEqual(failed.failure);
  });

  it('records a refusal on a bake still under way: the next pass fails it', () => {
    const settled = settle(bake('imaging'), bake('imaging'), [refused]);

    expect(settled.failure).toEqual({
      phase: 'imaging',
      code: 'AccessDeniedException',
      message: 'publish: no',
    });
    expect(decide(settled, minimal, seen()).next.phase).toBe('failed');
  });
});

describe('applyResults: a default put back, or not', () => {
  const ended = {
    groupVersion: '3',
    instances: [{ version: '4', count: 1 }],
    defaultVersion: 3,
    defaultRestoredFrom: 4,
  };
  const record = bake('cancelled', {
    rollout: [{ group: 'web-fleet', status: 'cancelled', templateId: 'lt-1', version: 4, ended }],
  });

  it('touches only the targets of that template that have ended', () => {
    const mixed = bake('cancelled', {
      rollout: [
        { group: 'web-fleet', status: 'cancelled', templateId: 'lt-1', version: 4, ended },
        { group: 'api-fleet', status: 'cancelled', templateId: 'lt-2', version: 4, ended },
        { group: 'db-fleet', status: 'cancelled', templateId: 'lt-1', version: 4 },
      ],
    });

    const after = applyResults(mixed, [
      { kind: 'default-restored', templateId: 'lt-1', defaultVersion: 9, restored: false },
    ]).rollout;

    expect(after?.map((t) => t.ended?.defaultVersion)).toEqual([9, 3, undefined]);
  });

  it('without the default in the answer, takes it to be still the bake version', () => {
    const after = applyResults(record, [{ kind: 'default-restored', templateId: 'lt-1', restored: false }]);

    expect(after.rollout?.[0]?.ended).toEqual({
      groupVersion: '3',
      instances: [{ version: '4', count: 1 }],
      defaultVersion: 4,
    });
  });

  it.each<[string, ActionResult, object]>([
    [
      'restored',
      { kind: 'default-restored', templateId: 'lt-1', defaultVersion: 3, restored: true },
      { defaultVersion: 3, defaultRestoredFrom: 4 },
    ],
    [
      'somebody moved it first: their default, not restored',
      { kind: 'default-restored', templateId: 'lt-1', defaultVersion: 9, restored: false },
      { defaultVersion: 9 },
    ],
    [
      'refused: still the bake version, and why',
      { kind: 'default-restored', templateId: 'lt-1', restored: false, problem: 'UnauthorizedOperation: no' },
      { defaultVersion: 4, defaultProblem: 'UnauthorizedOperation: no' },
    ],
  ])('%s', (_, result, expected) => {
    const after = applyResults(record, [result]).rollout?.[0]?.ended;

    expect(after).toEqual({ groupVersion: '3', instances: [{ version: '4', count: 1 }], ...expected });
  });
});

describe('decide: a pass that died after acting (adoption from what AWS shows)', () => {
  const unrecorded = bake('launching', { builder: { attempt: 0, instanceType: 't3.micro' } });

  it('adopts a builder it launched but never recorded, and lists it among the resources', () => {
    const decision = decide(unrecorded, minimal, seen({ instances: [builder('pending')] }));

    expect(decision.actions).toEqual([]);
    expect(decision.next.builder).toEqual({ attempt: 0, instanceType: 't3.micro', instanceId: 'i-b' });
    expect(decision.next.resources).toEqual([{ kind: 'instance', id: 'i-b', region: 'us-east-1' }]);
  });

  it('prefers the recorded builder over another live one of the bake', () => {
    const other: ObservedInstance = { instanceId: 'i-other', role: 'builder', state: 'running' };

    const decision = decide(bake('launching'), minimal, seen({ instances: [other, builder('pending')] }));

    expect(decision.next.builder?.instanceId).toBe('i-b');
    expect(decision.next.phase).toBe('launching');
  });

  it('never takes a tester for the builder', () => {
    const decision = decide(unrecorded, minimal, seen({ instances: [tester('running')] }));

    expect(decision.next.builder?.instanceId).toBeUndefined();
    expect(decision.actions.map((a) => (a.kind === 'launch' ? a.role : a.kind))).toEqual(['builder']);
  });

  it('adopts a tester, the home image and copies it made but never recorded', () => {
    const record = bake('testing', { builder: undefined, image: undefined, copies: [] });
    const observed = seen({
      instances: [tester('pending')],
      images: [image('available'), image('available', 'eu-west-1')],
    });

    const decision = decide(record, withTest, observed);

    expect(decision.next.tester).toEqual({ instanceId: 'i-t' });
    expect(decision.next.image).toEqual({ imageId: 'ami-new', name: 'minimal-x-b1' });
    expect(decision.next.copies).toEqual([{ region: 'eu-west-1', imageId: 'ami-copy' }]);
    expect(decision.next.resources).toEqual([
      { kind: 'instance', id: 'i-t', region: 'us-east-1' },
      { kind: 'image', id: 'ami-new', region: 'us-east-1' },
      { kind: 'image', id: 'ami-copy', region: 'eu-west-1' },
    ]);
  });

  it('keeps what it recorded: the recorded tester, image and copies are not replaced', () => {
    const record = bake('testing', {
      tester: { instanceId: 'i-t' },
      image: { imageId: 'ami-new', name: 'recorded' },
      copies: [{ region: 'eu-west-1', imageId: 'ami-copy' }],
    });
    const observed = seen({
      instances: [tester('pending')],
      images: [image('available'), image('available', 'eu-west-1', 'ami-copy')],
    });

    const decision = decide(record, withTest, observed);

    expect(decision.next.image).toEqual({ imageId: 'ami-new', name: 'recorded' });
    expect(decision.next.copies).toEqual([{ region: 'eu-west-1', imageId: 'ami-copy' }]);
  });
});

describe('decide: step records', () => {
  it('records a finished step with its command, exit code and the tails of its output', () => {
    const long = `${'x'.repeat(5000)}END`;
    const observed = seen({
      instances: [builder('running')],
      agentOnline: new Set(['i-b']),
      commands: [
        done('provision', 'install-node'),
        command('provision', 'install-pm2', 'InProgress', { stdout: long, stderr: 'warn', exitCode: -1 }),
      ],
    });

    const decision = decide(bake('provisioning', { pipeline: 'web' }), web, observed);

    expect(decision.actions).toEqual([]);
    const [first, second] = decision.next.steps;
    expect(first).toMatchObject({
      stage: 'provision',
      name: 'install-node',
      commandId: 'c-install-node',
      status: 'Success',
    });
    expect(second).toMatchObject({
      name: 'install-pm2',
      status: 'InProgress',
      errorTail: 'warn',
      exitCode: -1,
    });
    expect(second?.outputTail).toHaveLength(4096);
    expect(second?.outputTail?.endsWith('END')).toBe(true);
  });

  it('keeps short output whole, and a record with no output without tails', () => {
    const observed = seen({
      instances: [builder('running')],
      commands: [command('provision', 'update', 'InProgress', { stdout: 'y'.repeat(4096) })],
    });

    const decision = decide(bake('provisioning'), minimal, observed);

    expect(decision.next.steps[0]?.outputTail).toBe('y'.repeat(4096));
    expect(decision.next.steps[0]).not.toHaveProperty('errorTail', expect.anything());
  });

  it('marks the next step NotStarted as it sends it, and leaves the steps before it as they were', () => {
    const before = bake('provisioning', {
      pipeline: 'web',
      steps: [{ stage: 'provision', name: 'install-node', commandId: 'c-install-node', status: 'Success' }],
    });
    const observed = seen({ instances: [builder('running')], commands: [done('provision', 'install-node')] });

    const decision = decide(before, web, observed);

    expect(decision.next.steps.map((s) => [s.name, s.status])).toEqual([
      ['install-node', 'Success'],
      ['install-pm2', 'NotStarted'],
    ]);
    expect(decision.actions).toEqual([
      expect.objectContaining({
        kind: 'send-command',
        instanceId: 'i-b',
        stage: 'provision',
        step: 'install-pm2',
      }),
    ]);
  });

  it('waits on a step it sent whose command is not visible yet (no second send)', () => {
    const sent = bake('provisioning', {
      steps: [{ stage: 'provision', name: 'update', commandId: 'c-update', status: 'Pending' }],
    });

    const decision = decide(sent, minimal, seen({ instances: [builder('running')] }));

    expect(decision.actions).toEqual([]);
    expect(decision.next.steps).toEqual(sent.steps);
  });

  it('never reads a validate command as the provision step of the same name', () => {
    const observed = seen({
      instances: [builder('running')],
      commands: [command('validate', 'update', 'Success')],
    });

    const decision = decide(bake('provisioning'), minimal, observed);

    expect(decision.next.phase).toBe('provisioning');
    expect(kinds(decision.actions)).toEqual(['send-command']);
  });

  it.each(['Failed', 'TimedOut', 'Cancelled'] as const)(
    'fails the bake on a step %s, with what it printed',
    (status) => {
      const observed = seen({
        instances: [builder('running')],
        commands: [command('provision', 'update', status, { exitCode: 3, stdout: 'out', stderr: 'err' })],
      });

      const decision = decide(bake('provisioning'), minimal, observed);

      expect(decision.next.failure).toEqual({
        phase: 'provisioning',
        code: `Step${status}`,
        message: `Step provision/update ended ${status} (exit 3)`,
        step: 'provision/update',
        output: 'out\nerr',
      });
    },
  );

  it('says exit ? when a failed step has no exit code, and gives no output when it printed none', () => {
    const observed = seen({
      instances: [builder('running')],
      commands: [command('provision', 'update', 'TimedOut')],
    });

    const decision = decide(bake('provisioning'), minimal, observed);

    expect(decision.next.failure?.message).toBe('Step provision/update ended TimedOut (exit ?)');
    expect(decision.next.failure).not.toHaveProperty('output');
  });
});

describe('decide: what mutation testing found untested', () => {
  const other: ObservedInstance = { instanceId: 'i-other', role: 'builder', state: 'running' };
  const twoTypes: Pipeline = {
    ...minimal,
    builder: { ...minimal.builder, instanceTypes: ['t3.micro', 'm5.large'] },
  };
  const sameNames: Pipeline = {
    ...minimal,
    provision: [{ name: 'a', run: ['true'], timeoutSeconds: 60 }],
    validate: [{ name: 'a', run: ['true'], timeoutSeconds: 60 }],
  };
  const twoRegions: Pipeline = {
    ...minimal,
    distribute: { regions: ['eu-west-1', 'ap-south-1'], accounts: [], organizationalUnits: [], kmsKeys: {} },
  };

  it.each<[string, BakeRecord, Pipeline, Observed, Partial<BakeRecord>, Action[]]>([
    [
      'the recorded builder gone while another of the bake runs: lost, the other is not taken for it',
      bake('provisioning'),
      minimal,
      seen({ instances: [builder('terminated'), other] }),
      {
        phase: 'failed',
        failure: { phase: 'provisioning', code: 'BuilderLost', message: 'Builder i-b stopped existing' },
      },
      [{ kind: 'terminate', instanceIds: ['i-other'] }],
    ],
    [
      'a builder adopted on a record with none: attempt 0, type unknown',
      bake('launching', { builder: undefined }),
      minimal,
      seen({ instances: [builder('pending')] }),
      { builder: { attempt: 0, instanceType: '', instanceId: 'i-b' } },
      [],
    ],
    [
      'no capacity for any of several types: each named',
      bake('launching', { builder: { attempt: 2, instanceType: 'm5.large' } }),
      twoTypes,
      seen(),
      {
        failure: {
          phase: 'launching',
          code: 'InsufficientInstanceCapacity',
          message: 'No capacity for t3.micro, m5.large',
        },
      },
      [],
    ],
    [
      'a validate step named like a provision step: a step of its own',
      bake('validating', { steps: [{ stage: 'provision', name: 'a', commandId: 'c-a', status: 'Success' }] }),
      sameNames,
      seen({ instances: [builder('running')], commands: [command('provision', 'a', 'Success')] }),
      {
        phase: 'validating',
        steps: [
          { stage: 'provision', name: 'a', commandId: 'c-a', status: 'Success' },
          { stage: 'validate', name: 'a', status: 'NotStarted' },
        ],
      },
      [
        {
          kind: 'send-command',
          instanceId: 'i-b',
          stage: 'validate',
          step: 'a',
          commands: ['true'],
          timeoutSeconds: 60,
        },
      ],
    ],
    [
      'stopping, the builder terminated: lost',
      bake('stopping'),
      minimal,
      seen({ instances: [builder('terminated')] }),
      {
        phase: 'failed',
        failure: { phase: 'stopping', code: 'BuilderLost', message: 'Builder i-b stopped existing' },
      },
      [],
    ],
    [
      'imaging, the image asked for but not visible yet: wait, no second CreateImage',
      bake('imaging', imaged),
      minimal,
      seen({ instances: [builder('stopped')] }),
      { phase: 'imaging' },
      [],
    ],
    [
      'imaging, nothing recorded, the builder gone: lost before imaging',
      bake('imaging', { image: { imageId: '', name: 'n' } }),
      minimal,
      seen({ instances: [builder('terminated')] }),
      {
        phase: 'failed',
        failure: { phase: 'imaging', code: 'BuilderLost', message: 'Builder gone before imaging' },
      },
      [],
    ],
    [
      'imaging, no image recorded at all (an older record): CreateImage under the pipeline name',
      bake('imaging'),
      minimal,
      seen({ instances: [builder('stopped')] }),
      { phase: 'imaging' },
      [{ kind: 'create-image', instanceId: 'i-b', name: 'minimal-20261122-000000-b1' }],
    ],
    [
      'distributing, one region asked for, another not: only the other is copied',
      bake('distributing', { ...imaged, copies: [{ region: 'eu-west-1', imageId: 'ami-copy' }] }),
      twoRegions,
      seen({ images: [image('available')] }),
      { phase: 'distributing' },
      [{ kind: 'copy-image', region: 'ap-south-1', sourceImageId: 'ami-new', name: 'n' }],
    ],
    [
      'publishing with a rollout: every target pending',
      bake('publishing', imaged),
      rolled,
      seen(),
      { phase: 'rolling', rollout: [{ group: 'web-fleet', status: 'pending' }] },
      [{ kind: 'publish', region: 'us-east-1', parameter: '/ami-bakery/minimal/latest', imageId: 'ami-new' }],
    ],
  ])('%s', (_, before, pipeline, observed, expected, actions) => {
    const decision = decide(before, pipeline, observed);

    expect(decision.next).toMatchObject(expected);
    expect(decision.actions).toEqual(actions);
  });

  it.each(['Pending', 'Delayed', 'InProgress'] as const)(
    'a step %s when the bake is cancelled ends Cancelled',
    (status) => {
      const decision = decide(
        bake('provisioning', {
          cancelRequested: true,
          steps: [{ stage: 'provision', name: 'update', status }],
        }),
        minimal,
        seen(),
      );

      expect(decision.next.steps[0]?.status).toBe('Cancelled');
    },
  );

  it('a target versioned but not refreshed when the bake is cancelled ends cancelled', () => {
    const decision = decide(
      bake('refreshing', {
        cancelRequested: true,
        rollout: target({ status: 'versioned', templateId: 'lt-1', version: 4 }),
      }),
      rolled,
      seen(),
    );

    expect(decision.next.rollout?.[0]?.status).toBe('cancelled');
  });

  it('keeps only the last 4 KiB of what a failed step printed, out and err together', () => {
    const observed = seen({
      instances: [builder('running')],
      commands: [
        command('provision', 'update', 'Failed', {
          exitCode: 1,
          stdout: 'o'.repeat(4096),
          stderr: 'e'.repeat(4096),
        }),
      ],
    });

    const output = decide(bake('provisioning'), minimal, observed).next.failure?.output ?? '';

    expect(output).toHaveLength(4096);
    expect(output.endsWith('e')).toBe(true);
  });
});

describe('decide: where each group stands, edge cases', () => {
  const group = (patch: Partial<ObservedGroup> = {}): ObservedGroup => ({
    name: 'web-fleet',
    templateId: 'lt-1',
    templateVersion: 3,
    namedVersion: '3',
    defaultVersion: 4,
    instances: [{ version: '3', count: 2 }],
    ...patch,
  });
  const cancel = (targets: RolloutTarget[], groups: ObservedGroup[]) =>
    decide(
      bake('refreshing', { ...imaged, cancelRequested: true, rollout: targets }),
      rolled,
      seen({ groups, refreshes: [] }),
    );
  const restores = (decision: ReturnType<typeof decide>) =>
    decision.actions.filter((a) => a.kind === 'restore-default-version');

  it.each<[string, RolloutTarget, ObservedGroup]>([
    ['no version of its own recorded', ours({ version: undefined }), group()],
    ['no template recorded', ours({ templateId: undefined }), group()],
    ['no source version recorded', ours({ sourceVersion: undefined }), group()],
    ['its version is the source (nothing changed)', ours({ sourceVersion: 4 }), group()],
    ['the group moved to another template', ours(), group({ templateId: 'lt-2' })],
  ])('puts nothing back when %s', (_, target, observedGroup) => {
    expect(restores(cancel([target], [observedGroup]))).toEqual([]);
  });

  it('matches each target to its own group', () => {
    const decision = cancel(
      [ours(), ours({ group: 'api-fleet', madeDefault: false })],
      [group({ name: 'api-fleet', namedVersion: '7', instances: [] }), group()],
    );

    expect(decision.next.rollout?.map((t) => t.ended?.groupVersion)).toEqual(['3', '7']);
  });

  it('says nothing of a default it did not see', () => {
    const decision = cancel([ours({ madeDefault: false })], [group({ defaultVersion: undefined })]);

    expect(decision.next.rollout?.[0]?.ended).not.toHaveProperty('defaultVersion');
  });

  it('does not credit a group on another template with its template restore', () => {
    const decision = cancel(
      [ours(), ours({ group: 'api-fleet' })],
      [group(), group({ name: 'api-fleet', templateId: 'lt-2', defaultVersion: 9 })],
    );

    expect(decision.next.rollout?.map((t) => t.ended?.defaultVersion)).toEqual([3, 9]);
    expect(decision.next.rollout?.[1]?.ended).not.toHaveProperty('defaultRestoredFrom');
  });
});

describe('imageName', () => {
  it('fills in the pipeline, the date and time of the bake, and its id', () => {
    const pipeline: Pipeline = {
      ...minimal,
      image: { ...minimal.image, name: '{pipeline}/{date}/{bakeId}/{pipeline}' },
    };

    expect(imageName(pipeline, bake('imaging', { createdAt: '2026-11-22T04:16:09.123Z' }))).toBe(
      'minimal/20261122-041609/b1/minimal',
    );
  });
});

describe('decide: a bake that fails before its rollout', () => {
  it('says so on every target it never rolled out', () => {
    const failing = bake('distributing', {
      ...imaged,
      rollout: target({}),
      failure: { phase: 'distributing', code: 'X', message: 'm' },
    });

    const decision = decide(failing, rolled, seen());

    expect(decision.next.rollout).toEqual([
      {
        group: 'web-fleet',
        status: 'cancelled',
        reason: 'The bake failed before this target was rolled out',
      },
    ]);
  });

  it('leaves a target that had already finished as it was', () => {
    const failing = bake('refreshing', {
      ...imaged,
      rollout: [
        { group: 'web-fleet', status: 'succeeded' },
        { group: 'api-fleet', status: 'pending' },
      ],
      failure: { phase: 'refreshing', code: 'X', message: 'm' },
    });

    const decision = decide(failing, rolled, seen());

    expect(decision.next.rollout?.map((t) => t.status)).toEqual(['succeeded', 'cancelled']);
  });
});

describe('decide: what the record and the actions say', () => {
  const late = new Date(Date.parse(T0) + 10 * 86_400_000);
  const at = (when: Date) => (parts: Partial<Observed>) => ({ ...seen(parts), now: when });

  it.each<[string, BakeRecord, Pipeline, Observed, Partial<BakeRecord>, Action[]]>([
    [
      'requested: launching with the first instance type, its launch under a token of the bake',
      bake('requested', { builder: undefined }),
      minimal,
      seen(),
      { phase: 'launching', builder: { attempt: 0, instanceType: 't3.micro' } },
      [
        {
          kind: 'launch',
          role: 'builder',
          imageId: 'ami-base',
          instanceType: 't3.micro',
          clientToken: 'b1-builder-0',
        },
      ],
    ],
    [
      'a rollout of an existing image: straight to its pending targets',
      bake('requested', { kind: 'rollout', ...imaged }),
      rolled,
      seen(),
      { phase: 'rolling', rollout: [{ group: 'web-fleet', status: 'pending' }] },
      [],
    ],
    [
      'launching, no capacity left for any type: failed, saying which were tried',
      bake('launching', { builder: { attempt: 1, instanceType: 't3.micro' } }),
      minimal,
      seen(),
      {
        phase: 'failed',
        failure: {
          phase: 'launching',
          code: 'InsufficientInstanceCapacity',
          message: 'No capacity for t3.micro',
        },
      },
      [],
    ],
    [
      'launching, builder gone: BuilderLost, naming it',
      bake('launching'),
      minimal,
      seen({ instances: [builder('shutting-down')] }),
      {
        phase: 'failed',
        failure: { phase: 'launching', code: 'BuilderLost', message: 'Builder i-b stopped existing' },
      },
      [],
    ],
    [
      'launching, builder still pending: wait',
      bake('launching'),
      minimal,
      seen({ instances: [builder('pending')], agentOnline: new Set(['i-b']) }),
      { phase: 'launching' },
      [],
    ],
    [
      'provisioning without a builder on record: BuilderLost',
      bake('provisioning', { builder: { attempt: 0, instanceType: 't3.micro' } }),
      minimal,
      seen(),
      {
        phase: 'failed',
        failure: { phase: 'provisioning', code: 'BuilderLost', message: 'Builder ? stopped existing' },
      },
      [],
    ],
    [
      'a phase past its deadline: DeadlineExceeded, saying which and how long',
      bake('provisioning'),
      minimal,
      at(late)({ instances: [builder('running')] }),
      {
        phase: 'failed',
        failure: {
          phase: 'provisioning',
          code: 'DeadlineExceeded',
          message: 'Phase provisioning took longer than 3600 s',
        },
      },
      [{ kind: 'terminate', instanceIds: ['i-b'] }],
    ],
    [
      'nobody approved in time: ApprovalTimedOut',
      bake('awaiting-approval', { ...imaged, rollout: target({}) }),
      { ...rolled, rollout: { ...rolloutConfig, requireApproval: true } },
      at(late)({}),
      {
        phase: 'failed',
        failure: {
          phase: 'awaiting-approval',
          code: 'ApprovalTimedOut',
          message: 'Nobody approved the rollout within 259200 s',
        },
      },
      [],
    ],
    [
      'stopping, stopped: imaging, with the image name recorded before CreateImage',
      bake('stopping'),
      minimal,
      seen({ instances: [builder('stopped')] }),
      { phase: 'imaging', image: { imageId: '', name: 'minimal-20261122-000000-b1' } },
      [{ kind: 'create-image', instanceId: 'i-b', name: 'minimal-20261122-000000-b1' }],
    ],
    [
      'stopping, builder gone: BuilderLost',
      bake('stopping'),
      minimal,
      seen(),
      {
        phase: 'failed',
        failure: { phase: 'stopping', code: 'BuilderLost', message: 'Builder i-b stopped existing' },
      },
      [],
    ],
    [
      'imaging, no image yet and none recorded: CreateImage again under the recorded name',
      bake('imaging', { image: { imageId: '', name: 'recorded-name' } }),
      minimal,
      seen({ instances: [builder('stopped')] }),
      { phase: 'imaging' },
      [{ kind: 'create-image', instanceId: 'i-b', name: 'recorded-name' }],
    ],
    [
      'imaging, only a copy in another region: not the image, CreateImage again',
      bake('imaging', { image: { imageId: '', name: 'recorded-name' } }),
      minimal,
      seen({ instances: [builder('stopped')], images: [image('available', 'eu-west-1')] }),
      { phase: 'imaging' },
      [{ kind: 'create-image', instanceId: 'i-b', name: 'recorded-name' }],
    ],
    [
      'imaging, the image failed: ImageFailed with AWS reason',
      bake('imaging', imaged),
      minimal,
      seen({ instances: [builder('stopped')], images: [{ ...image('failed'), reason: 'snapshot error' }] }),
      { phase: 'failed', failure: { phase: 'imaging', code: 'ImageFailed', message: 'snapshot error' } },
      [
        { kind: 'mark-image-failed', imageId: 'ami-new', region: 'us-east-1' },
        { kind: 'terminate', instanceIds: ['i-b'] },
      ],
    ],
    [
      'imaging, the image failed without a reason: a default one',
      bake('imaging', imaged),
      minimal,
      seen({ images: [image('failed')] }),
      { phase: 'failed', failure: { phase: 'imaging', code: 'ImageFailed', message: 'CreateImage failed' } },
      [{ kind: 'mark-image-failed', imageId: 'ami-new', region: 'us-east-1' }],
    ],
    [
      'imaging, available, builder already gone: nothing to terminate',
      bake('imaging', imaged),
      minimal,
      seen({ instances: [builder('terminated')], images: [image('available')] }),
      { phase: 'succeeded' },
      [{ kind: 'publish', region: 'us-east-1', parameter: '/ami-bakery/minimal/latest', imageId: 'ami-new' }],
    ],
    [
      'distributing: a copy per region not yet asked for, under the image name',
      bake('distributing', imaged),
      distributed,
      seen({ images: [image('available')] }),
      { phase: 'distributing' },
      [{ kind: 'copy-image', region: 'eu-west-1', sourceImageId: 'ami-new', name: 'n' }],
    ],
    [
      'distributing, copy asked for but not visible: wait, no second copy',
      bake('distributing', { ...imaged, copies: [{ region: 'eu-west-1', imageId: 'ami-copy' }] }),
      distributed,
      seen({ images: [image('available')] }),
      { phase: 'distributing' },
      [],
    ],
    [
      'distributing, copy failed: CopyFailed naming the region and the reason',
      bake('distributing', imaged),
      distributed,
      seen({ images: [image('available'), { ...image('failed', 'eu-west-1'), reason: 'quota' }] }),
      {
        phase: 'failed',
        failure: { phase: 'distributing', code: 'CopyFailed', message: 'Copy to eu-west-1 failed: quota' },
      },
      [
        { kind: 'mark-image-failed', imageId: 'ami-new', region: 'us-east-1' },
        { kind: 'mark-image-failed', imageId: 'ami-copy', region: 'eu-west-1' },
      ],
    ],
    [
      'distributing, shared with accounts: every copy and the image are shared',
      bake('distributing', { ...imaged, copies: [{ region: 'eu-west-1', imageId: 'ami-copy' }] }),
      distributed,
      seen({ images: [image('available'), image('available', 'eu-west-1')] }),
      { phase: 'succeeded' },
      [
        { kind: 'share-image', region: 'us-east-1', imageId: 'ami-new' },
        { kind: 'share-image', region: 'eu-west-1', imageId: 'ami-copy' },
        { kind: 'publish', region: 'us-east-1', parameter: '/ami-bakery/minimal/latest', imageId: 'ami-new' },
        {
          kind: 'publish',
          region: 'eu-west-1',
          parameter: '/ami-bakery/minimal/latest',
          imageId: 'ami-copy',
        },
      ],
    ],
    [
      'distributing to organizational units only: shared too',
      bake('distributing', imaged),
      {
        ...minimal,
        distribute: { regions: [], accounts: [], organizationalUnits: ['ou-ab12-cd34ef56'], kmsKeys: {} },
      },
      seen({ images: [image('available')] }),
      { phase: 'succeeded' },
      [
        { kind: 'share-image', region: 'us-east-1', imageId: 'ami-new' },
        { kind: 'publish', region: 'us-east-1', parameter: '/ami-bakery/minimal/latest', imageId: 'ami-new' },
      ],
    ],
    [
      'testing: the tester is launched from the new image under its own token',
      bake('testing', imaged),
      {
        ...withTest,
        test: { steps: [{ name: 'boots', run: ['true'], timeoutSeconds: 60 }], instanceType: 't3.small' },
      },
      seen(),
      { phase: 'testing' },
      [
        {
          kind: 'launch',
          role: 'tester',
          imageId: 'ami-new',
          instanceType: 't3.small',
          clientToken: 'b1-tester',
        },
      ],
    ],
    [
      'testing, tester lost: TesterLost',
      bake('testing', { ...imaged, tester: { instanceId: 'i-t' } }),
      withTest,
      seen({ instances: [tester('terminated')] }),
      {
        phase: 'failed',
        failure: { phase: 'testing', code: 'TesterLost', message: 'Test instance i-t stopped existing' },
      },
      [],
    ],
    [
      'testing, tester stopped though its agent answered: wait',
      bake('testing', { ...imaged, tester: { instanceId: 'i-t' } }),
      withTest,
      seen({ instances: [tester('stopped')], agentOnline: new Set(['i-t']) }),
      { phase: 'testing' },
      [],
    ],
    [
      'testing, passed: the tester is terminated on the way out',
      bake('testing', { ...imaged, tester: { instanceId: 'i-t' } }),
      withTest,
      seen({
        instances: [tester('running')],
        agentOnline: new Set(['i-t']),
        commands: [done('test', 'boots')],
      }),
      { phase: 'succeeded' },
      [
        { kind: 'publish', region: 'us-east-1', parameter: '/ami-bakery/minimal/latest', imageId: 'ami-new' },
        { kind: 'terminate', instanceIds: ['i-t'] },
      ],
    ],
  ])('%s', (_, before, pipeline, observed, expected, actions) => {
    const decision = decide(before, pipeline, observed);

    expect(decision.next).toMatchObject(expected);
    expect(decision.actions).toEqual(actions);
  });
});

describe('decide: rollout records', () => {
  const versioned = (patch: Partial<RolloutTarget> = {}) =>
    target({ status: 'versioned', templateId: 'lt-1', version: 4, sourceVersion: 3, ...patch });
  const refreshing = (patch: Partial<RolloutTarget> = {}) =>
    target({ status: 'refreshing', refreshId: 'r-1', templateId: 'lt-1', version: 4, ...patch });
  const theirs: ObservedRefresh = {
    ...refresh('InProgress', 'r-x'),
    desiredTemplateId: 'lt-9',
    desiredVersion: '1',
  };

  it.each<[string, BakeRecord, Pipeline, Observed, Partial<RolloutTarget> | undefined, Action[]]>([
    [
      'rolling: a group without a launch template fails, with why',
      bake('rolling', { ...imaged, rollout: target({}) }),
      rolled,
      seen({ groups: [{ name: 'web-fleet' }] }),
      { status: 'failed', reason: 'Group web-fleet not found, or not using a launch template' },
      [],
    ],
    [
      'rolling: a group of a template with no version number fails',
      bake('rolling', { ...imaged, rollout: target({}) }),
      rolled,
      seen({ groups: [{ name: 'web-fleet', templateId: 'lt-1' }] }),
      { status: 'failed' },
      [],
    ],
    [
      'rolling: the version copies the one the group uses, with the image, default as configured',
      bake('rolling', { ...imaged, rollout: target({}) }),
      {
        ...rolled,
        rollout: { ...rolloutConfig, targets: [{ autoScalingGroup: 'web-fleet', setDefaultVersion: false }] },
      },
      seen({ groups: fleet() }),
      { status: 'pending', templateId: 'lt-1', sourceVersion: 3, madeDefault: false },
      [
        {
          kind: 'create-template-version',
          group: 'web-fleet',
          templateId: 'lt-1',
          sourceVersion: 3,
          imageId: 'ami-new',
          makeDefault: false,
        },
      ],
    ],
    [
      'versioned: the refresh to the explicit version, with auto rollback',
      bake('refreshing', { ...imaged, rollout: versioned() }),
      rolled,
      seen({ groups: fleet(), refreshes: [] }),
      { status: 'versioned' },
      [{ kind: 'start-refresh', group: 'web-fleet', templateId: 'lt-1', version: 4, autoRollback: true }],
    ],
    [
      'versioned, a group on $Default: no auto rollback, and the record says why',
      bake('refreshing', { ...imaged, rollout: versioned() }),
      rolled,
      seen({ groups: fleet(true), refreshes: [] }),
      { reason: 'No automatic rollback: the group uses $Default or $Latest' },
      [{ kind: 'start-refresh', group: 'web-fleet', templateId: 'lt-1', version: 4, autoRollback: false }],
    ],
    [
      'versioned, auto rollback not wanted: no reason to give',
      bake('refreshing', { ...imaged, rollout: versioned() }),
      {
        ...rolled,
        rollout: { ...rolloutConfig, refresh: { ...rolloutConfig.refresh, autoRollback: false } },
      },
      seen({ groups: fleet(true), refreshes: [] }),
      { status: 'versioned' },
      [{ kind: 'start-refresh', group: 'web-fleet', templateId: 'lt-1', version: 4, autoRollback: false }],
    ],
    [
      'versioned, a refresh of ours it never recorded: adopted, not started twice',
      bake('refreshing', { ...imaged, rollout: versioned() }),
      rolled,
      seen({
        groups: fleet(),
        refreshes: [{ ...refresh('Pending', 'r-2'), desiredTemplateId: 'lt-1', desiredVersion: '4' }],
      }),
      { status: 'refreshing', refreshId: 'r-2' },
      [],
    ],
    [
      'versioned, a finished refresh to the same version is not ours to adopt',
      bake('refreshing', { ...imaged, rollout: versioned() }),
      rolled,
      seen({
        groups: fleet(),
        refreshes: [{ ...refresh('Successful', 'r-old'), desiredTemplateId: 'lt-1', desiredVersion: '4' }],
      }),
      { status: 'versioned' },
      [{ kind: 'start-refresh', group: 'web-fleet', templateId: 'lt-1', version: 4, autoRollback: true }],
    ],
    [
      'versioned, another group refreshing: not a reason to wait',
      bake('refreshing', { ...imaged, rollout: versioned() }),
      rolled,
      seen({ groups: fleet(), refreshes: [{ ...theirs, group: 'other-fleet' }] }),
      { status: 'versioned' },
      [{ kind: 'start-refresh', group: 'web-fleet', templateId: 'lt-1', version: 4, autoRollback: true }],
    ],
    [
      'versioned, a foreign refresh: wait for it, saying which',
      bake('refreshing', { ...imaged, rollout: versioned() }),
      rolled,
      seen({ groups: fleet(), refreshes: [theirs] }),
      { status: 'versioned', reason: 'Waiting for refresh r-x (InProgress)' },
      [],
    ],
    [
      'versioned, a foreign refresh already cancelling: not cancelled again',
      bake('refreshing', { ...imaged, rollout: versioned() }),
      { ...rolled, rollout: { ...rolloutConfig, whenRefreshInProgress: 'cancel' } },
      seen({ groups: fleet(), refreshes: [{ ...theirs, status: 'Cancelling' }] }),
      { reason: 'Waiting for refresh r-x (Cancelling)' },
      [],
    ],
    [
      'refreshing: progress recorded, another refresh of the group ignored',
      bake('refreshing', { ...imaged, rollout: refreshing() }),
      rolled,
      seen({ groups: fleet(), refreshes: [refresh('InProgress', 'r-1', 40), { ...theirs, percentage: 90 }] }),
      { status: 'refreshing', percentage: 40 },
      [],
    ],
    [
      'refreshing, ours not visible: nothing changes',
      bake('refreshing', { ...imaged, rollout: refreshing({ percentage: 10 }) }),
      rolled,
      seen({ groups: fleet(), refreshes: [] }),
      { status: 'refreshing', percentage: 10 },
      [],
    ],
    [
      'refreshing, a checkpoint is never recorded backwards',
      bake('refreshing', { ...imaged, rollout: refreshing({ checkpoint: 50 }) }),
      {
        ...rolled,
        rollout: {
          ...rolloutConfig,
          refresh: { ...rolloutConfig.refresh, checkpointPercentages: [20, 50, 100] },
        },
      },
      seen({ groups: fleet(), refreshes: [refresh('InProgress', 'r-1', 30)] }),
      { checkpoint: 50, percentage: 30 },
      [],
    ],
    [
      'refreshing, no waiting any more: the waiting reason is cleared',
      bake('refreshing', {
        ...imaged,
        rollout: refreshing({ reason: 'Waiting for 1 instance(s) in Standby.' }),
      }),
      rolled,
      seen({ groups: fleet(), refreshes: [refresh('InProgress', 'r-1', 60)] }),
      { reason: undefined },
      [],
    ],
    [
      'refreshing, another reason is kept',
      bake('refreshing', {
        ...imaged,
        rollout: refreshing({ reason: 'No automatic rollback: the group uses $Default or $Latest' }),
      }),
      rolled,
      seen({
        groups: fleet(),
        refreshes: [{ ...refresh('InProgress', 'r-1', 60), reason: 'Replacing instances.' }],
      }),
      { reason: 'No automatic rollback: the group uses $Default or $Latest' },
      [],
    ],
  ])('%s', (_, before, pipeline, observed, expected, actions) => {
    const decision = decide(before, pipeline, observed);

    expect(decision.next.rollout?.[0]).toEqual(expected ? expect.objectContaining(expected) : undefined);
    expect(decision.actions).toEqual(actions);
  });

  it.each<[string, string, Partial<RolloutTarget>]>([
    ['Failed', 'failed', { status: 'failed', reason: 'boom' }],
    ['Cancelled', 'failed', { status: 'failed', reason: 'boom' }],
    ['RollbackSuccessful', 'failed', { status: 'rolled-back', reason: 'boom' }],
    ['RollbackFailed', 'failed', { status: 'failed', reason: 'boom' }],
  ])('a refresh ending %s fails the bake, the target and message saying so', (status, phase, expected) => {
    const decision = decide(
      bake('refreshing', { ...imaged, rollout: refreshing() }),
      rolled,
      seen({ groups: fleet(), refreshes: [{ ...refresh(status, 'r-1', 0), reason: 'boom' }] }),
    );

    expect(decision.next.phase).toBe(phase);
    expect(decision.next.rollout?.[0]).toMatchObject(expected);
    expect(decision.next.failure).toEqual({
      phase: 'refreshing',
      code: 'RolloutFailed',
      message: `web-fleet: ${expected.status ?? ''} (boom)`,
    });
  });

  it('names every failed target in the failure, and only those', () => {
    const decision = decide(
      bake('refreshing', {
        ...imaged,
        rollout: [
          { group: 'web-fleet', status: 'succeeded', templateId: 'lt-1' },
          { group: 'api-fleet', status: 'failed' },
          { group: 'db-fleet', status: 'rolled-back', reason: 'alarm' },
        ],
      }),
      rolled,
      seen({ groups: [], refreshes: [] }),
    );

    expect(decision.next.failure?.message).toBe('api-fleet: failed; db-fleet: rolled-back (alarm)');
    expect(decision.actions).toEqual([]);
  });

  it('prunes each template once with the configured keep when every target succeeded', () => {
    const decision = decide(
      bake('refreshing', {
        ...imaged,
        rollout: [
          { group: 'web-fleet', status: 'succeeded', templateId: 'lt-1' },
          { group: 'api-fleet', status: 'succeeded', templateId: 'lt-1' },
          { group: 'db-fleet', status: 'succeeded', templateId: 'lt-2' },
        ],
      }),
      { ...rolled, rollout: { ...rolloutConfig, keepTemplateVersions: 3 } },
      seen({ groups: [], refreshes: [] }),
    );

    expect(decision.actions).toEqual([
      { kind: 'prune-template-versions', templateId: 'lt-1', keep: 3 },
      { kind: 'prune-template-versions', templateId: 'lt-2', keep: 3 },
    ]);
  });

  it('cancels only a refresh of ours that is still running, in any group of the bake', () => {
    const decision = decide(
      bake('refreshing', {
        ...imaged,
        cancelRequested: true,
        rollout: [
          { group: 'web-fleet', status: 'refreshing', refreshId: 'r-1' },
          { group: 'api-fleet', status: 'refreshing', refreshId: 'r-2' },
          { group: 'db-fleet', status: 'versioned' },
        ],
      }),
      rolled,
      seen({
        groups: [],
        refreshes: [refresh('InProgress', 'r-1'), { ...refresh('InProgress', 'r-2'), group: 'web-fleet' }],
      }),
    );

    expect(decision.actions.filter((a) => a.kind === 'cancel-refresh')).toEqual([
      { kind: 'cancel-refresh', group: 'web-fleet' },
    ]);
  });
});

describe('decide: details', () => {
  it('uses a client token derived from the bake and the attempt', () => {
    const decision = decide(
      bake('launching', { builder: { attempt: 1, instanceType: 't3.micro' } }),
      web,
      seen(),
    );

    expect(decision.actions[0]).toMatchObject({
      kind: 'launch',
      instanceType: 't3a.small',
      clientToken: 'b1-builder-1',
    });
  });

  it('fails when every instance type has run out of capacity', () => {
    const decision = decide(
      bake('launching', { builder: { attempt: 1, instanceType: 't3.micro' } }),
      minimal,
      seen(),
    );

    expect(decision.next.failure).toMatchObject({ code: 'InsufficientInstanceCapacity' });
  });

  it('fails a phase that passes its deadline, terminating the builder', () => {
    const late = new Date(Date.parse(T0) + 601_000);
    const decision = decide(bake('launching'), minimal, seen({ now: late, instances: [builder('pending')] }));

    expect(decision.next.failure).toMatchObject({ code: 'DeadlineExceeded', phase: 'launching' });
    expect(decision.actions).toEqual([{ kind: 'terminate', instanceIds: ['i-b'] }]);
  });

  it('keeps the failing step output in the failure', () => {
    const decision = decide(
      bake('provisioning'),
      minimal,
      seen({
        instances: [builder('running')],
        commands: [command('provision', 'update', 'Failed', { exitCode: 1, stdout: 'out', stderr: 'err' })],
      }),
    );

    expect(decision.next.failure).toMatchObject({
      step: 'provision/update',
      output: 'out\nerr',
      code: 'StepFailed',
    });
  });

  it('is harmless to run twice', () => {
    const observed = seen({ instances: [builder('stopped')], images: [image('pending')] });
    const once = decide(bake('imaging', { image: { imageId: 'ami-new', name: 'n' } }), minimal, observed);
    const twice = decide(once.next, minimal, observed);

    expect(twice.next).toEqual(once.next);
    expect(twice.actions).toEqual([]);
  });

  it('merges the terminations of one pass into one call', () => {
    const decision = decide(
      bake('imaging', { image: { imageId: 'ami-new', name: 'n' } }),
      minimal,
      seen({ instances: [builder('stopped')], images: [image('available')] }),
    );

    expect(decision.actions.filter((a) => a.kind === 'terminate')).toEqual([
      { kind: 'terminate', instanceIds: ['i-b'] },
    ]);
  });

  it.each([
    [0, 1],
    [10, 2],
    [100, 15],
    [1000, 60],
  ])('polls after %i s in a phase every %i s', (waited, expected) => {
    expect(backoffSeconds(bake('imaging'), new Date(Date.parse(T0) + waited * 1000))).toBe(expected);
  });
});

describe('decide: a finished bake watches its instances until EC2 shows them terminated', () => {
  const ended = (cleanup: BakeRecord['cleanup'], at = T0) =>
    bake('cancelled', { cleanup, timeline: [{ phase: 'cancelled', at }], updatedAt: at });
  const watching = (...states: string[]): Cleanup => ({
    instances: states.map((state, i) => ({
      instanceId: i === 0 ? 'i-b' : 'i-t',
      role: i === 0 ? 'builder' : 'tester',
      state,
    })),
  });

  it.each<[string, Observed['instances'], BakeRecord['cleanup']]>([
    ['a builder still running: terminated, watched', [builder('running')], watching('running')],
    [
      'a builder already terminated: confirmed at once',
      [builder('terminated')],
      {
        instances: [{ instanceId: 'i-b', role: 'builder', state: 'terminated' }],
        confirmedAt: NOW.toISOString(),
      },
    ],
    [
      'no instance at all (failed before launching): confirmed at once',
      [],
      { instances: [], confirmedAt: NOW.toISOString() },
    ],
    [
      'builder gone, tester shutting down: watched',
      [builder('terminated'), tester('shutting-down')],
      watching('terminated', 'shutting-down'),
    ],
  ])('ending the bake records its instances: %s', (_, instances, cleanup) => {
    const decision = decide(bake('provisioning', { cancelRequested: true }), minimal, seen({ instances }));

    expect(decision.next.phase).toBe('cancelled');
    expect(decision.next.cleanup).toEqual(cleanup);
  });

  it.each<[string, BakeRecord, Observed['instances'], BakeRecord['cleanup'], string[]]>([
    [
      'still shutting down: nothing changes, look again',
      ended(watching('shutting-down')),
      [builder('shutting-down')],
      watching('shutting-down'),
      [],
    ],
    [
      'terminated now: confirmed',
      ended(watching('shutting-down')),
      [builder('terminated')],
      { ...watching('terminated'), confirmedAt: NOW.toISOString() },
      [],
    ],
    [
      'no longer listed by EC2: gone, confirmed',
      ended(watching('shutting-down')),
      [],
      { ...watching('terminated'), confirmedAt: NOW.toISOString() },
      [],
    ],
    [
      'running again (the terminate was lost): terminated again',
      ended(watching('shutting-down')),
      [builder('running')],
      watching('running'),
      ['terminate'],
    ],
    [
      'an instance the record never knew (launched by a pass that died): watched and terminated',
      ended(watching('terminated')),
      [builder('terminated'), tester('running')],
      watching('terminated', 'running'),
      ['terminate'],
    ],
    [
      'an hour after the end, still not terminated: given up, left to the janitor',
      ended(watching('shutting-down'), '2026-11-21T22:59:00.000Z'),
      [builder('shutting-down')],
      { ...watching('shutting-down'), gaveUpAt: NOW.toISOString() },
      [],
    ],
    [
      'already confirmed: nothing more to record',
      ended({ ...watching('terminated'), confirmedAt: T0 }),
      [builder('terminated')],
      { ...watching('terminated'), confirmedAt: T0 },
      [],
    ],
  ])('a pass after the end: %s', (_, before, instances, cleanup, actions) => {
    const decision = decide(before, minimal, seen({ instances }));

    expect(decision.next.phase).toBe('cancelled');
    expect(decision.next.cleanup).toEqual(cleanup);
    expect(kinds(decision.actions)).toEqual(actions);
  });

  it('a record from before the watch (no cleanup) is only cleaned up, never watched', () => {
    const before = bake('failed');
    const decision = decide(before, minimal, seen({ instances: [builder('running')] }));

    expect(decision.next).toEqual(before);
    expect(decision.actions).toEqual([{ kind: 'terminate', instanceIds: ['i-b'] }]);
  });

  it.each<[string, BakeRecord['cleanup'], BakeRecord['cleanup']]>([
    ['shutting-down from TerminateInstances: still watched', watching('running'), watching('shutting-down')],
    ['terminated already: confirmed', watching('running'), { ...watching('terminated'), confirmedAt: T0 }],
    [
      'a confirmed record is left as it is',
      { ...watching('terminated'), confirmedAt: 'earlier' },
      { ...watching('terminated'), confirmedAt: 'earlier' },
    ],
    [
      'a record given up on is left as it is',
      { ...watching('running'), gaveUpAt: 'earlier' },
      { ...watching('running'), gaveUpAt: 'earlier' },
    ],
    ['a record from before the watch gets none', undefined, undefined],
  ])('applyResults of a terminate: %s', (_, cleanup, expected) => {
    const state = expected?.instances[0]?.state ?? 'terminated';
    const next = applyResults(ended(cleanup), [
      { kind: 'terminating', instances: [{ instanceId: 'i-b', state }] },
    ]);

    expect(next.cleanup).toEqual(expected);
  });
});
