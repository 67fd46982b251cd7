import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createBakery } from './bakery';
import type { Bakery } from '../lib/bake/service';
import { runJanitor, type JanitorReport } from '../lib/retention/run';

const logger = new Logger({ serviceName: 'ami-bakery-janitor' });
let bakery: Bakery | undefined;

/** Nightly: terminates leaked builders, applies each pipeline's image retention. */
async function janitorHandler(): Promise<JanitorReport> {
  bakery ??= createBakery(logger);
  const report = await runJanitor(bakery);
  logger.info('janitor run', { report });
  const failed = report.pipelines.filter((p) => 'error' in p);
  if (failed.length > 0) throw new Error(`Retention failed for ${failed.map((p) => p.pipeline).join(', ')}`);
  return report;
}

export const handler = middy(janitorHandler).use(injectLambdaContext(logger));
