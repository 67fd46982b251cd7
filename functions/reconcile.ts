import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse } from 'aws-lambda';
import { createBakery } from './bakery';
import { crossAccount } from '../lib/aws/cross-account';
import type { Bakery } from '../lib/bake/service';
import { parseTrigger, UnknownTriggerError } from '../lib/triggers/parse';
import { wake } from '../lib/triggers/wake';

const logger = new Logger({ serviceName: 'ami-bakery-reconcile' });
let bakery: Bakery | undefined;

/** Advances in-flight bakes: on EC2/SSM events, on its own timers (SQS) and on the minute sweep. */
async function reconcileHandler(event: unknown): Promise<SQSBatchResponse | undefined> {
  let trigger;
  try {
    trigger = parseTrigger(event);
  } catch (error) {
    if (!(error instanceof UnknownTriggerError)) throw error;
    // Retrying an event we cannot read would only repeat the failure: count it and drop it.
    logger.warn('dropped an unrecognised event', { error });
    return undefined;
  }
  bakery ??= createBakery(logger, process.env, { crossAccount });
  const started = Date.now();
  const result = await wake(bakery, trigger);
  logger.info('reconciled', {
    trigger: result.trigger,
    reconciled: result.reconciled,
    outcomes: result.outcomes,
    durationMs: Date.now() - started,
  });
  return trigger.kind === 'timers'
    ? { batchItemFailures: result.failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) }
    : undefined;
}

export const handler = middy(reconcileHandler).use(injectLambdaContext(logger));
