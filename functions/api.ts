import { Logger } from '@aws-lambda-powertools/logger';
import { createApiHandler } from '../lib/api/handler';
import { createBakery } from './bakery';
import type { Bakery } from '../lib/bake/service';

const logger = new Logger({ serviceName: 'ami-bakery-api' });
let bakery: Bakery | undefined;

/** The HTTP API: bakes, approvals, rollouts and pipelines (docs/openapi.json). */
export const handler = createApiHandler(logger, () => (bakery ??= createBakery(logger)));
