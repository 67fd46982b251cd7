import { isTerminal, PHASES, type Phase } from '../../lib/bake/model';

export { isTerminal, PHASES };

/** 4 s, 2 m 05 s, 1 h 02 m: a length of time, to the second under an hour. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} m`;
}

/** A timestamp as the reader's clock shows it (title: the exact UTC time). */
export function when(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime())
    ? iso
    : at.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** How a phase or status is coloured: the badge's tone. */
export type Tone = 'ok' | 'bad' | 'wait' | 'busy' | 'idle';

export function toneOf(status: string): Tone {
  if (status === 'succeeded') return 'ok';
  if (status === 'failed' || status === 'rolled-back') return 'bad';
  if (status === 'awaiting-approval' || status === 'rolling-back') return 'wait';
  if (status === 'cancelled' || status === 'pending' || status === 'skipped') return 'idle';
  return 'busy';
}

/** Whether the phase is one of the bake's own (before the rollout) or of the rollout. */
export function stageOf(phase: Phase): 'bake' | 'rollout' | 'end' {
  if (isTerminal(phase)) return 'end';
  return PHASES.indexOf(phase) >= PHASES.indexOf('awaiting-approval') ? 'rollout' : 'bake';
}

/** A group's place: `web`, `web (eu-west-1)`, `web (account 222222222222, eu-west-1)`. */
export function placeOf(target: { group: string; account?: string; region?: string }): string {
  const where = [target.account ? `account ${target.account}` : '', target.region ?? ''].filter(Boolean);
  return where.length > 0 ? `${target.group} (${where.join(', ')})` : target.group;
}

/** Each phase's share of the whole, for the drawn timeline: at least 1 % so none vanishes. */
export function shares(durations: readonly { phase: string; seconds: number }[]): number[] {
  const total = durations.reduce((sum, d) => sum + d.seconds, 0);
  if (total <= 0) return durations.map(() => 100 / Math.max(1, durations.length));
  const raw = durations.map((d) => Math.max(1, (d.seconds / total) * 100));
  const scale = 100 / raw.reduce((sum, share) => sum + share, 0);
  return raw.map((share) => share * scale);
}
