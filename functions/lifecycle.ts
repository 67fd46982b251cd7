import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createBakery } from './bakery';
import type { Bakery } from '../lib/bake/service';
import { handleLifecycleEvent } from '../lib/lifecycle/handle';
import { NotAnSnsEventError } from '../lib/lifecycle/message';

const logger = new Logger({ serviceName: 'ami-bakery-lifecycle' });
let bakery: Bakery | undefined;

/** How long one invocation carries out a check before handing it to reconcile's timers. */
const BOUND_SECONDS = Number(process.env.LIFECYCLE_INLINE_SECONDS ?? 10);

/** Completes the lifecycle hooks of the fleet's groups: readiness on launch, drain on terminate. */
async function lifecycleHandler(event: unknown): Promise<void> {
  bakery ??= createBakery(logger);
  let handled;
  try {
    handled = await handleLifecycleEvent(bakery, event, BOUND_SECONDS);
  } catch (error) {
    if (!(error instanceof NotAnSnsEventError)) throw error;
    logger.warn('dropped an event that is not an SNS notification', { dropped: 1 });
    return;
  }
  for (const message of handled) {
    if (message.outcome === 'dropped') {
      // Counted in the logs (dropped: 1), never retried: the same bytes would fail the same way.
      logger.warn('dropped a garbled lifecycle message', { ...message, dropped: 1 });
    } else {
      logger.info('lifecycle message', { ...message });
    }
  }
}

export const handler = middy(lifecycleHandler).use(injectLambdaContext(logger));
