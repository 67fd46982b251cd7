import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createBakery } from './bakery';
import { runNightly } from '../lib/bake/nightly';
import type { Bakery } from '../lib/bake/service';

const logger = new Logger({ serviceName: 'ami-bakery-nightly' });
let bakery: Bakery | undefined;

/** Re-bakes scheduled pipelines whose base image or recipe changed (or grew too old). */
async function nightlyHandler(): Promise<{ outcomes: Awaited<ReturnType<typeof runNightly>> }> {
  bakery ??= createBakery(logger);
  const outcomes = await runNightly(bakery);
  logger.info('nightly run', { outcomes });
  const failed = outcomes.filter((o) => o.outcome === 'error');
  // The invocation fails, so the failure destination keeps a record; the other pipelines went on.
  if (failed.length > 0)
    throw new Error(`Nightly check failed for ${failed.map((o) => o.pipeline).join(', ')}`);
  return { outcomes };
}

export const handler = middy(nightlyHandler).use(injectLambdaContext(logger));
