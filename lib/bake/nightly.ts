import { describeError, PipelineBusyError } from '../errors';
import { publishNotification } from '../notify/notifications';
import { bakeSkipped } from './notifications';
import { planBake } from './plan';
import { startBake, type Bakery } from './service';

export type NightlyOutcome =
  | {
      readonly pipeline: string;
      readonly outcome: 'started';
      readonly bakeId: string;
      readonly reason: string;
    }
  | { readonly pipeline: string; readonly outcome: 'skipped'; readonly reason: string }
  | { readonly pipeline: string; readonly outcome: 'busy'; readonly activeBakeId: string }
  | {
      readonly pipeline: string;
      readonly outcome: 'error';
      readonly error: { code: string; message: string };
    };

/**
 * The nightly run: for every pipeline scheduled nightly, bake when the base image or the recipe
 * changed or the last successful bake is older than its max age; otherwise say why not with one
 * `bake.skipped` notification. A pipeline that fails is reported and the others go on.
 */
export async function runNightly(bakery: Bakery): Promise<NightlyOutcome[]> {
  const outcomes: NightlyOutcome[] = [];
  for (const pipeline of bakery.catalog.all.filter((p) => p.schedule.nightly)) {
    try {
      const plan = await planBake(bakery, pipeline.name, { withMaxAge: true });
      if (!plan.decision.bake) {
        await publishNotification(
          bakery.sns,
          bakery.topicArn,
          bakeSkipped(pipeline.name, plan.decision.lastBakeId, plan.decision.reason, bakery.clock()),
        );
        outcomes.push({ pipeline: pipeline.name, outcome: 'skipped', reason: plan.decision.reason });
        continue;
      }
      const bake = await startBake(bakery, pipeline.name, {
        reason: `nightly: ${plan.decision.reason}`,
        base: plan.base,
      });
      outcomes.push({
        pipeline: pipeline.name,
        outcome: 'started',
        bakeId: bake.id,
        reason: plan.decision.reason,
      });
    } catch (error) {
      if (error instanceof PipelineBusyError) {
        outcomes.push({ pipeline: pipeline.name, outcome: 'busy', activeBakeId: error.activeBakeId });
        continue;
      }
      bakery.log.error('nightly check failed', { pipeline: pipeline.name, error: describeError(error) });
      outcomes.push({ pipeline: pipeline.name, outcome: 'error', error: describeError(error) });
    }
  }
  return outcomes;
}
