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

export function describeBake(bake: Bake): string[] {
  const lines = [
    `${bake.id}  ${bake.kind} of ${bake.pipeline}  ${bake.phase}${bake.reason ? `  (${bake.reason})` : ''}`,
  ];
  if (bake.image?.imageId) lines.push(`  image     ${bake.image.imageId}  ${bake.image.name}`);
  for (const step of bake.steps) lines.push(`  step      ${step.stage}/${step.name}: ${step.status}`);
  for (const target of bake.rollout ?? []) {
    const progress = target.percentage !== undefined ? ` ${target.percentage}%` : '';
    lines.push(
      `  rollout   ${target.group}: ${target.status}${progress}${target.reason ? ` (${target.reason})` : ''}`,
    );
    if (target.ended) lines.push(`            ${endedLine(target.ended)}`);
  }
  if (bake.approval) lines.push(`  approval  ${bake.approval.decision} by ${bake.approval.by ?? '?'}`);
  if (bake.failure) {
    lines.push(`  failure   ${bake.failure.code}: ${bake.failure.message}`);
    if (bake.failure.output) lines.push(...bake.failure.output.split('\n').map((l) => `    ${l}`));
  }
  return lines;
}
