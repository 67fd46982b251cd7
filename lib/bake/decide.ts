import { ACTIVE_REFRESH } from '../rollout/refresh-status';
import { deadlineOf, targetsOf, type Pipeline, type Step } from '../pipeline/schema';
import { withResource, withTarget } from './apply';
import {
  currentWave,
  inWave,
  observedAt,
  rolloutStart,
  sameGroup,
  waveConfig,
  waveLabel,
  where,
  withWave,
} from './waves';
import {
  awaitingCleanup,
  cleanupAt,
  isTerminal,
  type Action,
  type BakeRecord,
  type Decision,
  type Failure,
  type Observed,
  type ObservedGroup,
  type InstanceAtEnd,
  type ObservedInstance,
  type Phase,
  type RolloutTarget,
  type StepRecord,
  type TargetStatus,
  type StepStage,
  type TerminalPhase,
  type Unreachable,
  type WaveStatus,
} from './model';

const GONE = new Set(['shutting-down', 'terminated']);
const TAIL = 4096;

function tail(text: string | undefined): string | undefined {
  return text === undefined || text.length <= TAIL ? text : text.slice(-TAIL);
}

/** The instance of a role the pass saw: the recorded one, else one found by its bake tag. */
function instanceOf(
  bake: BakeRecord,
  observed: Observed,
  role: 'builder' | 'tester',
): ObservedInstance | undefined {
  const recorded = role === 'builder' ? bake.builder?.instanceId : bake.tester?.instanceId;
  const mine = observed.instances.filter((instance) => instance.role === role);
  return mine.find((instance) => instance.instanceId === recorded) ?? mine.find((i) => !GONE.has(i.state));
}

/**
 * Poll interval while waiting in a phase: 15% of the time spent in it, between 1 s and 60 s,
 * so a short wait is noticed within about a second and a long one costs few calls.
 */
export function backoffSeconds(bake: BakeRecord, now: Date): number {
  const waited = (now.getTime() - Date.parse(bake.phaseStartedAt)) / 1000;
  return Math.min(60, Math.max(1, Math.round(0.15 * waited)));
}

function enter(bake: BakeRecord, phase: Phase, now: Date, patch: Partial<BakeRecord> = {}): BakeRecord {
  const at = now.toISOString();
  return { ...bake, ...patch, phase, phaseStartedAt: at, timeline: [...bake.timeline, { phase, at }] };
}

/** Folds what the pass observed into the record: resources created but not yet recorded (a pass died). */
function adopt(bake: BakeRecord, observed: Observed): BakeRecord {
  let next = bake;
  const builder = instanceOf(bake, observed, 'builder');
  if (builder && !bake.builder?.instanceId) {
    next = {
      ...next,
      builder: { attempt: 0, instanceType: '', ...next.builder, instanceId: builder.instanceId },
    };
  }
  const tester = instanceOf(bake, observed, 'tester');
  if (tester && !bake.tester?.instanceId) next = { ...next, tester: { instanceId: tester.instanceId } };
  const home = observed.images.find((image) => image.region === bake.region);
  if (home && !bake.image?.imageId) next = { ...next, image: { imageId: home.imageId, name: home.name } };
  const known = new Set(next.copies.map((copy) => copy.region));
  const adopted = observed.images.filter((image) => image.region !== bake.region && !known.has(image.region));
  if (adopted.length > 0) {
    next = {
      ...next,
      copies: [...next.copies, ...adopted.map(({ region, imageId }) => ({ region, imageId }))],
    };
  }
  for (const instance of observed.instances) {
    next = withResource(next, { kind: 'instance', id: instance.instanceId, region: bake.region });
  }
  for (const image of observed.images)
    next = withResource(next, { kind: 'image', id: image.imageId, region: image.region });
  return next;
}

/** Ends a bake: the terminal phase, and the termination of every instance it still has. */
export function finish(
  bake: BakeRecord,
  outcome: TerminalPhase,
  observed: Observed,
  failure?: Failure,
): Decision {
  // An image of a bake that did not succeed is marked, so it is never rolled out and retention removes it.
  const images = outcome === 'succeeded' ? [] : observed.images;
  const mark: Action[] = images.map(({ imageId, region }) => ({
    kind: 'mark-image-failed',
    imageId,
    region,
  }));
  // A step still under way when the bake ends never finishes: its builder is terminated. Steps
  // that never started stay NotStarted.
  const steps =
    outcome === 'succeeded'
      ? bake.steps
      : bake.steps.map((step) =>
          UNDER_WAY.has(step.status) ? { ...step, status: 'Cancelled' as const } : step,
        );
  // Likewise a rollout target the bake never finished: it says so, and why.
  const why =
    bake.approval?.decision === 'rejected'
      ? 'Rejected at the approval gate'
      : outcome === 'cancelled'
        ? 'The bake was cancelled'
        : 'The bake failed before this target was rolled out';
  const unfinished = bake.rollout?.map((target) =>
    outcome !== 'succeeded' && UNFINISHED_TARGET.has(target.status)
      ? { ...target, status: 'cancelled' as const, reason: why }
      : target,
  );
  const { rollout, restore } = groupsAtEnd(unfinished, outcome, observed);
  const waves = bake.waves?.map((wave) =>
    outcome !== 'succeeded' && UNFINISHED_WAVE.has(wave.status)
      ? { ...wave, status: 'cancelled' as const, reason: why }
      : wave,
  );
  const watch = cleanupAt(atEnd(observed.instances), observed.now, observed.now.toISOString());
  // A rollback under way ends with the bake (its failure is the bake's, or a later one's).
  const { rollbackFor: _ended, ...ending } = bake;
  return {
    next: enter(
      { ...ending, steps, ...(rollout ? { rollout } : {}), ...(waves ? { waves } : {}), cleanup: watch },
      outcome,
      observed.now,
      failure ? { failure } : {},
    ),
    actions: [...restore, ...mark, ...cleanup(observed)],
  };
}

/**
 * Where each target group stands as the bake ends (its configured version, its instances per
 * version, the template's default), and, for a bake that did not succeed, the default put back:
 * a version ami-bakery made the default stays so only if its rollout succeeded, or scale-outs
 * (and groups that name $Default) would launch the image that was cancelled or failed. Only a
 * default that is still the bake's own is put back; one somebody changed since is theirs.
 */
function groupsAtEnd(
  targets: readonly RolloutTarget[] | undefined,
  outcome: TerminalPhase,
  observed: Observed,
): { rollout?: readonly RolloutTarget[]; restore: RestoreDefault[] } {
  if (!targets || !observed.groups) return { rollout: targets, restore: [] };
  const restore = new Map<string, RestoreDefault>();
  const rollout = targets.map((target): RolloutTarget => {
    const group = observed.groups?.find((g) => sameGroup(observedAt(g), target));
    if (!group?.namedVersion) return target;
    const wanted = outcome === 'succeeded' ? undefined : restoreFor(target, group);
    if (wanted && !restore.has(wanted.templateId)) restore.set(wanted.templateId, wanted);
    const restoring =
      group.templateId === target.templateId ? restore.get(group.templateId ?? '') : undefined;
    const defaults = restoring
      ? { defaultVersion: restoring.version, defaultRestoredFrom: restoring.replacing }
      : group.defaultVersion !== undefined
        ? { defaultVersion: group.defaultVersion }
        : {};
    return {
      ...target,
      ended: { groupVersion: group.namedVersion, instances: group.instances ?? [], ...defaults },
    };
  });
  return { rollout, restore: [...restore.values()] };
}

type RestoreDefault = Extract<Action, { kind: 'restore-default-version' }>;

/** The default to put back: the bake made its version the default, and it still is. */
function restoreFor(target: RolloutTarget, group: ObservedGroup): RestoreDefault | undefined {
  const { templateId, version, sourceVersion } = target;
  if (!target.madeDefault || templateId === undefined || version === undefined) return undefined;
  if (sourceVersion === undefined || sourceVersion === version) return undefined;
  if (group.templateId !== templateId || group.defaultVersion !== version) return undefined;
  return {
    kind: 'restore-default-version',
    ...where(target),
    templateId,
    version: sourceVersion,
    replacing: version,
  };
}

const UNDER_WAY: ReadonlySet<StepRecord['status']> = new Set(['Pending', 'InProgress', 'Delayed']);
const UNFINISHED_TARGET: ReadonlySet<TargetStatus> = new Set(['pending', 'versioned', 'refreshing']);
const UNFINISHED_WAVE: ReadonlySet<WaveStatus> = new Set([
  'pending',
  'awaiting-approval',
  'rolling',
  'baking',
]);

/** Instances as a finished bake records them: id, role and the state EC2 showed. */
function atEnd(instances: readonly ObservedInstance[]): InstanceAtEnd[] {
  return instances.map(({ instanceId, role, state }) => ({ instanceId, role, state }));
}

/**
 * A finished bake's passes: terminate whatever of it is still alive, and, until EC2 shows each of
 * its instances `terminated`, record what it shows and look again. EC2 stops listing a terminated
 * instance after a while, so one no longer seen is gone. Needs no pipeline: a bake whose pipeline
 * was removed is watched the same.
 */
export function afterEnd(bake: BakeRecord, observed: Observed): Decision {
  const actions = cleanup(observed);
  const watched = bake.cleanup;
  if (!watched || !awaitingCleanup(bake)) return { next: bake, actions };
  const seen = new Map(observed.instances.map((i) => [i.instanceId, i]));
  const known = watched.instances.map((i) => ({
    ...i,
    state: seen.get(i.instanceId)?.state ?? 'terminated',
  }));
  const found = atEnd(
    observed.instances.filter((i) => !watched.instances.some((k) => k.instanceId === i.instanceId)),
  );
  const since = bake.timeline.at(-1)?.at ?? bake.updatedAt;
  return {
    next: { ...bake, cleanup: cleanupAt([...known, ...found], observed.now, since) },
    actions,
    wakeInSeconds: 30,
  };
}

/** Terminate every instance of the bake still alive: no terminal path leaves one running. */
function cleanup(observed: Observed): Action[] {
  const alive = observed.instances.filter((instance) => !GONE.has(instance.state)).map((i) => i.instanceId);
  return alive.length > 0 ? [{ kind: 'terminate', instanceIds: alive }] : [];
}

function failure(bake: BakeRecord, code: string, message: string, extra: Partial<Failure> = {}): Failure {
  return { phase: bake.phase, code, message, ...extra };
}

type StepsOutcome =
  | { readonly done: true; readonly steps: readonly StepRecord[] }
  | {
      readonly done: false;
      readonly steps: readonly StepRecord[];
      readonly actions: Action[];
      readonly failed?: StepRecord;
    };

/** Runs a stage's steps one after another on an instance, each through its own command. */
function runSteps(
  bake: BakeRecord,
  stage: StepStage,
  steps: readonly Step[],
  instanceId: string,
  observed: Observed,
): StepsOutcome {
  let records = [...bake.steps];
  for (const step of steps) {
    const index = records.findIndex((record) => record.stage === stage && record.name === step.name);
    const command = observed.commands.find((c) => c.stage === stage && c.step === step.name);
    const current = index >= 0 ? records[index] : undefined;
    if (!command && !current?.commandId) {
      const pending: StepRecord = { stage, name: step.name, status: 'NotStarted' };
      if (index < 0) records = [...records, pending];
      const send: Action = {
        kind: 'send-command',
        instanceId,
        stage,
        step: step.name,
        commands: step.run,
        timeoutSeconds: step.timeoutSeconds,
      };
      return { done: false, steps: records, actions: [send] };
    }
    const updated: StepRecord = command
      ? {
          stage,
          name: step.name,
          commandId: command.commandId,
          status: command.status,
          exitCode: command.exitCode,
          outputTail: tail(command.stdout),
          errorTail: tail(command.stderr),
        }
      : (current ?? { stage, name: step.name, status: 'NotStarted' });
    records = index >= 0 ? records.map((r, i) => (i === index ? updated : r)) : [...records, updated];
    if (updated.status === 'Success') continue;
    if (['Failed', 'TimedOut', 'Cancelled'].includes(updated.status)) {
      return { done: false, steps: records, actions: [], failed: updated };
    }
    return { done: false, steps: records, actions: [] };
  }
  return { done: true, steps: records };
}

function stepFailure(bake: BakeRecord, step: StepRecord): Failure {
  const output = [step.outputTail, step.errorTail].filter(Boolean).join('\n');
  return failure(
    bake,
    `Step${step.status}`,
    `Step ${step.stage}/${step.name} ended ${step.status} (exit ${step.exitCode ?? '?'})`,
    {
      step: `${step.stage}/${step.name}`,
      ...(output ? { output: output.slice(-TAIL) } : {}),
    },
  );
}

/** The image name recorded when CreateImage was asked for, else the pipeline's template filled in. */
function nameFor(pipeline: Pipeline, bake: BakeRecord): string {
  return bake.image?.name ?? imageName(pipeline, bake);
}

export function imageName(pipeline: Pipeline, bake: BakeRecord): string {
  const date = bake.createdAt.replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return pipeline.image.name
    .replaceAll('{pipeline}', pipeline.name)
    .replaceAll('{date}', date)
    .replaceAll('{bakeId}', bake.id);
}

/**
 * The reconciler's brain: from a bake record and what AWS shows now, the next record and the
 * actions that get there. Pure; running it twice on the same input gives the same answer.
 */
export function decide(bake: BakeRecord, pipeline: Pipeline, observed: Observed): Decision {
  const decision = decideStep(bake, pipeline, observed);
  // Several steps of one pass may each ask to terminate the same instance: one call does it.
  const terminate = [
    ...new Set(decision.actions.flatMap((a) => (a.kind === 'terminate' ? a.instanceIds : []))),
  ];
  if (terminate.length === 0) return decision;
  const others = decision.actions.filter((a) => a.kind !== 'terminate');
  return { ...decision, actions: [...others, { kind: 'terminate', instanceIds: terminate }] };
}

function decideStep(bake: BakeRecord, pipeline: Pipeline, observed: Observed): Decision {
  if (isTerminal(bake.phase)) return afterEnd(bake, observed);
  const now = observed.now;
  const current = adopt(bake, observed);
  if (current.failure) return finish(current, 'failed', observed, current.failure);
  if (current.cancelRequested) {
    // Stopping a rollout stops its refreshes too (the instances already replaced stay replaced).
    const stop: Action[] = (current.rollout ?? [])
      .filter((t) => t.status === 'refreshing' && refreshIsActive(observed, t.group, t.refreshId))
      .map((t) => ({ kind: 'cancel-refresh', ...where(t), group: t.group }));
    const decided = finish(current, 'cancelled', observed);
    return { ...decided, actions: [...stop, ...decided.actions] };
  }
  const allowed = deadlineOf(pipeline, current.phase);
  if (allowed !== undefined && now.getTime() - Date.parse(current.phaseStartedAt) > allowed * 1000) {
    const expired =
      current.phase === 'awaiting-approval'
        ? failure(current, 'ApprovalTimedOut', `Nobody approved the rollout within ${allowed} s`)
        : failure(current, 'DeadlineExceeded', `Phase ${current.phase} took longer than ${allowed} s`);
    return finish(current, 'failed', observed, expired);
  }
  const wait = (next: BakeRecord = current, actions: Action[] = []): Decision => ({
    next,
    actions,
    wakeInSeconds: backoffSeconds(next, now),
  });
  const builder = instanceOf(current, observed, 'builder');
  const builderId = current.builder?.instanceId;
  const pass: Pass = {
    current,
    pipeline,
    observed,
    now,
    wait,
    builder,
    builderId,
    builderLost: builderId !== undefined && (!builder || GONE.has(builder.state)),
  };

  switch (current.phase) {
    case 'requested':
      return requested(pass);
    case 'launching':
      return launching(pass);
    case 'provisioning':
    case 'validating':
      return stepsOnBuilder(pass);
    case 'stopping':
      return stopping(pass);
    case 'imaging':
      return imaging(pass);
    case 'testing':
      return testing(pass);
    case 'distributing':
      return distributing(pass);
    case 'publishing':
      return publishing(pass);
    case 'awaiting-approval':
      return awaitingApproval(pass);
    case 'rolling':
      return rolling(pass);
    case 'refreshing':
      return refreshing(pass);
    case 'rolling-back':
      return rollingBack(pass);
    default: // terminal phases were handled first
      return { next: current, actions: cleanup(observed) };
  }
}

/** One pass over one bake in flight: what each phase's function decides from. */
interface Pass {
  readonly current: BakeRecord;
  readonly pipeline: Pipeline;
  readonly observed: Observed;
  readonly now: Date;
  readonly wait: Wait;
  /** The builder as AWS shows it (the recorded one, else one found by its tag). */
  readonly builder: ObservedInstance | undefined;
  readonly builderId: string | undefined;
  /** The recorded builder is gone (terminated, or no longer listed). */
  readonly builderLost: boolean;
}

/** Ends the bake failed, with `code` and `message` as its failure in the current phase. */
function fail({ current, observed }: Pass, code: string, message: string): Decision {
  return finish(current, 'failed', observed, failure(current, code, message));
}

/** Enters `phase` and decides again at once (a phase whose work is already done costs no pass). */
function moveOn(
  { current, pipeline, observed, now }: Pass,
  phase: Phase,
  patch: Partial<BakeRecord> = {},
): Decision {
  return decideStep(enter(current, phase, now, patch), pipeline, observed);
}

function requested(pass: Pass): Decision {
  const { current, pipeline } = pass;
  // A rollout of an existing image: straight to the launch templates (the operator is the first gate).
  if (current.kind === 'rollout' && pipeline.rollout)
    return startWave(pass, { ...current, ...rolloutStart(pipeline.rollout) }, 0, { gate: false });
  return moveOn(pass, 'launching', {
    builder: { attempt: 0, instanceType: pipeline.builder.instanceTypes[0] ?? '' },
  });
}

function launching(pass: Pass): Decision {
  const { current, pipeline, observed, wait, builder, builderId } = pass;
  if (pass.builderLost) return fail(pass, 'BuilderLost', `Builder ${builderId} stopped existing`);
  if (!builder) {
    const attempt = current.builder?.attempt ?? 0;
    const instanceType = pipeline.builder.instanceTypes[attempt];
    if (instanceType === undefined) {
      return fail(
        pass,
        'InsufficientInstanceCapacity',
        `No capacity for ${pipeline.builder.instanceTypes.join(', ')}`,
      );
    }
    return wait({ ...current, builder: { attempt, instanceType } }, [
      {
        kind: 'launch',
        role: 'builder',
        imageId: current.baseImageId,
        instanceType,
        clientToken: `${current.id}-builder-${attempt}`,
      },
    ]);
  }
  if (builder.state !== 'running' || !observed.agentOnline.has(builder.instanceId)) return wait();
  return moveOn(pass, 'provisioning');
}

/** Provisioning and validating: the stage's steps, one command after another, on the builder. */
function stepsOnBuilder(pass: Pass): Decision {
  const { current, pipeline, observed, now, wait, builderId } = pass;
  if (pass.builderLost || !builderId)
    return fail(pass, 'BuilderLost', `Builder ${builderId ?? '?'} stopped existing`);
  const stage: StepStage = current.phase === 'provisioning' ? 'provision' : 'validate';
  const outcome = runSteps(
    current,
    stage,
    stage === 'provision' ? pipeline.provision : pipeline.validate,
    builderId,
    observed,
  );
  const next = { ...current, steps: outcome.steps };
  if (!outcome.done) {
    if (outcome.failed) return finish(next, 'failed', observed, stepFailure(next, outcome.failed));
    return wait(next, outcome.actions);
  }
  return decideStep(enter(next, stage === 'provision' ? 'validating' : 'stopping', now), pipeline, observed);
}

function stopping(pass: Pass): Decision {
  const { current, pipeline, now, wait, builder, builderId } = pass;
  if (pass.builderLost || !builder)
    return fail(pass, 'BuilderLost', `Builder ${builderId ?? '?'} stopped existing`);
  if (current.image) return moveOn(pass, 'imaging');
  if (builder.state === 'stopped') {
    const name = imageName(pipeline, current);
    return wait(enter(current, 'imaging', now, { image: { imageId: '', name } }), [
      { kind: 'create-image', instanceId: builder.instanceId, name },
    ]);
  }
  return wait(current, builder.state === 'running' ? [{ kind: 'stop', instanceId: builder.instanceId }] : []);
}

function imaging(pass: Pass): Decision {
  const { current, pipeline, observed, wait, builder } = pass;
  const image = observed.images.find((i) => i.region === current.region);
  if (!image) {
    if (current.image?.imageId) return wait(); // created, not yet visible
    if (!builder || GONE.has(builder.state)) return fail(pass, 'BuilderLost', 'Builder gone before imaging');
    const name = nameFor(pipeline, current);
    return wait(current, [{ kind: 'create-image', instanceId: builder.instanceId, name }]);
  }
  if (image.state === 'failed') return fail(pass, 'ImageFailed', image.reason ?? 'CreateImage failed');
  if (image.state !== 'available') return wait();
  const terminateBuilder: Action[] =
    builder && !GONE.has(builder.state) ? [{ kind: 'terminate', instanceIds: [builder.instanceId] }] : [];
  const decided = moveOn(pass, pipeline.test ? 'testing' : 'distributing');
  return { ...decided, actions: [...terminateBuilder, ...decided.actions] };
}

function distributing(pass: Pass): Decision {
  const { current, pipeline, observed, wait } = pass;
  const source = current.image?.imageId ?? '';
  const actions: Action[] = [];
  let ready = true;
  for (const region of pipeline.distribute.regions) {
    const copy = observed.images.find((i) => i.region === region);
    if (!copy) {
      ready = false;
      if (!current.copies.some((c) => c.region === region)) {
        actions.push({ kind: 'copy-image', region, sourceImageId: source, name: nameFor(pipeline, current) });
      }
    } else if (copy.state === 'failed') {
      return fail(pass, 'CopyFailed', `Copy to ${region} failed: ${copy.reason ?? ''}`);
    } else if (copy.state !== 'available') ready = false;
  }
  if (!ready) return wait(current, actions);
  const sharing = pipeline.distribute.accounts.length + pipeline.distribute.organizationalUnits.length > 0;
  const share: Action[] = sharing
    ? [
        { kind: 'share-image', region: current.region, imageId: source },
        ...current.copies.map((c) => ({
          kind: 'share-image' as const,
          region: c.region,
          imageId: c.imageId,
        })),
      ]
    : [];
  const decided = moveOn(pass, 'publishing');
  return { ...decided, actions: [...share, ...decided.actions] };
}

function publishing(pass: Pass): Decision {
  const { current, pipeline, observed } = pass;
  const targets = [{ region: current.region, imageId: current.image?.imageId ?? '' }, ...current.copies];
  const publish: Action[] = targets.map((t) => ({
    kind: 'publish',
    region: t.region,
    parameter: pipeline.publish.parameter,
    imageId: t.imageId,
  }));
  const done = pipeline.rollout
    ? startWave(pass, { ...current, ...rolloutStart(pipeline.rollout) }, 0)
    : finish(current, 'succeeded', observed);
  return { ...done, actions: [...publish, ...done.actions] };
}

function awaitingApproval(pass: Pass): Decision {
  const { current, observed } = pass;
  const wave = currentWave(current);
  if (current.approval?.decision === 'approved')
    return moveOn(pass, 'rolling', {
      waves: withWave(current, wave, {
        status: 'rolling',
        startedAt: pass.now.toISOString(),
        approval: current.approval,
      }).waves,
    });
  // A rejected image is marked like a failed one: it is never rolled out, and retention may remove it.
  if (current.approval?.decision === 'rejected') {
    const stopped = withWave(current, wave, { status: 'cancelled', approval: current.approval });
    return finish(stopped, 'cancelled', observed);
  }
  // People answer in hours: approve/reject wake the bake at once; the long timer only watches the deadline.
  return { next: current, actions: [], wakeInSeconds: 900 };
}

type Wait = (next?: BakeRecord, actions?: Action[]) => Decision;

/**
 * Starts wave `index` of `bake` (its rollout already in the record): at its approval gate if it
 * has one (a later gate starts with no answer: the last one is kept on its own wave), else rolling.
 */
function startWave(pass: Pass, bake: BakeRecord, index: number, { gate = true } = {}): Decision {
  const wave = waveConfig(pass.pipeline, index);
  const at = pass.now.toISOString();
  if (gate && wave?.requireApproval) {
    const { approval: _answered, ...rest } = withWave(bake, index, { status: 'awaiting-approval' });
    return decideStep(enter(rest, 'awaiting-approval', pass.now), pass.pipeline, pass.observed);
  }
  const rolling = withWave(bake, index, { status: 'rolling', startedAt: at });
  return decideStep(enter(rolling, 'rolling', pass.now), pass.pipeline, pass.observed);
}

function refreshIsActive(observed: Observed, group: string, refreshId: string | undefined): boolean {
  return (observed.refreshes ?? []).some(
    (r) => r.group === group && r.id === refreshId && ACTIVE_REFRESH.has(r.status),
  );
}

/**
 * The highest configured checkpoint a refresh at `percentage` has passed. The last checkpoint is
 * always 100 (the schema), and 100 is the refresh's completion, not a pause: AWS sends no
 * checkpoint event for it either ("Add checkpoints to an instance refresh").
 */
function checkpointReached(pipeline: Pipeline, percentage: number): number | undefined {
  const passed = (pipeline.rollout?.refresh.checkpointPercentages ?? []).filter(
    (p) => p < 100 && p <= percentage,
  );
  return passed.length > 0 ? Math.max(...passed) : undefined;
}

/** A new launch template version per target group: a copy of the version it uses, with the new image. */
function rolling(pass: Pass): Decision {
  const { current, pipeline, observed, wait } = pass;
  const rollout = pipeline.rollout;
  if (!rollout) return moveOn(pass, 'succeeded');
  if (!observed.groups) return wait(); // entered this pass: the groups are read on the next
  let next = current;
  const actions: Action[] = [];
  const wave = currentWave(current);
  for (const target of current.rollout ?? []) {
    if (target.status !== 'pending' || !inWave(target, wave)) continue;
    const group = observed.groups.find((g) => sameGroup(observedAt(g), target));
    if (!group?.templateId || group.templateVersion === undefined) {
      const cut = unreachableAt(observed, target);
      next = withTarget(next, target, {
        status: 'failed',
        reason: cut
          ? `Account ${cut.account} unreachable for ${target.group}: ${cut.reason}`
          : `Group ${target.group} not found, or not using a launch template`,
      });
      continue;
    }
    // A group in another region runs the pipeline's copy there.
    const imageId = target.region
      ? current.copies.find((c) => c.region === target.region)?.imageId
      : current.image?.imageId;
    if (!imageId) {
      next = withTarget(next, target, {
        status: 'failed',
        reason: `No copy of the image in ${target.region ?? current.region}`,
      });
      continue;
    }
    const spec = targetsOf(rollout).find((t) =>
      sameGroup({ group: t.autoScalingGroup, ...where(t) }, target),
    );
    const makeDefault = spec?.setDefaultVersion ?? true;
    next = withTarget(next, target, {
      templateId: group.templateId,
      sourceVersion: group.templateVersion,
      madeDefault: makeDefault,
    });
    actions.push({
      kind: 'create-template-version',
      ...where(target),
      group: target.group,
      templateId: group.templateId,
      sourceVersion: group.templateVersion,
      imageId,
      makeDefault,
    });
  }
  // Every pending target either failed or has its create-template-version action by now.
  if (actions.length > 0) return wait(next, actions);
  return decideStep(enter(next, 'refreshing', observed.now), pipeline, observed);
}

/** The target's account, when the pass could not read there (and why). */
function unreachableAt(observed: Observed, target: RolloutTarget): Unreachable | undefined {
  return (observed.unreachable ?? []).find((u) => u.account === target.account && u.region === target.region);
}

/** How Auto Scaling's StatusReason begins while a refresh waits on protected or Standby instances. */
const WAITING = 'Waiting for';

const REFRESH_DONE: Record<string, TargetStatus> = {
  Successful: 'succeeded',
  Failed: 'failed',
  Cancelled: 'failed',
  RollbackSuccessful: 'rolled-back',
  RollbackFailed: 'failed',
};

/** One Instance Refresh per versioned target, followed to its end; the bake ends when every target has. */
function refreshing(pass: Pass): Decision {
  const { current, pipeline, observed, wait } = pass;
  const policy = pipeline.rollout?.whenRefreshInProgress ?? 'wait';
  if (!observed.refreshes) return wait(); // entered this pass: refreshes are read on the next
  let next = current;
  const actions: Action[] = [];
  const wave = currentWave(current);
  const config = waveConfig(pipeline, wave);
  for (const target of current.rollout ?? []) {
    if (!inWave(target, wave)) continue;
    const refreshes = (observed.refreshes ?? []).filter((r) => sameGroup(r, target));
    if (target.status === 'versioned' && target.templateId && target.version !== undefined) {
      // Ours even if unrecorded (a pass died after starting it): it moves the group to our version.
      const mine = refreshes.find(
        (r) =>
          r.id === target.refreshId ||
          (ACTIVE_REFRESH.has(r.status) &&
            r.desiredTemplateId === target.templateId &&
            r.desiredVersion === String(target.version)),
      );
      const foreign = refreshes.find((r) => ACTIVE_REFRESH.has(r.status) && r.id !== mine?.id);
      if (mine) {
        next = withTarget(next, target, { status: 'refreshing', refreshId: mine.id });
      } else if (foreign) {
        // A refresh we did not start holds the group: a state to handle, not a crash.
        next = withTarget(next, target, {
          reason: `Waiting for refresh ${foreign.id} (${foreign.status})`,
        });
        if (policy === 'cancel' && foreign.status !== 'Cancelling')
          actions.push({ kind: 'cancel-refresh', ...where(target), group: target.group });
      } else {
        // AWS cannot roll back a group that names $Default or $Latest: refresh it without auto rollback.
        const group = observed.groups?.find((g) => sameGroup(observedAt(g), target));
        const wanted = pipeline.rollout?.refresh.autoRollback ?? false;
        const autoRollback = wanted && group?.usesAlias === false;
        if (wanted && !autoRollback) {
          next = withTarget(next, target, {
            reason: 'No automatic rollback: the group uses $Default or $Latest',
          });
        }
        actions.push({
          kind: 'start-refresh',
          ...where(target),
          group: target.group,
          templateId: target.templateId,
          version: target.version,
          autoRollback,
          ...(config && config.alarms.length > 0 ? { alarms: config.alarms } : {}),
          ...(config && config.bakeMinutes > 0 ? { bakeTimeSeconds: config.bakeMinutes * 60 } : {}),
        });
      }
    }
    if (target.status === 'refreshing') {
      const mine = refreshes.find((r) => r.id === target.refreshId);
      const cut = unreachableAt(observed, target);
      if (!mine && cut) {
        // Its account stopped answering mid-refresh: the target (and its wave) fails with why.
        next = withTarget(next, target, {
          status: 'failed',
          reason: `Account ${cut.account} unreachable for ${target.group}: ${cut.reason}`,
        });
        continue;
      }
      if (!mine) continue;
      const done = REFRESH_DONE[mine.status];
      // Checkpoints are passed going forward only: during a rollback the percentage counts back
      // down towards zero (DescribeInstanceRefreshes, PercentageComplete).
      const checkpoint =
        mine.status === 'InProgress' ? checkpointReached(pipeline, mine.percentage) : undefined;
      // A refresh that waits on protected or Standby instances says so (StatusReason): kept on
      // the target, so the record, the API, the CLI and a rollout.waiting notification show it.
      const waiting = !done && mine.reason?.startsWith(WAITING) ? mine.reason : undefined;
      const stopped = !waiting && target.reason?.startsWith(WAITING);
      next = withTarget(next, target, {
        percentage: mine.percentage,
        ...(mine.status === 'Baking' ? { baking: true } : target.baking ? { baking: false } : {}),
        ...(waiting ? { reason: waiting } : stopped ? { reason: undefined } : {}),
        ...(checkpoint !== undefined && checkpoint > (target.checkpoint ?? 0) ? { checkpoint } : {}),
        ...(done ? { status: done, ...(mine.reason ? { reason: mine.reason } : {}) } : {}),
      });
    }
  }
  const targets = (next.rollout ?? []).filter((t) => inWave(t, wave));
  if (actions.length > 0 || targets.some((t) => t.status === 'versioned' || t.status === 'refreshing')) {
    // The wave bakes once every refresh still running is in its bake time.
    const running = targets.filter((t) => t.status === 'refreshing');
    const baking = running.length > 0 && running.every((t) => t.baking === true);
    const status = next.waves?.[wave]?.status;
    if (baking && status === 'rolling') next = withWave(next, wave, { status: 'baking' });
    return wait(next, actions);
  }
  const failed = targets.filter((t) => t.status !== 'succeeded');
  const at = observed.now.toISOString();
  if (failed.length === 0) {
    next = withWave(next, wave, { status: 'succeeded', endedAt: at });
    if (waveConfig(pipeline, wave + 1)) return startWave(pass, next, wave + 1);
    // Housekeeping once the fleet is on the new version: old versions ami-bakery made, per template.
    const keep = pipeline.rollout?.keepTemplateVersions ?? 10;
    const all = next.rollout ?? [];
    const templates = new Map(all.flatMap((t) => (t.templateId ? [[t.templateId, t] as const] : [])));
    const prune: Action[] = [...templates].map(([templateId, t]) => ({
      kind: 'prune-template-versions',
      ...where(t),
      templateId,
      keep,
    }));
    const decided = finish(next, 'succeeded', observed);
    return { ...decided, actions: [...prune, ...decided.actions] };
  }
  return waveFailed(
    pass,
    next,
    wave,
    failed.map((t) => `${t.group}: ${t.status}${t.reason ? ` (${t.reason})` : ''}`).join('; '),
  );
}

/**
 * A wave failed: every later wave is stopped (its targets never start); with `onFailure:
 * rollback`, the groups already moved (earlier waves', this wave's that succeeded or failed part
 * way) are refreshed back first, then the bake fails naming the wave and its targets.
 */
function waveFailed(pass: Pass, bake: BakeRecord, wave: number, problem: string): Decision {
  const { pipeline, observed } = pass;
  const at = observed.now.toISOString();
  const label = waveLabel(bake, wave);
  const message = label ? `${label}: ${problem}` : problem;
  let next = withWave(bake, wave, { status: 'failed', endedAt: at, reason: problem });
  const stopped = `${label || 'an earlier wave'} failed`;
  next = {
    ...next,
    waves: next.waves?.map((w, index) =>
      index > wave ? { ...w, status: 'cancelled' as const, reason: `Not started: ${stopped}` } : w,
    ),
    rollout: next.rollout?.map((t) =>
      (t.wave ?? 0) > wave ? { ...t, status: 'cancelled' as const, reason: `Not started: ${stopped}` } : t,
    ),
  };
  const failed = failure(next, 'RolloutFailed', message);
  // Moved: every group that succeeded, and this wave's whose refresh failed part way (AWS rolled
  // back those it could: they say rolled-back).
  const moved = (next.rollout ?? []).filter(
    (t) =>
      t.status === 'succeeded' ||
      (t.status === 'failed' && inWave(t, wave) && t.refreshId !== undefined && t.version !== undefined),
  );
  if (pipeline.rollout?.onFailure === 'rollback' && moved.length > 0) {
    const back = new Set(moved.map((t) => t.group));
    next = {
      ...next,
      rollbackFor: failed,
      rollout: next.rollout?.map((t) =>
        back.has(t.group) ? { ...t, status: 'rolling-back' as const, percentage: 0, baking: false } : t,
      ),
    };
    return decideStep(enter(next, 'rolling-back', observed.now), pipeline, observed);
  }
  return finish(next, 'failed', observed, failed);
}

/**
 * `onFailure: rollback`: one refresh per group already moved, back to the version it ran before
 * (no checkpoints, alarms or bake time: going back is not held up), followed to its end; then the
 * bake fails with the wave's failure (and `finish` puts the templates' defaults back).
 */
function rollingBack(pass: Pass): Decision {
  const { current, observed, wait } = pass;
  if (!observed.refreshes) return wait(); // entered this pass: refreshes are read on the next
  let next = current;
  const actions: Action[] = [];
  for (const target of current.rollout ?? []) {
    if (target.status !== 'rolling-back') continue;
    const { templateId, sourceVersion } = target;
    if (templateId === undefined || sourceVersion === undefined) {
      next = withTarget(next, target, { status: 'failed', reason: 'Nothing to roll back to' });
      continue;
    }
    const refreshes = (observed.refreshes ?? []).filter((r) => sameGroup(r, target));
    const mine = refreshes.find(
      (r) =>
        r.id === target.rollbackRefreshId ||
        (target.rollbackRefreshId === undefined &&
          ACTIVE_REFRESH.has(r.status) &&
          r.desiredTemplateId === templateId &&
          r.desiredVersion === String(sourceVersion)),
    );
    if (!mine) {
      if (target.rollbackRefreshId !== undefined) continue; // started, not yet visible
      const foreign = refreshes.find((r) => ACTIVE_REFRESH.has(r.status));
      if (foreign) {
        next = withTarget(next, target, {
          reason: `Waiting for refresh ${foreign.id} (${foreign.status})`,
        });
        continue;
      }
      actions.push({
        kind: 'start-refresh',
        ...where(target),
        group: target.group,
        templateId,
        version: sourceVersion,
        autoRollback: false,
        rollback: true,
      });
      continue;
    }
    const done = REFRESH_DONE[mine.status];
    next = withTarget(next, target, {
      rollbackRefreshId: mine.id,
      percentage: mine.percentage,
      ...(done === 'succeeded'
        ? { status: 'rolled-back', reason: `Back on version ${sourceVersion}` }
        : done
          ? {
              status: 'failed',
              reason: `Rollback refresh ${mine.status}${mine.reason ? `: ${mine.reason}` : ''}`,
            }
          : {}),
    });
  }
  if (actions.length > 0 || (next.rollout ?? []).some((t) => t.status === 'rolling-back'))
    return wait(next, actions);
  // Waves whose every moved group is back say so.
  const waves = next.waves?.map((w, index) => {
    const mine = (next.rollout ?? []).filter((t) => inWave(t, index));
    return w.status === 'succeeded' && mine.every((t) => t.status === 'rolled-back')
      ? { ...w, status: 'rolled-back' as const }
      : w;
  });
  const ended = { ...next, ...(waves ? { waves } : {}) };
  return finish(
    ended,
    'failed',
    observed,
    next.rollbackFor ?? failure(ended, 'RolloutFailed', 'Rolled back'),
  );
}

function testing(pass: Pass): Decision {
  const { current, pipeline, observed, wait } = pass;
  const test = pipeline.test;
  const imageId = current.image?.imageId ?? '';
  if (!test) return moveOn(pass, 'distributing');
  const tester = instanceOf(current, observed, 'tester');
  const testerId = current.tester?.instanceId;
  if (testerId && (!tester || GONE.has(tester.state))) {
    return fail(pass, 'TesterLost', `Test instance ${testerId} stopped existing`);
  }
  if (!tester) {
    const instanceType = test.instanceType ?? pipeline.builder.instanceTypes[0] ?? 't3.micro';
    return wait(current, [
      { kind: 'launch', role: 'tester', imageId, instanceType, clientToken: `${current.id}-tester` },
    ]);
  }
  if (tester.state !== 'running' || !observed.agentOnline.has(tester.instanceId)) return wait();
  const outcome = runSteps(current, 'test', test.steps, tester.instanceId, observed);
  const next = { ...current, steps: outcome.steps };
  if (!outcome.done) {
    if (outcome.failed) return finish(next, 'failed', observed, stepFailure(next, outcome.failed));
    return wait(next, outcome.actions);
  }
  const decided = decideStep(enter(next, 'distributing', observed.now), pipeline, observed);
  return {
    ...decided,
    actions: [{ kind: 'terminate', instanceIds: [tester.instanceId] }, ...decided.actions],
  };
}
