import { createHash } from 'node:crypto';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type * as z from '../zod';
import { BAKE_ID, isTerminal, type BakeRecord } from '../bake/model';
import { planBake } from '../bake/plan';
import { nextRun } from '../bake/schedule';
import { approveBake, cancelBake, rejectBake, startBake, startRollout, type Bakery } from '../bake/service';
import { isAwsError, NotFoundError } from '../errors';
import { targetsOf, wavesOf, type Pipeline } from '../pipeline/schema';
import { BakeStore, IdempotencyKeyReusedError } from '../store/bakes';
import { retentionPlan } from '../retention/janitor';
import { openApiDocument } from './openapi';
import { HttpProblem } from './problem';
import {
  approvalBody,
  cancelBody,
  idempotencyKeyHeader,
  listQuery,
  startBakeBody,
  startRolloutBody,
} from './schemas';

/** An HTTP request, as the api function's middlewares leave it (headers lower-cased, JSON parsed). */
export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: unknown;
  /** Who is calling (the IAM principal's ARN), for idempotency scopes and approvals. */
  readonly caller: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

/** How long an Idempotency-Key is remembered. */
const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

function parse<T extends z.ZodMiniType>(schema: T, value: unknown, where: 'body' | 'query'): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  const unknownKeys = issue?.code === 'unrecognized_keys' ? issue.keys.join(', ') : undefined;
  const detail = unknownKeys
    ? `Unknown field(s): ${unknownKeys}`
    : `${field || where}: ${issue?.message ?? 'invalid'}`;
  throw where === 'body'
    ? new HttpProblem(422, 'invalid-body', 'Invalid body', detail, unknownKeys ?? (field || undefined))
    : new HttpProblem(400, 'invalid-query', 'Invalid query', detail, unknownKeys ?? (field || undefined));
}

/**
 * A record as the API shows it (`bakeView`): the kind always spelled out, when it finished, and
 * how long each phase took (the one under way: so far, as of the last update).
 */
export function view(bake: BakeRecord): BakeRecord & {
  kind: 'bake' | 'rollout';
  finishedAt?: string;
  durations: { phase: string; seconds: number }[];
} {
  const { timeline } = bake;
  const durations = timeline.map((entry, i) => ({
    phase: entry.phase,
    seconds: Math.max(0, (Date.parse(timeline[i + 1]?.at ?? bake.updatedAt) - Date.parse(entry.at)) / 1000),
  }));
  const finished = isTerminal(bake.phase)
    ? timeline.findLast((entry) => entry.phase === bake.phase)
    : undefined;
  return {
    ...bake,
    kind: bake.kind ?? 'bake',
    ...(finished ? { finishedAt: finished.at } : {}),
    // A finished bake's last phase has no length: it is where the bake stays.
    durations: finished ? durations.slice(0, -1) : durations,
  };
}

function accepted(bake: BakeRecord, extra: Record<string, string> = {}): ApiResponse {
  return { status: 202, body: { bake: view(bake) }, headers: { Location: `/bakes/${bake.id}`, ...extra } };
}

/** A path parameter percent-decoded; a malformed escape (`%ff`, `%`, `%zz`) is kept as sent, naming nothing. */
function decoded(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function bakeIdOf(raw: string): string {
  const id = decoded(raw);
  if (!BAKE_ID.test(id)) throw new NotFoundError(`Unknown bake: ${JSON.stringify(id.slice(0, 64))}`);
  return id;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Idempotency {
  key: string;
  requestHash: string;
  ttlSeconds: number;
}

/** The request's Idempotency-Key, scoped to the caller (two callers never share a key by accident). */
function idempotencyOf(request: ApiRequest, what: unknown[]): Idempotency | undefined {
  const rawKey = request.headers['idempotency-key'];
  if (rawKey === undefined) return undefined;
  const key = idempotencyKeyHeader.safeParse(rawKey);
  if (!key.success)
    throw new HttpProblem(
      400,
      'invalid-header',
      'Invalid header',
      `Idempotency-Key: ${key.error.issues[0]?.message ?? ''}`,
      'Idempotency-Key',
    );
  return {
    key: sha256(`${request.caller}\n${key.data}`),
    requestHash: sha256(JSON.stringify(what)),
    ttlSeconds: IDEMPOTENCY_TTL_SECONDS,
  };
}

/**
 * Starts something under an Idempotency-Key: a repeat gets the first answer (also when both
 * arrive at once), a different request under the same key a 422.
 */
async function once(
  bakery: Bakery,
  idempotency: Idempotency | undefined,
  start: () => Promise<ApiResponse>,
): Promise<ApiResponse> {
  const replay = idempotency && (await replayOf(bakery, idempotency));
  if (replay) return replay;
  try {
    return await start();
  } catch (error) {
    if (error instanceof IdempotencyKeyReusedError && idempotency) {
      const raced = await replayOf(bakery, idempotency);
      if (raced) return raced;
    }
    throw error;
  }
}

async function postBakes(bakery: Bakery, request: ApiRequest): Promise<ApiResponse> {
  const body = parse(startBakeBody, request.body ?? {}, 'body');
  const idempotency = idempotencyOf(request, ['POST /bakes', body.pipeline, body.reason ?? null, body.force]);
  return once(bakery, idempotency, async () => {
    const plan = await planBake(bakery, body.pipeline, { withMaxAge: false });
    if (!body.force && !plan.decision.bake) {
      return {
        status: 200,
        body: { skipped: true, reason: plan.decision.reason, lastBakeId: plan.decision.lastBakeId },
      };
    }
    const bake = await startBake(bakery, body.pipeline, {
      ...(body.reason ? { reason: body.reason } : {}),
      base: plan.base,
      ...(idempotency ? { idempotency } : {}),
    });
    return accepted(bake);
  });
}

async function postRollouts(bakery: Bakery, request: ApiRequest): Promise<ApiResponse> {
  const body = parse(startRolloutBody, request.body ?? {}, 'body');
  const idempotency = idempotencyOf(request, [
    'POST /rollouts',
    body.pipeline,
    body.amiId,
    body.reason ?? null,
  ]);
  return once(bakery, idempotency, async () => {
    const bake = await startRollout(bakery, body.pipeline, body.amiId, {
      ...(body.reason ? { reason: body.reason } : {}),
      ...(idempotency ? { idempotency } : {}),
    });
    return accepted(bake);
  });
}

async function replayOf(
  bakery: Bakery,
  idempotency: { key: string; requestHash: string },
): Promise<ApiResponse | undefined> {
  const known = await bakery.store.idempotency(idempotency.key, bakery.clock());
  if (!known) return undefined;
  if (known.requestHash !== idempotency.requestHash) {
    throw new HttpProblem(
      422,
      'idempotency-key-reused',
      'Idempotency-Key reused',
      'This Idempotency-Key was used for a different request',
      'Idempotency-Key',
    );
  }
  const { bake } = await bakery.store.get(known.bakeId);
  return accepted(bake, { 'Idempotent-Replayed': 'true' });
}

function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The start key a cursor carries, if it is one this list could have returned (else a 400, never a retry). */
function decodeCursor(cursor: string, query: { pipeline?: string }): Record<string, unknown> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
  } catch {
    key = undefined;
  }
  const valid =
    typeof key === 'object' &&
    key !== null &&
    !Array.isArray(key) &&
    BakeStore.isStartKeyOf(query, key as Record<string, unknown>);
  if (valid) return key as Record<string, unknown>;
  throw new HttpProblem(
    400,
    'invalid-query',
    'Invalid query',
    'cursor: not a cursor of this list (use the `next` of the same query, with the same pipeline)',
    'cursor',
  );
}

/** Query numbers are plain decimals: `0x10` or `1e1` are not a limit. */
function decimalsOnly(query: ApiRequest['query'], names: readonly string[]): void {
  for (const name of names) {
    const value = query[name];
    if (value !== undefined && !/^\d{1,9}$/.test(value)) {
      throw new HttpProblem(400, 'invalid-query', 'Invalid query', `${name}: a decimal integer`, name);
    }
  }
}

async function getBakes(bakery: Bakery, request: ApiRequest): Promise<ApiResponse> {
  decimalsOnly(request.query, ['limit']);
  const query = parse(listQuery, request.query, 'query');
  if (query.pipeline !== undefined) bakery.catalog.get(query.pipeline); // 404 for an unknown one
  const page = await bakery.store.list({
    ...(query.pipeline ? { pipeline: query.pipeline } : {}),
    ...(query.status ? { status: query.status } : {}),
    limit: query.limit,
    ...(query.cursor ? { after: decodeCursor(query.cursor, query) } : {}),
  });
  return {
    status: 200,
    body: { bakes: page.bakes.map(view), ...(page.next ? { next: encodeCursor(page.next) } : {}) },
  };
}

/** The image a pipeline's parameter names in a region, null before its first publish there. */
async function publishedIn(bakery: Bakery, parameter: string, region: string): Promise<string | null> {
  try {
    const answer = await bakery.ssmIn(region).send(new GetParameterCommand({ Name: parameter }));
    return answer.Parameter?.Value ?? null;
  } catch (error) {
    if (isAwsError(error, 'ParameterNotFound')) return null;
    throw error;
  }
}

/**
 * What the next nightly run would do for a pipeline, asked now: when it runs and whether it would
 * bake, with the reason (a base image that cannot be resolved is a reason too, not a failure of
 * the whole list).
 */
async function nextNightly(bakery: Bakery, pipeline: Pipeline) {
  if (!pipeline.schedule.nightly) return null;
  const at = bakery.nightlySchedule ? nextRun(bakery.nightlySchedule, bakery.clock()) : undefined;
  const when = { at: at?.toISOString() ?? null, schedule: bakery.nightlySchedule ?? null };
  try {
    const { decision } = await planBake(bakery, pipeline.name, { withMaxAge: true });
    return { ...when, wouldBake: decision.bake, reason: decision.reason };
  } catch (error) {
    if (error instanceof NotFoundError) return { ...when, wouldBake: false, reason: error.message };
    throw error;
  }
}

async function getPipelines(bakery: Bakery): Promise<ApiResponse> {
  const pipelines = await Promise.all(
    bakery.catalog.all.map(async (pipeline) => {
      const regions = [bakery.region, ...pipeline.distribute.regions];
      const [latest, succeeded, images, nightly] = await Promise.all([
        bakery.store.list({ pipeline: pipeline.name, limit: 1 }),
        bakery.store.lastSucceeded(pipeline.name),
        Promise.all(
          regions.map(async (region) => ({
            region,
            imageId: await publishedIn(bakery, pipeline.publish.parameter, region),
          })),
        ),
        nextNightly(bakery, pipeline),
      ]);
      const last = latest.bakes[0];
      return {
        name: pipeline.name,
        ...(pipeline.description ? { description: pipeline.description } : {}),
        parameter: pipeline.publish.parameter,
        currentImageId: images[0]?.imageId ?? null,
        currentImages: images,
        nightly: pipeline.schedule.nightly,
        nextNightly: nightly,
        requireApproval: pipeline.rollout?.requireApproval ?? false,
        targets: pipeline.rollout ? targetsOf(pipeline.rollout).map((t) => t.autoScalingGroup) : [],
        waves: pipeline.rollout
          ? wavesOf(pipeline.rollout).map((wave) => ({
              name: wave.name,
              targets: wave.targets.map((t) => t.autoScalingGroup),
              bakeMinutes: wave.bakeMinutes,
              requireApproval: wave.requireApproval,
            }))
          : [],
        lastBake: last ? view(last) : null,
        lastSucceeded: succeeded ? view(succeeded) : null,
      };
    }),
  );
  return { status: 200, body: { pipelines } };
}

type Handler = (bakery: Bakery, request: ApiRequest, params: Record<string, string>) => Promise<ApiResponse>;

async function current(bakery: Bakery, id: string): Promise<ApiResponse> {
  return { status: 200, body: { bake: view((await bakery.store.get(id)).bake) } };
}

async function answer(
  bakery: Bakery,
  request: ApiRequest,
  id: string,
  decide: typeof approveBake,
): Promise<ApiResponse> {
  const bakeId = bakeIdOf(id);
  const body = parse(approvalBody, request.body ?? {}, 'body');
  await decide(bakery, bakeId, { by: request.caller, ...(body.comment ? { comment: body.comment } : {}) });
  return { ...(await current(bakery, bakeId)), status: 202 };
}

/**
 * Every route, by OpenAPI path template: docs/openapi.json documents exactly these (a test
 * checks). Each GET route answers HEAD too.
 */
export const ROUTES: readonly { method: string; path: string; handler: Handler }[] = [
  { method: 'POST', path: '/bakes', handler: postBakes },
  { method: 'GET', path: '/bakes', handler: getBakes },
  {
    method: 'GET',
    path: '/bakes/{id}',
    handler: async (bakery, _, { id = '' }) => current(bakery, bakeIdOf(id)),
  },
  {
    method: 'POST',
    path: '/bakes/{id}/cancel',
    handler: async (bakery, request, { id = '' }) => {
      const bakeId = bakeIdOf(id);
      parse(cancelBody, request.body ?? {}, 'body'); // no options: a body with any is a mistake
      await cancelBake(bakery, bakeId);
      return { ...(await current(bakery, bakeId)), status: 202 };
    },
  },
  {
    method: 'POST',
    path: '/bakes/{id}/approve',
    handler: (bakery, request, { id = '' }) => answer(bakery, request, id, approveBake),
  },
  {
    method: 'POST',
    path: '/bakes/{id}/reject',
    handler: (bakery, request, { id = '' }) => answer(bakery, request, id, rejectBake),
  },
  { method: 'GET', path: '/pipelines', handler: (bakery) => getPipelines(bakery) },
  {
    method: 'GET',
    path: '/retention/{pipeline}',
    handler: async (bakery, _, { pipeline = '' }) => {
      const plan = await retentionPlan(bakery, bakery.catalog.get(decoded(pipeline)));
      return { status: 200, body: { plan } };
    },
  },
  { method: 'POST', path: '/rollouts', handler: postRollouts },
  {
    method: 'GET',
    path: '/openapi.json',
    handler: () => Promise.resolve({ status: 200, body: openApiDocument() }),
  },
];

/** `/bakes/{id}/cancel` → /^\/bakes\/(?<id>[^/]+)\/cancel$/ */
const COMPILED = ROUTES.map((r) => ({
  ...r,
  pattern: new RegExp(`^${r.path.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`),
}));

/** Finds the route of a request and runs it; unknown paths are 404, known paths with another method 405. */
export async function route(bakery: Bakery, request: ApiRequest): Promise<ApiResponse> {
  const matching = COMPILED.map((r) => ({ ...r, match: r.pattern.exec(request.path) })).filter(
    (r) => r.match,
  );
  if (matching.length === 0)
    throw new HttpProblem(404, 'not-found', 'Not found', `No route for ${request.path.slice(0, 200)}`);
  // HEAD is GET without the body (RFC 9110, 9.3.2): the handler drops the body.
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const chosen = matching.find((r) => r.method === method);
  if (!chosen) {
    const methods = matching.map((r) => r.method);
    const allow = (methods.includes('GET') ? [...methods, 'HEAD'] : methods).join(', ');
    throw new HttpProblem(
      405,
      'method-not-allowed',
      'Method not allowed',
      `${request.method} is not allowed here; use ${allow}`,
      undefined,
      allow,
    );
  }
  // Only GET /bakes takes a query (its schema refuses what it does not know); elsewhere a query
  // parameter is a mistake too, said the same way.
  const unknown = Object.keys(request.query);
  if (chosen.path !== '/bakes' && unknown.length > 0) {
    const names = unknown.map((name) => name.slice(0, 40)).join(', ');
    throw new HttpProblem(
      400,
      'invalid-query',
      'Invalid query',
      `Unknown query parameter(s): ${names}`,
      names,
    );
  }
  return chosen.handler(bakery, request, { ...chosen.match?.groups });
}
