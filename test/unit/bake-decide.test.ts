import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { applyResults } from '../../lib/bake/apply';
import { backoffSeconds, decide } from '../../lib/bake/decide';
import type {
  Action,
  ActionResult,
  BakeRecord,
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
  distribute: { regions: ['eu-west-1'], accounts: ['111122223333'], organizationalUnits: [] },
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
