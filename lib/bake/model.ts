/** The bake record, what a reconcile pass observes of AWS, and the actions it may take. */

export const PHASES = [
  'requested',
  'launching',
  'provisioning',
  'validating',
  'stopping',
  'imaging',
  'testing',
  'distributing',
  'publishing',
  'awaiting-approval',
  'rolling',
  'refreshing',
  'rolling-back',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type Phase = (typeof PHASES)[number];

/**
 * A bake's id: `b`, the UTC second it was asked for, six random hex digits
 * (b20261122041600-a1b2c3). Time-sortable, and safe in tags and ClientTokens.
 */
export const BAKE_ID = /^b\d{14}-[0-9a-f]{6}$/;

export function bakeIdOf(now: Date, randomHex: string): string {
  return `b${now.toISOString().replace(/\D/g, '').slice(0, 14)}-${randomHex}`;
}
export type TerminalPhase = 'succeeded' | 'failed' | 'cancelled';

export function isTerminal(phase: Phase): phase is TerminalPhase {
  return phase === 'succeeded' || phase === 'failed' || phase === 'cancelled';
}

/** An instance of a finished bake, as last seen. */
export interface InstanceAtEnd {
  readonly instanceId: string;
  readonly role: 'builder' | 'tester';
  /** EC2's state name: `terminated` is the only one that costs nothing. */
  readonly state: string;
}

/**
 * What became of a finished bake's instances. TerminateInstances only starts the end
 * (`shutting-down`); the bake keeps looking until EC2 shows every one `terminated`
 * (`confirmedAt`), or gives up after {@link CLEANUP_WATCH_SECONDS} (`gaveUpAt`) and leaves the
 * rest to the janitor's leaked-builder sweep.
 */
export interface Cleanup {
  readonly instances: readonly InstanceAtEnd[];
  readonly confirmedAt?: string;
  readonly gaveUpAt?: string;
}

/** How long a finished bake watches its instances terminate before leaving them to the janitor. */
export const CLEANUP_WATCH_SECONDS = 3600;

/** A finished bake still watching its instances terminate. */
export function awaitingCleanup(bake: BakeRecord): boolean {
  const { cleanup } = bake;
  return isTerminal(bake.phase) && cleanup !== undefined && !cleanup.confirmedAt && !cleanup.gaveUpAt;
}

/**
 * The clean-up record for a finished bake's instances as seen at `now`: confirmed once every one
 * is terminated, given up once the watch that began at `since` has run out.
 */
export function cleanupAt(instances: readonly InstanceAtEnd[], now: Date, since: string): Cleanup {
  const at = now.toISOString();
  if (instances.every((instance) => instance.state === 'terminated')) return { instances, confirmedAt: at };
  if (now.getTime() - Date.parse(since) > CLEANUP_WATCH_SECONDS * 1000) return { instances, gaveUpAt: at };
  return { instances };
}

/** A bake the reconciler still has work on: in flight, or finished and watching its instances end. */
export function isActive(bake: BakeRecord): boolean {
  return !isTerminal(bake.phase) || awaitingCleanup(bake);
}

export type StepStage = 'provision' | 'validate' | 'test';
export type CommandStatus =
  'Pending' | 'InProgress' | 'Delayed' | 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';

export interface StepRecord {
  readonly stage: StepStage;
  readonly name: string;
  readonly commandId?: string;
  readonly status: CommandStatus | 'NotStarted';
  readonly exitCode?: number;
  /** The last 4 KiB of stdout and stderr: enough to explain a failure, small enough for a record. */
  readonly outputTail?: string;
  readonly errorTail?: string;
}

export interface Failure {
  readonly phase: Phase;
  readonly code: string;
  readonly message: string;
  readonly step?: string;
  readonly output?: string;
}

/** Every resource a bake created, so clean-up and audits need no guessing. */
export interface CreatedResource {
  readonly kind: 'instance' | 'image' | 'parameter';
  readonly id: string;
  readonly region: string;
}

/**
 * `cancelled`: the bake ended (cancelled, rejected, failed elsewhere, or an earlier wave failed)
 * before this target's rollout did. `rolling-back`: its wave succeeded, a later one failed, and
 * `onFailure: rollback` refreshes it back to its earlier version.
 */
export type TargetStatus =
  | 'pending'
  | 'versioned'
  | 'refreshing'
  | 'succeeded'
  | 'failed'
  | 'rolling-back'
  | 'rolled-back'
  | 'cancelled';

export type WaveStatus =
  | 'pending'
  | 'awaiting-approval'
  | 'rolling'
  | 'baking'
  | 'succeeded'
  | 'failed'
  | 'rolled-back'
  | 'cancelled';

/** Where one wave of a rollout stands (`rollout.waves`; `targets` is one wave). */
export interface WaveRecord {
  readonly name: string;
  readonly status: WaveStatus;
  readonly startedAt?: string;
  readonly endedAt?: string;
  /** The answer at this wave's approval gate. */
  readonly approval?: Approval;
  readonly reason?: string;
}

/** Where one rollout target (an Auto Scaling group) stands. */
export interface RolloutTarget {
  readonly group: string;
  /** The wave it belongs to (an index into `waves`); absent in records made before waves. */
  readonly wave?: number;
  /** Its region, when not the bake's own: the group runs the pipeline's copy of the image there. */
  readonly region?: string;
  /** Its account, when not the service's own: reached through the pipeline's target role. */
  readonly account?: string;
  readonly status: TargetStatus;
  readonly templateId?: string;
  /** The template version the group used, and the bake's new one. */
  readonly sourceVersion?: number;
  readonly version?: number;
  readonly refreshId?: string;
  /** The refresh that takes it back to `sourceVersion` (`onFailure: rollback`). */
  readonly rollbackRefreshId?: string;
  readonly percentage?: number;
  /** Its refresh is in its bake time (Auto Scaling's `Baking`). */
  readonly baking?: boolean;
  /** The highest checkpoint percentage the refresh has reached (and that was announced). */
  readonly checkpoint?: number;
  /** Old template versions ami-bakery deleted once the refresh succeeded. */
  readonly prunedVersions?: readonly number[];
  /** Why pruning did not happen (it never fails a rollout). */
  readonly pruneProblem?: string;
  /** ami-bakery made its version the template's default (the pipeline's `setDefaultVersion`). */
  readonly madeDefault?: boolean;
  /** Where the group stood when the bake ended; absent when the bake never looked at its group. */
  readonly ended?: TargetEnd;
  readonly reason?: string;
}

/**
 * A rollout target as the bake left it. A cancelled or failed refresh leaves the fleet split:
 * the instances already replaced stay replaced, while the group still names its old version
 * (Auto Scaling moves the group to the desired configuration only when a refresh succeeds).
 */
export interface TargetEnd {
  /** The template version the group's configuration names ("$Default" and "$Latest" as named). */
  readonly groupVersion: string;
  /** How many of the group's instances were launched from each template version. */
  readonly instances: readonly { readonly version: string; readonly count: number }[];
  /** The template's default version once the bake ended. */
  readonly defaultVersion?: number;
  /** The bake's own version, made default and then put back to `defaultVersion` as the bake did not succeed. */
  readonly defaultRestoredFrom?: number;
  /** Why the default could not be put back. */
  readonly defaultProblem?: string;
}

/** A person's answer at the approval gate. */
export interface Approval {
  readonly decision: 'approved' | 'rejected';
  readonly at: string;
  readonly by?: string;
  readonly comment?: string;
}

export interface BakeRecord {
  readonly id: string;
  /** A bake makes an image (and may roll it out); a rollout moves groups to an existing one. Absent: bake. */
  readonly kind?: 'bake' | 'rollout';
  readonly pipeline: string;
  readonly phase: Phase;
  /** Optimistic concurrency: every commit requires the version it read and writes version + 1. */
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly phaseStartedAt: string;
  readonly reason?: string;
  readonly region: string;
  readonly baseImageId: string;
  /** Root device of the base image: the builder's encrypted root volume is mapped to it. */
  readonly rootDeviceName: string;
  readonly recipeHash: string;
  readonly builder?: {
    readonly instanceId?: string;
    readonly attempt: number;
    readonly instanceType: string;
  };
  readonly tester?: { readonly instanceId?: string };
  readonly steps: readonly StepRecord[];
  readonly image?: { readonly imageId: string; readonly name: string };
  readonly copies: readonly { readonly region: string; readonly imageId: string }[];
  readonly published: readonly {
    readonly region: string;
    readonly parameter: string;
    readonly imageId: string;
  }[];
  readonly cancelRequested: boolean;
  readonly rollout?: readonly RolloutTarget[];
  /** The rollout's waves, in order; the targets name theirs. */
  readonly waves?: readonly WaveRecord[];
  /** The answer at the approval gate the bake waits at now (or last waited at). */
  readonly approval?: Approval;
  /** While rolling back (`onFailure: rollback`): the failure the bake ends with once the groups are back. */
  readonly rollbackFor?: Failure;
  readonly failure?: Failure;
  readonly timeline: readonly { readonly phase: Phase; readonly at: string }[];
  readonly resources: readonly CreatedResource[];
  /** Set when the bake ends: whether its builder (and tester) are really gone. */
  readonly cleanup?: Cleanup;
}

export interface ObservedInstance {
  readonly instanceId: string;
  readonly role: 'builder' | 'tester';
  readonly state: string;
}

export interface ObservedCommand {
  readonly commandId: string;
  readonly stage: StepStage;
  readonly step: string;
  readonly status: CommandStatus;
  readonly exitCode?: number;
  readonly stdout?: string;
  readonly stderr?: string;
}

export interface ObservedImage {
  readonly imageId: string;
  readonly name: string;
  readonly region: string;
  readonly state: string;
  readonly reason?: string;
}

export interface ObservedGroup {
  readonly name: string;
  /** Where it is, when not the bake's region and the service's account (as its target says). */
  readonly region?: string;
  readonly account?: string;
  readonly templateId?: string;
  /** The template's version the group names, resolved to a number ($Default/$Latest included). */
  readonly templateVersion?: number;
  /** The group names $Default or $Latest: AWS cannot roll such a group back. */
  readonly usesAlias?: boolean;
  /** The version as the group's configuration names it (a number, "$Default" or "$Latest"). */
  readonly namedVersion?: string;
  /** The template's default version. */
  readonly defaultVersion?: number;
  /** The group's instances per template version they were launched from. */
  readonly instances?: readonly { readonly version: string; readonly count: number }[];
}

export interface ObservedRefresh {
  readonly group: string;
  readonly region?: string;
  readonly account?: string;
  readonly id: string;
  /** The launch template and version the refresh moves the group to, if it names one. */
  readonly desiredTemplateId?: string;
  readonly desiredVersion?: string;
  readonly status: string;
  readonly percentage: number;
  readonly reason?: string;
}

/** A target account (in a region, when not the bake's) the pass could not read, and why. */
export interface Unreachable {
  readonly account: string;
  readonly region?: string;
  readonly reason: string;
}

/** What one reconcile pass saw of a bake's resources (read from AWS, never from the record). */
export interface Observed {
  /** Rollout target groups, and their refreshes newest first (only for bakes rolling out). */
  readonly groups?: readonly ObservedGroup[];
  readonly refreshes?: readonly ObservedRefresh[];
  /** Target accounts whose role could not be assumed, or refused the reads (their groups are not in `groups`). */
  readonly unreachable?: readonly Unreachable[];
  readonly now: Date;
  readonly instances: readonly ObservedInstance[];
  /** Instances whose SSM agent reports Online. */
  readonly agentOnline: ReadonlySet<string>;
  readonly commands: readonly ObservedCommand[];
  readonly images: readonly ObservedImage[];
}

export type Action =
  | {
      readonly kind: 'launch';
      readonly role: 'builder' | 'tester';
      readonly imageId: string;
      readonly instanceType: string;
      readonly clientToken: string;
    }
  | {
      readonly kind: 'send-command';
      readonly instanceId: string;
      readonly stage: StepStage;
      readonly step: string;
      readonly commands: readonly string[];
      readonly timeoutSeconds: number;
    }
  | { readonly kind: 'stop'; readonly instanceId: string }
  | { readonly kind: 'terminate'; readonly instanceIds: readonly string[] }
  | { readonly kind: 'create-image'; readonly instanceId: string; readonly name: string }
  | { readonly kind: 'mark-image-failed'; readonly imageId: string; readonly region: string }
  | {
      readonly kind: 'copy-image';
      readonly region: string;
      readonly sourceImageId: string;
      readonly name: string;
    }
  | { readonly kind: 'share-image'; readonly region: string; readonly imageId: string }
  | {
      readonly kind: 'publish';
      readonly region: string;
      readonly parameter: string;
      readonly imageId: string;
    }
  | {
      readonly kind: 'create-template-version';
      /** Where the group or template is, when not the bake's region (and account). */
      readonly region?: string;
      readonly account?: string;
      readonly group: string;
      readonly templateId: string;
      readonly sourceVersion: number;
      readonly imageId: string;
      readonly makeDefault: boolean;
    }
  | {
      readonly kind: 'start-refresh';
      /** Where the group or template is, when not the bake's region (and account). */
      readonly region?: string;
      readonly account?: string;
      readonly group: string;
      readonly templateId: string;
      readonly version: number;
      readonly autoRollback: boolean;
      /** The wave's alarms besides the pipeline's (AlarmSpecification). */
      readonly alarms?: readonly string[];
      /** The wave's bake time, instead of the pipeline's `refresh.bakeTimeSeconds`. */
      readonly bakeTimeSeconds?: number;
      /** Back to the version the group ran before (`onFailure: rollback`): no checkpoints, alarms or bake time. */
      readonly rollback?: boolean;
    }
  | {
      readonly kind: 'cancel-refresh';
      readonly group: string;
      readonly region?: string;
      readonly account?: string;
    }
  | {
      /** Puts the template's default back to `version`, if it is still the bake's `replacing`. */
      readonly kind: 'restore-default-version';
      /** Where the group or template is, when not the bake's region (and account). */
      readonly region?: string;
      readonly account?: string;
      readonly templateId: string;
      readonly version: number;
      readonly replacing: number;
    }
  | {
      readonly kind: 'prune-template-versions';
      readonly templateId: string;
      readonly keep: number;
      readonly region?: string;
      readonly account?: string;
    };

/** What `act` learned from an action, to fold into the record before it is committed. */
export type ActionResult =
  | { readonly kind: 'launched'; readonly role: 'builder' | 'tester'; readonly instanceId: string }
  | { readonly kind: 'no-capacity'; readonly instanceType: string }
  | {
      readonly kind: 'command-sent';
      readonly stage: StepStage;
      readonly step: string;
      readonly commandId: string;
    }
  | { readonly kind: 'image-created'; readonly imageId: string; readonly name: string }
  | { readonly kind: 'image-copied'; readonly region: string; readonly imageId: string }
  | {
      readonly kind: 'published';
      readonly region: string;
      readonly parameter: string;
      readonly imageId: string;
    }
  | {
      readonly kind: 'template-versioned';
      readonly group: string;
      readonly region?: string;
      readonly account?: string;
      readonly templateId: string;
      readonly version: number;
    }
  | {
      readonly kind: 'refresh-started';
      readonly group: string;
      readonly region?: string;
      readonly account?: string;
      readonly refreshId: string;
      readonly rollback?: boolean;
    }
  | {
      readonly kind: 'default-restored';
      readonly templateId: string;
      /** The default the template has now (the restored one, or whatever someone else set). */
      readonly defaultVersion?: number;
      readonly restored: boolean;
      readonly problem?: string;
    }
  | {
      readonly kind: 'pruned';
      readonly templateId: string;
      readonly versions: readonly number[];
      readonly problem?: string;
    }
  | {
      readonly kind: 'terminating';
      /** EC2's answer: each instance's state once asked (`shutting-down`, or `terminated` already). */
      readonly instances: readonly { readonly instanceId: string; readonly state: string }[];
    }
  | {
      readonly kind: 'rejected';
      readonly action: Action['kind'];
      readonly code: string;
      readonly message: string;
    }
  | { readonly kind: 'done' };

export interface Decision {
  /** The record as it stands once the actions succeed. */
  readonly next: BakeRecord;
  readonly actions: readonly Action[];
  /** When to look again if no event arrives first (seconds); absent for terminal records. */
  readonly wakeInSeconds?: number;
}
