/** A rollout's waves in the bake record: where each stands, and which targets are the current wave's. */
import { wavesOf, type Pipeline, type Wave } from '../pipeline/schema';
import { partitionOf, type AssumedRole } from '../aws/regional';
import { RefusedError } from '../errors';
import type { BakeRecord, RolloutTarget, WaveRecord } from './model';

/** The record's rollout as it starts: every target pending, each naming its wave; every wave pending. */
export function rolloutStart(
  rollout: NonNullable<Pipeline['rollout']>,
): Pick<BakeRecord, 'rollout' | 'waves'> {
  const waves = wavesOf(rollout);
  return {
    rollout: waves.flatMap((wave, index) =>
      wave.targets.map((t): RolloutTarget => ({
        group: t.autoScalingGroup,
        wave: index,
        ...(t.region ? { region: t.region } : {}),
        ...(t.account ? { account: t.account } : {}),
        status: 'pending',
      })),
    ),
    waves: waves.map((wave): WaveRecord => ({ name: wave.name, status: 'pending' })),
  };
}

/**
 * The wave the rollout is at: the first that has not succeeded. A record made before waves has
 * none: all its targets are one wave, 0.
 */
export function currentWave(bake: BakeRecord): number {
  const index = (bake.waves ?? []).findIndex((wave) => wave.status !== 'succeeded');
  return index === -1 ? 0 : index;
}

export function inWave(target: RolloutTarget, wave: number): boolean {
  return (target.wave ?? 0) === wave;
}

/** The wave's configuration (a record made before waves: the pipeline's one wave). */
export function waveConfig(pipeline: Pipeline, wave: number): Wave | undefined {
  return pipeline.rollout ? wavesOf(pipeline.rollout)[wave] : undefined;
}

/** The record with one wave updated. */
export function withWave(bake: BakeRecord, wave: number, patch: Partial<WaveRecord>): BakeRecord {
  if (!bake.waves) return bake;
  return { ...bake, waves: bake.waves.map((w, index) => (index === wave ? { ...w, ...patch } : w)) };
}

/** A wave's name for messages (`wave canary`), or nothing for a rollout of one wave. */
export function waveLabel(bake: BakeRecord, wave: number): string {
  const waves = bake.waves ?? [];
  return waves.length > 1 ? `wave ${waves[wave]?.name ?? wave + 1}` : '';
}

/** A target group where it is: its name, with its region and account when not the bake's own. */
export interface GroupAt {
  readonly group: string;
  readonly region?: string | undefined;
  readonly account?: string | undefined;
}

/** The same group in the same place (a group's name is unique only within an account and region). */
export function sameGroup(a: GroupAt, b: GroupAt): boolean {
  return a.group === b.group && a.region === b.region && a.account === b.account;
}

/** The place fields an action or result on a target's group carries, when not the bake's own. */
export function where(target: Omit<GroupAt, 'group'>): { region?: string; account?: string } {
  return {
    ...(target.region ? { region: target.region } : {}),
    ...(target.account ? { account: target.account } : {}),
  };
}

/** An observed group as a `GroupAt`. */
export function observedAt(group: { name: string; region?: string; account?: string }): GroupAt {
  return { group: group.name, ...where(group) };
}

/**
 * The role a bake's calls in another account go through: the pipeline's target role there, a
 * session named after the bake. None for the service's own account.
 */
export function roleFor(
  pipeline: Pick<Pipeline, 'rollout'> | undefined,
  bake: Pick<BakeRecord, 'id' | 'region'>,
  account: string | undefined,
): AssumedRole | undefined {
  if (account === undefined) return undefined;
  const role = pipeline?.rollout?.targetRole;
  if (!role)
    throw new RefusedError(
      'TargetRoleMissing',
      `account ${account} is a rollout target, but the pipeline names no rollout.targetRole to reach it`,
    );
  return {
    roleArn: `arn:${partitionOf(bake.region)}:iam::${account}:role/${role.name}`,
    externalId: role.externalId,
    sessionName: bake.id,
  };
}
