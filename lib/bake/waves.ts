/** A rollout's waves in the bake record: where each stands, and which targets are the current wave's. */
import { wavesOf, type Pipeline, type Wave } from '../pipeline/schema';
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
