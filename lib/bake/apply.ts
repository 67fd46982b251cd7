import {
  cleanupAt,
  isTerminal,
  type ActionResult,
  type BakeRecord,
  type CreatedResource,
  type RolloutTarget,
  type StepRecord,
} from './model';
import { sameGroup, type GroupAt } from './waves';

/** The record with one rollout target (by group, region and account) updated. */
export function withTarget(bake: BakeRecord, at: GroupAt, patch: Partial<RolloutTarget>): BakeRecord {
  return { ...bake, rollout: (bake.rollout ?? []).map((t) => (sameGroup(t, at) ? { ...t, ...patch } : t)) };
}

/** The record with `resource` in its list of created resources (once). */
export function withResource(bake: BakeRecord, resource: CreatedResource): BakeRecord {
  const known = bake.resources.some(
    (r) => r.kind === resource.kind && r.id === resource.id && r.region === resource.region,
  );
  return known ? bake : { ...bake, resources: [...bake.resources, resource] };
}

/** Folds what the actions returned (ids of what they created, capacity misses, rejections) into the record. */
export function applyResults(next: BakeRecord, results: readonly ActionResult[]): BakeRecord {
  let bake = next;
  for (const result of results) {
    switch (result.kind) {
      case 'launched':
        bake =
          result.role === 'builder'
            ? {
                ...bake,
                builder: { attempt: 0, instanceType: '', ...bake.builder, instanceId: result.instanceId },
              }
            : { ...bake, tester: { instanceId: result.instanceId } };
        bake = withResource(bake, { kind: 'instance', id: result.instanceId, region: bake.region });
        break;
      case 'no-capacity': {
        const attempt = (bake.builder?.attempt ?? 0) + 1;
        bake = { ...bake, builder: { attempt, instanceType: result.instanceType } };
        break;
      }
      case 'command-sent': {
        const sent: StepRecord = {
          stage: result.stage,
          name: result.step,
          commandId: result.commandId,
          status: 'Pending',
        };
        const exists = bake.steps.some((s) => s.stage === result.stage && s.name === result.step);
        bake = {
          ...bake,
          steps: exists
            ? bake.steps.map((s) => (s.stage === result.stage && s.name === result.step ? sent : s))
            : [...bake.steps, sent],
        };
        break;
      }
      case 'image-created':
        bake = withResource(
          { ...bake, image: { imageId: result.imageId, name: result.name } },
          {
            kind: 'image',
            id: result.imageId,
            region: bake.region,
          },
        );
        break;
      case 'image-copied':
        bake = bake.copies.some((c) => c.region === result.region)
          ? bake
          : { ...bake, copies: [...bake.copies, { region: result.region, imageId: result.imageId }] };
        bake = withResource(bake, { kind: 'image', id: result.imageId, region: result.region });
        break;
      case 'published':
        bake = bake.published.some((p) => p.region === result.region)
          ? bake
          : {
              ...bake,
              published: [
                ...bake.published,
                { region: result.region, parameter: result.parameter, imageId: result.imageId },
              ],
            };
        bake = withResource(bake, { kind: 'parameter', id: result.parameter, region: result.region });
        break;
      case 'template-versioned':
        bake = withTarget(bake, result, {
          status: 'versioned',
          templateId: result.templateId,
          version: result.version,
        });
        break;
      case 'refresh-started':
        bake = result.rollback
          ? withTarget(bake, result, { rollbackRefreshId: result.refreshId, percentage: 0 })
          : withTarget(bake, result, {
              status: 'refreshing',
              refreshId: result.refreshId,
              percentage: 0,
            });
        break;
      case 'pruned':
        // Every target on the template shares the outcome: one template may serve several groups.
        bake = {
          ...bake,
          rollout: (bake.rollout ?? []).map((t) =>
            t.templateId === result.templateId
              ? {
                  ...t,
                  prunedVersions: result.versions,
                  ...(result.problem ? { pruneProblem: result.problem } : {}),
                }
              : t,
          ),
        };
        break;
      case 'default-restored':
        // The record said what the pass meant to do; this is what it found and did.
        bake = {
          ...bake,
          rollout: (bake.rollout ?? []).map((t) => {
            if (t.templateId !== result.templateId || !t.ended) return t;
            const { defaultRestoredFrom, defaultVersion, ...ended } = t.ended;
            // Not restored: the default found (somebody else's), or, after a refusal, still the bake's.
            const version = result.restored ? defaultVersion : (result.defaultVersion ?? defaultRestoredFrom);
            return {
              ...t,
              ended: {
                ...ended,
                ...(version !== undefined ? { defaultVersion: version } : {}),
                ...(result.restored ? { defaultRestoredFrom } : {}),
                ...(result.problem ? { defaultProblem: result.problem } : {}),
              },
            };
          }),
        };
        break;
      case 'terminating': {
        // EC2's answer to TerminateInstances: a finished bake records it (already `terminated`,
        // or `shutting-down` for its next passes to watch).
        const watched = bake.cleanup;
        if (!watched || watched.confirmedAt || watched.gaveUpAt) break;
        const states = new Map(result.instances.map((i) => [i.instanceId, i.state]));
        const instances = watched.instances.map((i) => ({
          ...i,
          state: states.get(i.instanceId) ?? i.state,
        }));
        bake = { ...bake, cleanup: cleanupAt(instances, new Date(bake.updatedAt), bake.updatedAt) };
        break;
      }
      case 'rejected':
        // A bake that already failed keeps the failure that ended it; a refused clean-up after it
        // is not the story.
        if (bake.failure && isTerminal(bake.phase)) break;
        bake = {
          ...bake,
          failure: { phase: bake.phase, code: result.code, message: `${result.action}: ${result.message}` },
        };
        break;
      case 'done':
        break;
    }
  }
  return bake;
}

/**
 * The record a pass commits: the decision's, with what its actions returned. A pass that would
 * end the bake `succeeded` while one of its actions was refused did not succeed: the record stays
 * in the phase it was in, carrying the failure, and the next pass fails it as every failure is
 * failed (`decide`: the timeline, the image marked, the notifications). Only `decide` sets a phase.
 */
export function settle(
  before: BakeRecord,
  decided: BakeRecord,
  results: readonly ActionResult[],
): BakeRecord {
  const refused = results.some((result) => result.kind === 'rejected');
  if (refused && decided.phase === 'succeeded' && before.phase !== 'succeeded') {
    const settled = applyResults({ ...before, updatedAt: decided.updatedAt }, results);
    // The refused actions belong to the last phase the pass went through before succeeding.
    const phase = decided.timeline.at(-2)?.phase ?? before.phase;
    return settled.failure ? { ...settled, failure: { ...settled.failure, phase } } : settled;
  }
  return applyResults(decided, results);
}
