import { randomBytes } from 'node:crypto';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { SNSClient } from '@aws-sdk/client-sns';
import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import { ConflictError, describeError, InvalidRequestError, isAwsError, NotFoundError } from '../errors';
import { publishNotification, type Notification } from '../notify/notifications';
import { bakeStarted, notificationsFor } from './notifications';
import type { PipelineCatalog } from '../pipeline/catalog';
import type { Pipeline } from '../pipeline/schema';
import type { LifecycleStore } from '../lifecycle/store';
import type { BakeStore, StoredBake } from '../store/bakes';
import { act, type ActClients } from './act';
import { settle } from './apply';
import { resolveBaseImage, type BaseImage } from './base-image';
import { afterEnd, decide, finish } from './decide';
import {
  bakeIdOf,
  isActive,
  isTerminal,
  type Approval,
  type BakeRecord,
  type Decision,
  type Observed,
} from './model';
import { observe } from './observe';
import { recipeHash } from './recipe';
import { TAG_PIPELINE, TAG_RECIPE, TAG_STATUS, tagValue } from '../aws/tags';
import type { PassScheduler } from './timer';
import type { Log } from '../log';

/** Everything the bake engine needs, built once per container (or per test). */
export interface Bakery extends ActClients {
  readonly region: string;
  /** Auto Scaling in the home region (lifecycle hooks, retention's in-use checks). */
  readonly autoScaling: Pick<AutoScalingClient, 'send'>;
  readonly store: BakeStore;
  /** Lifecycle hook actions in progress (same table). */
  readonly lifecycles: LifecycleStore;
  readonly catalog: PipelineCatalog;
  readonly sns: Pick<SNSClient, 'send'>;
  readonly topicArn: string;
  readonly scheduler: PassScheduler;
  readonly clock: () => Date;
  readonly log: Log;
  /** How long a pass may hold a bake while acting; longer than the reconcile function's timeout. */
  readonly leaseSeconds: number;
  /** The nightly trigger's EventBridge schedule expression, when known (the API shows the next run). */
  readonly nightlySchedule?: string;
}

export interface StartOptions {
  readonly reason?: string;
  /** The base image already resolved by the caller (a plan), so it is not looked up twice. */
  readonly base?: BaseImage;
  /** Remember the caller's Idempotency-Key with the bake, in the same transaction. */
  readonly idempotency?: { readonly key: string; readonly requestHash: string; readonly ttlSeconds: number };
}

/** A new bake's id (`BAKE_ID`), from the time it is asked for. */
export function newBakeId(now: Date): string {
  return bakeIdOf(now, randomBytes(3).toString('hex'));
}

/** The caller's Idempotency-Key, remembered with the new record in the same transaction. */
function idempotencyOf(bakery: Bakery, bake: BakeRecord, options: StartOptions) {
  return (
    options.idempotency && {
      key: options.idempotency.key,
      requestHash: options.idempotency.requestHash,
      bakeId: bake.id,
      expiresAt: Math.floor(bakery.clock().getTime() / 1000) + options.idempotency.ttlSeconds,
    }
  );
}

function leaseEnd(bakery: Bakery, now: Date): Date {
  return new Date(now.getTime() + bakery.leaseSeconds * 1000);
}

/** Publishes an outbox, then clears it; returns the record version after that (undefined if unknown). */
async function deliver(
  bakery: Bakery,
  written: BakeRecord,
  outbox: readonly Notification[],
): Promise<number | undefined> {
  if (outbox.length === 0) return written.version;
  for (const notification of outbox) await publishNotification(bakery.sns, bakery.topicArn, notification);
  return bakery.store.clearOutbox(written);
}

/** Starts (or continues) the bake's timer chain at `version`; an unknown version leaves it to the sweep. */
async function scheduleChain(
  bakery: Bakery,
  bakeId: string,
  delaySeconds: number,
  version: number | undefined,
): Promise<void> {
  if (version !== undefined) await bakery.scheduler.schedule(bakeId, delaySeconds, version);
}

/**
 * Starts a bake of a pipeline: resolves its base image, records the bake (taking the
 * pipeline's lock), announces it and schedules its first reconcile pass.
 * @throws NotFoundError for an unknown pipeline or base image; PipelineBusyError when the pipeline is baking.
 */
export async function startBake(
  bakery: Bakery,
  pipelineName: string,
  options: StartOptions = {},
): Promise<BakeRecord> {
  const pipeline = bakery.catalog.get(pipelineName);
  const base =
    options.base ??
    (await resolveBaseImage(pipeline, {
      ec2: bakery.ec2In(bakery.region),
      ssm: bakery.ssmIn(bakery.region),
    }));
  const bake = newRecord(bakery, pipeline, options, {
    baseImageId: base.imageId,
    rootDeviceName: base.rootDeviceName,
    recipeHash: recipeHash(pipeline, base.imageId),
  });
  const started = bakeStarted(bake);
  await bakery.store.create(
    bake,
    [started],
    leaseEnd(bakery, bakery.clock()),
    idempotencyOf(bakery, bake, options),
  );
  bakery.log.info('bake started', {
    bakeId: bake.id,
    pipeline: bake.pipeline,
    baseImageId: bake.baseImageId,
  });
  await scheduleChain(bakery, bake.id, 0, await deliver(bakery, bake, [started]));
  return bake;
}

function newRecord(
  bakery: Bakery,
  pipeline: Pipeline,
  options: StartOptions,
  patch: Pick<BakeRecord, 'baseImageId' | 'rootDeviceName' | 'recipeHash'> & Partial<BakeRecord>,
): BakeRecord {
  const now = bakery.clock().toISOString();
  return {
    id: newBakeId(bakery.clock()),
    pipeline: pipeline.name,
    phase: 'requested',
    version: 0,
    createdAt: now,
    updatedAt: now,
    phaseStartedAt: now,
    ...(options.reason ? { reason: options.reason } : {}),
    region: bakery.region,
    steps: [],
    copies: [],
    published: [],
    cancelRequested: false,
    timeline: [{ phase: 'requested', at: now }],
    resources: [],
    ...patch,
  };
}

const IMAGE_ID = /^ami-[0-9a-f]{8,17}$/;

/**
 * Rolls an existing image of a pipeline out to its targets: the operator's manual rollback (or
 * roll-forward). The image must be one this pipeline baked, available, and not marked failed.
 * It takes the pipeline's lock like a bake, and needs no approval: the operator is the approval.
 * @throws NotFoundError for an unknown pipeline or image; InvalidRequestError for an image that
 * cannot be rolled out or a pipeline without targets; PipelineBusyError when the pipeline is busy.
 */
export async function startRollout(
  bakery: Bakery,
  pipelineName: string,
  imageId: string,
  options: StartOptions = {},
): Promise<BakeRecord> {
  const pipeline = bakery.catalog.get(pipelineName);
  if (!pipeline.rollout)
    throw new InvalidRequestError(`Pipeline ${pipeline.name} has no rollout targets`, 'pipeline');
  if (!IMAGE_ID.test(imageId))
    throw new InvalidRequestError(`${imageId} is not an image id (ami-…)`, 'amiId');
  let image: Image | undefined;
  try {
    const described = await bakery
      .ec2In(bakery.region)
      .send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    image = described.Images?.[0];
  } catch (error) {
    // A malformed or unknown id: no such image (DescribeImages' documented errors).
    if (!isAwsError(error, 'InvalidAMIID.NotFound', 'InvalidAMIID.Malformed', 'InvalidAMIID.Unavailable'))
      throw error;
  }
  if (!image) throw new NotFoundError(`Image ${imageId} not found in ${bakery.region}`);
  const tag = (key: string) => tagValue(image.Tags, key);
  if (tag(TAG_PIPELINE) !== pipeline.name)
    throw new InvalidRequestError(`Image ${imageId} was not baked by pipeline ${pipeline.name}`, 'amiId');
  if (tag(TAG_STATUS) === 'failed')
    throw new InvalidRequestError(`Image ${imageId} is marked failed and is never rolled out`, 'amiId');
  if (image.State !== 'available')
    throw new InvalidRequestError(`Image ${imageId} is ${image.State ?? 'not available'}`, 'amiId');
  const bake = newRecord(bakery, pipeline, options, {
    kind: 'rollout',
    baseImageId: '',
    rootDeviceName: image.RootDeviceName ?? '',
    recipeHash: tag(TAG_RECIPE) ?? '',
    image: { imageId, name: image.Name ?? '' },
  });
  await bakery.store.create(bake, [], leaseEnd(bakery, bakery.clock()), idempotencyOf(bakery, bake, options));
  bakery.log.info('rollout started', { bakeId: bake.id, pipeline: bake.pipeline, imageId });
  await scheduleChain(bakery, bake.id, 0, bake.version);
  return bake;
}

export interface ApprovalAnswer {
  /** Who answered (an IAM principal, a user name), for the record and the notifications. */
  readonly by?: string;
  readonly comment?: string;
}

/**
 * Lets a bake waiting at the approval gate roll out.
 * @throws NotFoundError for an unknown bake; ConflictError when it is not awaiting approval.
 */
export async function approveBake(
  bakery: Bakery,
  bakeId: string,
  answer: ApprovalAnswer = {},
): Promise<void> {
  await answerApproval(bakery, bakeId, 'approved', answer);
}

/**
 * Stops a bake waiting at the approval gate: it ends cancelled and its image is never rolled out.
 * @throws NotFoundError for an unknown bake; ConflictError when it is not awaiting approval.
 */
export async function rejectBake(bakery: Bakery, bakeId: string, answer: ApprovalAnswer = {}): Promise<void> {
  await answerApproval(bakery, bakeId, 'rejected', answer);
}

async function answerApproval(
  bakery: Bakery,
  bakeId: string,
  decision: Approval['decision'],
  answer: ApprovalAnswer,
): Promise<void> {
  const version = await bakery.store.answerApproval(bakeId, {
    decision,
    at: bakery.clock().toISOString(),
    ...(answer.by ? { by: answer.by } : {}),
    ...(answer.comment ? { comment: answer.comment } : {}),
  });
  bakery.log.info(`bake ${decision}`, { bakeId, by: answer.by });
  await scheduleChain(bakery, bakeId, 0, version);
}

/**
 * Asks a bake to stop; its next pass terminates its instances and releases the pipeline.
 * @throws NotFoundError for an unknown bake; ConflictError for one already finished.
 */
export async function cancelBake(bakery: Bakery, bakeId: string): Promise<void> {
  const version = await bakery.store.requestCancel(bakeId, bakery.clock().toISOString());
  await scheduleChain(bakery, bakeId, 0, version);
}

export type Outcome = 'advanced' | 'unchanged' | 'conflict' | 'held';

function decideFor(bake: BakeRecord, pipeline: Pipeline | undefined, observed: Observed): Decision {
  if (pipeline) return decide(bake, pipeline, observed);
  if (isTerminal(bake.phase)) return afterEnd(bake, observed);
  return finish(bake, 'failed', observed, {
    phase: bake.phase,
    code: 'UnknownPipeline',
    message: `Pipeline ${bake.pipeline} is no longer configured`,
  });
}

/**
 * One bake, one step: deliver what is owed, decide, act, then commit (only if nobody else did).
 * `chain` is the version a timer message carried: only the live chain reschedules itself.
 */
async function advance(
  bakery: Bakery,
  stored: StoredBake,
  pipeline: Pipeline | undefined,
  observed: Observed,
  chain: number | undefined,
): Promise<Outcome> {
  const { bake } = stored;
  if (stored.outbox.length > 0) {
    // Left by a pass that died before delivering: send it, once we hold the bake.
    if (!(await bakery.store.claim(bake, observed.now, bakery.leaseSeconds))) return 'held';
    let version: number | undefined;
    try {
      version = await deliver(bakery, bake, stored.outbox);
    } catch (error) {
      await bakery.store.release(bake).catch(() => undefined);
      throw error;
    }
    if (isActive(bake)) await scheduleChain(bakery, bake.id, 1, version);
    return 'advanced';
  }
  const decision = decideFor(bake, pipeline, observed);
  if (decision.actions.length === 0 && JSON.stringify(decision.next) === JSON.stringify(bake)) {
    // Events and the sweep add no timers: the bake's own chain is already waiting.
    if (isActive(bake) && chain === bake.version) {
      await scheduleChain(bakery, bake.id, decision.wakeInSeconds ?? 30, bake.version);
    }
    return 'unchanged';
  }
  if (decision.actions.length > 0 && !(await bakery.store.claim(bake, observed.now, bakery.leaseSeconds))) {
    return 'held'; // another pass is acting on this bake; it schedules what comes next
  }
  let written: BakeRecord;
  let notifications: Notification[];
  try {
    const results = await act(bakery, bake, pipeline, decision.actions);
    const updatedAt = observed.now.toISOString();
    const next = settle({ ...bake, updatedAt }, { ...decision.next, updatedAt }, results);
    notifications = notificationsFor(bake, next);
    written = await bakery.store.commit(bake, next, notifications, leaseEnd(bakery, observed.now));
  } catch (error) {
    if (error instanceof ConflictError) return 'conflict'; // another pass advanced it: its work stands
    if (decision.actions.length > 0) await bakery.store.release(bake).catch(() => undefined);
    throw error;
  }
  bakery.log.info('bake advanced', {
    bakeId: bake.id,
    pipeline: bake.pipeline,
    from: bake.phase,
    to: written.phase,
    actions: decision.actions.map((a) => a.kind),
    ...(written.failure ? { failure: written.failure } : {}),
  });
  const version = await deliver(bakery, written, notifications);
  if (isActive(written)) {
    // A failure still to be carried to its end goes at once; a finished bake watches at its pace.
    const failing = written.failure !== undefined && !isTerminal(written.phase);
    await scheduleChain(bakery, bake.id, failing ? 0 : (decision.wakeInSeconds ?? 30), version);
  }
  return 'advanced';
}

export interface PassReport {
  readonly examined: number;
  readonly outcomes: Record<string, Outcome | 'error'>;
}

/** The stored bakes among `ids`; a trigger naming a bake that no longer exists is ignored. */
async function known(bakery: Bakery, ids: readonly string[]): Promise<StoredBake[]> {
  const found = await Promise.all(
    ids.map(async (id) => {
      try {
        return await bakery.store.get(id);
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    }),
  );
  return found.filter((entry): entry is StoredBake => entry !== undefined);
}

/**
 * A reconcile pass over the given bakes (or every active one): observe them together, then
 * advance each. A bake whose step fails is left for the next pass; the others go on.
 * `chains` gives, for bakes woken by their own timer, the version the timer was set for.
 * @throws when observing fails (the whole pass is retried by its trigger).
 */
export async function reconcile(
  bakery: Bakery,
  bakeIds?: readonly string[],
  chains: ReadonlyMap<string, number> = new Map(),
): Promise<PassReport> {
  const stored = bakeIds ? await known(bakery, bakeIds) : await bakery.store.active();
  const pipelines = new Map(bakery.catalog.all.map((pipeline) => [pipeline.name, pipeline]));
  const now = bakery.clock();
  const observed = await observe(
    stored.map((s) => s.bake),
    pipelines,
    { ec2In: bakery.ec2In, ssm: bakery.ssmIn(bakery.region), autoScalingIn: bakery.autoScalingIn },
    now,
  );
  const outcomes: PassReport['outcomes'] = {};
  for (const entry of stored) {
    const { bake } = entry;
    try {
      const seen = observed.get(bake.id) ?? {
        now,
        instances: [],
        agentOnline: new Set<string>(),
        commands: [],
        images: [],
      };
      outcomes[bake.id] = await advance(
        bakery,
        entry,
        pipelines.get(bake.pipeline),
        seen,
        chains.get(bake.id),
      );
    } catch (error) {
      outcomes[bake.id] = 'error';
      bakery.log.warn('bake pass failed; it will be retried', {
        bakeId: bake.id,
        pipeline: bake.pipeline,
        error: describeError(error),
      });
      // A timer's pass retries soon on its own chain; after an event or the sweep, the chain or the sweep will.
      if (chains.get(bake.id) === bake.version)
        await scheduleChain(bakery, bake.id, 2, bake.version).catch(() => undefined);
    }
  }
  return { examined: stored.length, outcomes };
}

/** The active bakes an AWS event concerns (by instance, image or command id), for event-driven passes. */
export function bakesConcernedBy(active: readonly BakeRecord[], resourceIds: readonly string[]): string[] {
  const wanted = new Set(resourceIds);
  return active
    .filter((bake) =>
      [
        bake.builder?.instanceId,
        bake.tester?.instanceId,
        bake.image?.imageId,
        ...bake.copies.map((c) => c.imageId),
        ...bake.steps.map((s) => s.commandId),
        // Instance refresh events name the refresh and the group; only bakes rolling out care.
        ...(bake.phase === 'refreshing' || bake.phase === 'rolling-back'
          ? (bake.rollout ?? []).flatMap((t) => [t.refreshId, t.rollbackRefreshId, t.group])
          : []),
      ].some((id) => id !== undefined && wanted.has(id)),
    )
    .map((bake) => bake.id);
}
