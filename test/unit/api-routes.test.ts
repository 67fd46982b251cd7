import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HttpProblem } from '../../lib/api/problem';
import { route, view, type ApiRequest } from '../../lib/api/routes';
import type { BakeRecord } from '../../lib/bake/model';
import type { Bakery } from '../../lib/bake/service';
import { NotFoundError } from '../../lib/errors';
import { bakeRecord } from '../support/records';

// What the routes answer before any AWS call: validation, routing and the record's view. The
// bakery here has nothing behind it, so a request that got past validation would fail otherwise.

const nothing = {} as Bakery;
const CALLER = 'arn:aws:sts::123456789012:assumed-role/platform/alice';

function request(method: string, path: string, patch: Partial<ApiRequest> = {}): ApiRequest {
  return { method, path, query: {}, headers: {}, body: undefined, caller: CALLER, ...patch };
}

async function problemOf(answer: Promise<unknown>) {
  const error = await answer.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof HttpProblem)) throw new Error(`expected an HttpProblem, got ${String(error)}`);
  const { status, slug, title, detail, field } = error;
  return { status, slug, title, detail, field };
}

describe('route: validation says what is wrong, and where', () => {
  it.each<[string, ApiRequest, Awaited<ReturnType<typeof problemOf>>]>([
    [
      'a missing field',
      request('POST', '/rollouts', { body: { amiId: 'ami-0123456789abcdef0' } }),
      {
        status: 422,
        slug: 'invalid-body',
        title: 'Invalid body',
        detail: expect.stringMatching(/^pipeline: \S/) as never,
        field: 'pipeline',
      },
    ],
    [
      'unknown fields, named',
      request('POST', '/rollouts', { body: { pipeline: 'web', amiId: 'ami-0123456789abcdef0', a: 1, b: 2 } }),
      {
        status: 422,
        slug: 'invalid-body',
        title: 'Invalid body',
        detail: 'Unknown field(s): a, b',
        field: 'a, b',
      },
    ],
    [
      'a body that is not an object: the body itself',
      request('POST', '/rollouts', { body: 'web' }),
      {
        status: 422,
        slug: 'invalid-body',
        title: 'Invalid body',
        detail: expect.stringMatching(/^body: \S/) as never,
        field: undefined,
      },
    ],
    [
      'a bad query value',
      request('GET', '/bakes', { query: { status: 'nope' } }),
      {
        status: 400,
        slug: 'invalid-query',
        title: 'Invalid query',
        detail: expect.stringMatching(/^status: \S/) as never,
        field: 'status',
      },
    ],
    [
      'an unknown query parameter of the list',
      request('GET', '/bakes', { query: { colour: 'red' } }),
      {
        status: 400,
        slug: 'invalid-query',
        title: 'Invalid query',
        detail: 'Unknown field(s): colour',
        field: 'colour',
      },
    ],
    [
      'a limit that is not a plain decimal',
      request('GET', '/bakes', { query: { limit: '0x10' } }),
      {
        status: 400,
        slug: 'invalid-query',
        title: 'Invalid query',
        detail: 'limit: a decimal integer',
        field: 'limit',
      },
    ],
    [
      'an Idempotency-Key with a space',
      request('POST', '/rollouts', {
        body: { pipeline: 'web', amiId: 'ami-0123456789abcdef0' },
        headers: { 'idempotency-key': 'a b' },
      }),
      {
        status: 400,
        slug: 'invalid-header',
        title: 'Invalid header',
        detail: 'Idempotency-Key: 1 to 128 printable ASCII characters, no spaces',
        field: 'Idempotency-Key',
      },
    ],
    [
      'a path nobody serves (echoed, at most 200 characters)',
      request('GET', `/x${'y'.repeat(300)}`),
      {
        status: 404,
        slug: 'not-found',
        title: 'Not found',
        detail: `No route for /x${'y'.repeat(198)}`,
        field: undefined,
      },
    ],
    [
      'a method the path does not take',
      request('DELETE', '/rollouts'),
      {
        status: 405,
        slug: 'method-not-allowed',
        title: 'Method not allowed',
        detail: 'DELETE is not allowed here; use POST',
        field: undefined,
      },
    ],
  ])('%s', async (_, req, expected) => {
    expect(await problemOf(route(nothing, req))).toEqual(expected);
  });

  it.each(['xb20261130000000-aaaaaa', 'b20261130000000-aaaaaax', 'b2026-aaaaaa'])(
    'a bake id of the wrong shape (%s) is unknown before anything is read',
    async (id) => {
      await expect(route(nothing, request('GET', `/bakes/${id}`))).rejects.toBeInstanceOf(NotFoundError);
    },
  );

  it('a well-shaped bake id is looked up', async () => {
    const lookedUp: string[] = [];
    const bakery = {
      store: {
        get: (id: string) => {
          lookedUp.push(id);
          return Promise.reject(new NotFoundError(`No bake ${id}`));
        },
      },
    } as unknown as Bakery;

    await expect(route(bakery, request('GET', '/bakes/b20261130000000-aaaaaa'))).rejects.toThrow('No bake');
    expect(lookedUp).toEqual(['b20261130000000-aaaaaa']);
  });
});

const T0 = '2026-11-30T00:00:00.000Z';
const record = (patch: Partial<BakeRecord> = {}): BakeRecord =>
  bakeRecord({
    kind: 'rollout',
    phase: 'rolling',
    updatedAt: '2026-11-30T00:01:40.000Z',
    timeline: [
      { phase: 'requested', at: T0 },
      { phase: 'rolling', at: '2026-11-30T00:00:10.000Z' },
    ],
    ...patch,
  });

describe('view: how long each phase took', () => {
  it('a bake under way: each phase until the next, the current one until the last update', () => {
    expect(view(record()).durations).toEqual([
      { phase: 'requested', seconds: 10 },
      { phase: 'rolling', seconds: 90 },
    ]);
  });

  it('a finished bake: when it finished, and no length for the phase it stays in', () => {
    const finished = view(
      record({
        phase: 'succeeded',
        timeline: [...record().timeline, { phase: 'succeeded', at: '2026-11-30T00:01:00.000Z' }],
      }),
    );

    expect(finished.finishedAt).toBe('2026-11-30T00:01:00.000Z');
    expect(finished.durations).toEqual([
      { phase: 'requested', seconds: 10 },
      { phase: 'rolling', seconds: 50 },
    ]);
  });
});

describe('POST /rollouts under an Idempotency-Key', () => {
  const body = { pipeline: 'web', amiId: 'ami-0123456789abcdef0' };
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const key = sha256(`${CALLER}\nk-1`);
  const bakeryKnowing = (requestHash: string) =>
    ({
      clock: () => new Date(T0),
      store: {
        idempotency: (asked: string) =>
          Promise.resolve(asked === key ? { bakeId: record().id, requestHash } : undefined),
        get: () => Promise.resolve({ bake: record(), outbox: [] }),
      },
    }) as unknown as Bakery;

  it('a repeat gets the first answer, marked replayed, without starting anything', async () => {
    const hash = sha256(JSON.stringify(['POST /rollouts', 'web', 'ami-0123456789abcdef0', null]));
    const answer = await route(
      bakeryKnowing(hash),
      request('POST', '/rollouts', { body, headers: { 'idempotency-key': 'k-1' } }),
    );

    expect(answer).toMatchObject({
      status: 202,
      headers: { Location: `/bakes/${record().id}`, 'Idempotent-Replayed': 'true' },
      body: { bake: { id: record().id } },
    });
  });

  it('the same key with another request: 422', async () => {
    const answer = route(
      bakeryKnowing('another'),
      request('POST', '/rollouts', { body, headers: { 'idempotency-key': 'k-1' } }),
    );

    expect(await problemOf(answer)).toMatchObject({ status: 422, slug: 'idempotency-key-reused' });
  });
});
