import type { Bakery } from '../bake/service';
import { describeError } from '../errors';
import { publishNotification, type Notification } from '../notify/notifications';
import {
  applyRetention,
  sweepLeakedBuilders,
  type LeakedBuilder,
  type RetentionDeps,
  type RetentionOutcome,
} from './janitor';

export interface JanitorReport {
  readonly leaked: readonly LeakedBuilder[];
  readonly pipelines: readonly (
    | ({ readonly pipeline: string } & Omit<RetentionOutcome, 'plan'> & {
          readonly kept: number;
          readonly planned: number;
        })
    | { readonly pipeline: string; readonly error: { code: string; message: string } }
  )[];
}

function completed(
  pipeline: string,
  outcome: RetentionOutcome,
  leaked: readonly LeakedBuilder[],
  now: Date,
): Notification {
  const verb = outcome.dryRun ? 'would delete' : 'deleted';
  const count = outcome.dryRun ? outcome.plan.delete.length : outcome.deregistered.length;
  const gib = outcome.dryRun ? outcome.plan.reclaimGiB : outcome.reclaimedGiB;
  return {
    id: `${pipeline}:retention.completed:${now.toISOString()}`,
    type: 'retention.completed',
    severity: 'info',
    subject: `[ami-bakery] ${pipeline}: retention ${verb} ${count} images (${gib} GiB)`.slice(0, 100),
    pipeline,
    phase: outcome.dryRun ? 'dry-run' : 'applied',
    at: now.toISOString(),
    detail: {
      dryRun: outcome.dryRun,
      deregistered: outcome.deregistered,
      snapshotsDeleted: outcome.snapshotsDeleted,
      reclaimedGiB: outcome.reclaimedGiB,
      wouldDelete: outcome.dryRun
        ? outcome.plan.delete.map((i) => ({ imageId: i.imageId, region: i.region }))
        : [],
      kept: outcome.plan.keep.map((i) => ({ imageId: i.imageId, region: i.region, reasons: i.reasons })),
      leakedBuilders: leaked,
    },
  };
}

/**
 * The janitor's nightly run: leaked builders first (terminated), then each pipeline's retention
 * (a dry run the first time, or when the pipeline says so), each with a `retention.completed`
 * notification. A pipeline that fails is reported; the others go on.
 */
export async function runJanitor(
  bakery: RetentionDeps & Pick<Bakery, 'log' | 'sns' | 'topicArn'>,
): Promise<JanitorReport> {
  const leaked = await sweepLeakedBuilders(bakery);
  if (leaked.length > 0) bakery.log.warn('terminated leaked builders', { leaked });
  const pipelines: JanitorReport['pipelines'][number][] = [];
  for (const pipeline of bakery.catalog.all) {
    try {
      const first = await bakery.store.janitorRan(pipeline.name, bakery.clock().toISOString());
      const outcome = await applyRetention(bakery, pipeline, first || pipeline.retention.dryRun);
      const mine = leaked.filter((l) => l.pipeline === pipeline.name);
      await publishNotification(
        bakery.sns,
        bakery.topicArn,
        completed(pipeline.name, outcome, mine, bakery.clock()),
      );
      const { plan, ...rest } = outcome;
      pipelines.push({
        pipeline: pipeline.name,
        ...rest,
        kept: plan.keep.length,
        planned: plan.delete.length,
      });
    } catch (error) {
      bakery.log.error('retention failed', { pipeline: pipeline.name, error: describeError(error) });
      pipelines.push({ pipeline: pipeline.name, error: describeError(error) });
    }
  }
  return { leaked, pipelines };
}
