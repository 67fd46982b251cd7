import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../lib/api/handler';
import type { Bakery } from '../../lib/bake/service';
import { NotFoundError } from '../../lib/errors';
import { lambdaContext } from '../../scripts/local/environment';

// The API function's middlewares, each on its own: no AWS behind them. A request that gets
// through them reaches the routes, which ask for the bakery: here that answers 404 "reached".

type Event = APIGatewayProxyEventV2WithIAMAuthorizer;
const sample = JSON.parse(
  readFileSync(new URL('../../events/api-post-bakes.json', import.meta.url), 'utf8'),
) as Event;
const REQUEST_ID = sample.requestContext.requestId;

function event(
  method: string,
  path: string,
  patch: Partial<Event> = {},
  headers: Record<string, string> = {},
): Event {
  return {
    ...sample,
    rawPath: path,
    body: undefined,
    headers: { Host: 'api.example', ...headers },
    requestContext: { ...sample.requestContext, http: { ...sample.requestContext.http, method, path } },
    ...patch,
  };
}

const logger = new Logger({ serviceName: 'api-handler-test', logLevel: 'SILENT' });
afterEach(() => vi.restoreAllMocks());

const reaching = () => {
  throw new NotFoundError('reached');
};

async function call(e: Event, bakery: () => Bakery = reaching) {
  const result = await createApiHandler(logger, bakery)(e, lambdaContext('ami-bakery-api'));
  const body = result.body ? (JSON.parse(result.body) as Record<string, unknown>) : undefined;
  return { status: result.statusCode, headers: result.headers ?? {}, body, raw: result.body };
}

const json = { 'Content-Type': 'application/json' };

describe('the body guard', () => {
  it.each(['GET', 'HEAD', 'DELETE', 'OPTIONS'])('ignores the body of a %s (never parsed)', async (method) => {
    const answer = await call(
      event(method, '/bakes', { body: 'not json' }, { 'Content-Type': 'text/plain' }),
    );

    expect(answer.status).toBe(404);
    if (method !== 'HEAD') expect(answer.body).toMatchObject({ detail: 'reached' });
  });

  it('takes an empty POST body as none (not a JSON body of the wrong type)', async () => {
    const answer = await call(event('POST', '/bakes', { body: '' }, { 'Content-Type': 'text/plain' }));

    expect(answer.body).toMatchObject({ status: 404, detail: 'reached' });
  });

  it.each<[string, Partial<Event>, number]>([
    ['16 KiB exactly: accepted', { body: `"${'a'.repeat(16 * 1024 - 2)}"` }, 404],
    ['one byte over: 413', { body: `"${'a'.repeat(16 * 1024 - 1)}"` }, 413],
    ['multi-byte characters count as bytes', { body: `"${'é'.repeat(8 * 1024)}"` }, 413],
    [
      'base64: 12,000 bytes decoded, accepted',
      { body: Buffer.from(`"${'a'.repeat(11_998)}"`).toString('base64'), isBase64Encoded: true },
      404,
    ],
    [
      'base64: 20,000 bytes decoded, 413',
      { body: Buffer.from(`"${'a'.repeat(19_998)}"`).toString('base64'), isBase64Encoded: true },
      413,
    ],
  ])('measures the body: %s', async (_, patch, status) => {
    const answer = await call(event('POST', '/bakes', patch, json));

    expect(answer.status).toBe(status);
    if (status === 413) {
      expect(answer.body).toMatchObject({
        type: 'urn:ami-bakery:problem:too-large',
        title: 'Body too large',
        detail: 'The body may be at most 16384 bytes',
      });
    }
  });
});

describe('the JSON body parser', () => {
  it.each(['application/json', 'Application/JSON', 'APPLICATION/JSON; charset=UTF-8'])(
    'takes %s as JSON',
    async (type) => {
      const answer = await call(event('POST', '/bakes', { body: '{}' }, { 'Content-Type': type }));

      expect(answer.body).toMatchObject({ detail: 'reached' });
    },
  );

  it('refuses a body without a content type: 415', async () => {
    const answer = await call(event('POST', '/bakes', { body: '{}' }));

    expect(answer.status).toBe(415);
  });

  it('refuses a body that is not JSON: 400', async () => {
    const answer = await call(event('POST', '/bakes', { body: '{' }, json));

    expect(answer.body).toMatchObject({ status: 400, type: 'urn:ami-bakery:problem:malformed-json' });
  });
});

describe('request ids and errors', () => {
  it('puts the request id on a success, in the logs keys, and on a problem (header and body)', async () => {
    const appended = vi.spyOn(logger, 'appendKeys');
    const ok = await call(event('GET', '/openapi.json'), () => ({}) as Bakery);
    const failed = await call(event('GET', '/bakes/nope'));

    expect(ok.status).toBe(200);
    expect(ok.headers['x-request-id']).toBe(REQUEST_ID);
    expect(appended).toHaveBeenCalledWith({ requestId: REQUEST_ID });
    expect(failed.headers['x-request-id']).toBe(REQUEST_ID);
    expect(failed.headers['content-type']).toBe('application/problem+json');
    expect(failed.body).toMatchObject({ requestId: REQUEST_ID });
  });

  it('logs a 500 with what failed and where, never a 4xx', async () => {
    const logged = vi.spyOn(logger, 'error');
    const internal = await call(event('GET', '/bakes'), () => {
      throw new TypeError('x is undefined');
    });
    await call(event('GET', '/bakes'));

    expect(internal.body).toMatchObject({
      status: 500,
      detail: 'Something went wrong on our side; it has been logged',
    });
    expect(logged).toHaveBeenCalledTimes(1);
    expect(logged).toHaveBeenCalledWith('request failed', {
      error: { code: 'TypeError', message: 'x is undefined' },
      path: '/bakes',
    });
  });

  it('answers JSON, and HEAD with the headers of GET and no body', async () => {
    const get = await call(event('GET', '/openapi.json'), () => ({}) as Bakery);
    const head = await call(event('HEAD', '/openapi.json'), () => ({}) as Bakery);

    expect(get.headers['content-type']).toBe('application/json');
    expect(get.body).toMatchObject({ openapi: expect.any(String) as string });
    expect(head).toMatchObject({ status: 200, raw: '' });
    expect(head.headers['content-type']).toBe('application/json');
  });

  it('answers whatever was thrown, even null, with a 500', async () => {
    const answer = await call(event('GET', '/bakes'), () => {
      throw null; // eslint-disable-line @typescript-eslint/only-throw-error
    });

    expect(answer.body).toMatchObject({ status: 500, type: 'urn:ami-bakery:problem:internal' });
  });

  it('names the allowed methods on a 405, and answers HEAD with no body', async () => {
    const put = await call(event('PUT', '/bakes'), () => ({}) as Bakery);
    const head = await call(event('HEAD', '/bakes/nope'));

    expect(put.status).toBe(405);
    expect(put.headers.Allow).toBe('POST, GET, HEAD');
    expect(head).toMatchObject({ status: 404, raw: '' });
  });

  // The caller scopes Idempotency-Keys: a bakery that knows one key for one caller replays it.
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const knowing = (caller: string) => () =>
    ({
      clock: () => new Date(),
      store: {
        idempotency: (key: string) =>
          Promise.resolve(
            key === sha256(`${caller}\nk-1`)
              ? { bakeId: 'b1', requestHash: sha256(JSON.stringify(['POST /rollouts', 'web', AMI, null])) }
              : undefined,
          ),
        get: () =>
          Promise.resolve({
            bake: { id: 'b1', timeline: [], updatedAt: '', phase: 'requested' },
            outbox: [],
          }),
      },
    }) as unknown as Bakery;
  const AMI = 'ami-0123456789abcdef0';
  const rollout = (authorizer: unknown) => {
    const e = event(
      'POST',
      '/rollouts',
      { body: JSON.stringify({ pipeline: 'web', amiId: AMI }) },
      { ...json, 'Idempotency-Key': 'k-1' },
    );
    return { ...e, requestContext: { ...e.requestContext, authorizer } as Event['requestContext'] };
  };

  it.each<[string, unknown, string]>([
    ['the IAM principal', sample.requestContext.authorizer, sample.requestContext.authorizer.iam.userArn],
    ['anonymous without an authorizer (the local API)', undefined, 'anonymous'],
    ['anonymous with an authorizer that has no IAM', {}, 'anonymous'],
  ])('the caller is %s', async (_, authorizer, caller) => {
    const replayed = await call(rollout(authorizer), knowing(caller));
    const other = await call(rollout(authorizer), knowing('someone-else'));

    expect(replayed.status).toBe(202);
    expect(replayed.headers['Idempotent-Replayed']).toBe('true');
    expect(other.status).not.toBe(202);
  });

  it.each<[string, Event['requestContext']['authorizer'] | undefined]>([
    ['an IAM caller', sample.requestContext.authorizer],
    ['an authorizer without IAM', {} as Event['requestContext']['authorizer']],
    ['no authorizer (the local API)', undefined],
  ])('serves a request from %s', async (_, authorizer) => {
    const e = event('GET', '/openapi.json');
    const answer = await call(
      { ...e, requestContext: { ...e.requestContext, authorizer } as Event['requestContext'] },
      () => ({}) as Bakery,
    );

    expect(answer.status).toBe(200);
  });
});
