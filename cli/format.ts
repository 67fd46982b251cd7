/** How the CLI shows a bake in text: one line for the bake, then one per part of it. */
import type { z } from 'zod';
import type { bakeView } from '../lib/api/schemas';

export type Bake = z.infer<typeof bakeView>;

/** Where a group stood when its bake ended, e.g. "group names 3; instances v3 x2, v4 x2; default 3 (put back from 4)". */
function endedLine(ended: NonNullable<NonNullable<Bake['rollout']>[number]['ended']>): string {
  const instances = ended.instances.map((i) => `v${i.version} x${i.count}`).join(', ') || 'none';
  const restored =
    ended.defaultRestoredFrom !== undefined ? ` (put back from ${ended.defaultRestoredFrom})` : '';
  const problem = ended.defaultProblem ? ` (not put back: ${ended.defaultProblem})` : '';
  const current = ended.defaultVersion ?? '?';
  return `group names ${ended.groupVersion}; instances ${instances}; default ${current}${restored}${problem}`;
}

/** What became of a finished bake's instances, e.g. "builder i-0abc terminated (confirmed)". */
function cleanupLine(cleanup: NonNullable<Bake['cleanup']>): string {
  const instances =
    cleanup.instances.map((i) => `${i.role} ${i.instanceId} ${i.state}`).join(', ') || 'no instances';
  const verdict = cleanup.confirmedAt
    ? 'confirmed'
    : cleanup.gaveUpAt
      ? 'not confirmed; left to the janitor'
      : 'watching';
  return `${instances} (${verdict})`;
}

export function describeBake(bake: Bake): string[] {
  const lines = [
    `${bake.id}  ${bake.kind} of ${bake.pipeline}  ${bake.phase}${bake.reason ? `  (${bake.reason})` : ''}`,
  ];
  if (bake.image?.imageId) lines.push(`  image     ${bake.image.imageId}  ${bake.image.name}`);
  for (const step of bake.steps) lines.push(`  step      ${step.stage}/${step.name}: ${step.status}`);
  const waves = bake.waves ?? [];
  const targetLine = (target: NonNullable<Bake['rollout']>[number], indent: string) => {
    const progress = target.percentage !== undefined ? ` ${target.percentage}%` : '';
    const place = [target.account ? `account ${target.account}` : '', target.region ?? ''].filter(Boolean);
    const at = place.length > 0 ? ` (${place.join(', ')})` : '';
    const version = target.version !== undefined ? ` v${target.version}` : '';
    const baking = target.baking ? ' baking' : '';
    lines.push(
      `${indent}${target.group}${at}${version}: ${target.status}${progress}${baking}${target.reason ? ` (${target.reason})` : ''}`,
    );
    if (target.ended) lines.push(`            ${endedLine(target.ended)}`);
  };
  if (waves.length > 1) {
    // One line per wave, its groups under it.
    waves.forEach((wave, index) => {
      const answered = wave.approval ? `, ${wave.approval.decision} by ${wave.approval.by ?? '?'}` : '';
      lines.push(
        `  wave      ${index + 1} ${wave.name}: ${wave.status}${answered}${wave.reason ? ` (${wave.reason})` : ''}`,
      );
      for (const target of (bake.rollout ?? []).filter((t) => (t.wave ?? 0) === index))
        targetLine(target, '    rollout ');
    });
  } else {
    for (const target of bake.rollout ?? []) targetLine(target, '  rollout   ');
  }
  if (bake.approval) lines.push(`  approval  ${bake.approval.decision} by ${bake.approval.by ?? '?'}`);
  if (bake.cleanup) lines.push(`  cleanup   ${cleanupLine(bake.cleanup)}`);
  if (bake.failure) {
    lines.push(`  failure   ${bake.failure.code}: ${bake.failure.message}`);
    if (bake.failure.output) lines.push(...bake.failure.output.split('\n').map((l) => `    ${l}`));
  }
  return lines;
}

/** `list` as a table a person can scan: a header, then one bake a line, its kind and age. */
export function listLines(bakes: readonly Bake[], now = Date.now()): string[] {
  if (bakes.length === 0) return ['no bakes'];
  const rows = bakes.map((b) => [
    b.id,
    b.kind,
    b.pipeline,
    b.phase,
    ago(b.createdAt, now),
    b.image?.imageId ?? '-',
  ]);
  const header = ['ID', 'KIND', 'PIPELINE', 'PHASE', 'STARTED', 'IMAGE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** "3m ago", "2h ago", "5d ago": how long since an ISO time. */
export function ago(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}
