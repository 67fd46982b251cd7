import { beforeAll, describe, expect, it } from 'vitest';
import type * as z from '../../lib/zod';
import { pipelines } from '../../config/pipelines';
import { createSandbox } from '../../emulator/sandbox';
import {
  bakeListResponse,
  bakeResponse,
  pipelinesResponse,
  problem,
  retentionResponse,
  skippedResponse,
} from '../../lib/api/schemas';
import { openApiDocument } from '../../lib/api/openapi';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { apiFor, SAMPLE_CALLER, type CallResult } from '../support/api';
import { awsForTest, controlFor } from '../support/aws';
import { bakeryForTest, runToEnd, type TestBakery } from '../support/bakery';

// Every route of the HTTP API through the api function's whole middy stack, against the emulator.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];
const aws = awsForTest(import.meta.url);
let bakery: TestBakery;
let call: ReturnType<typeof apiFor>;

beforeAll(async () => {
  const sandbox = await createSandbox(aws, { name: 'api', desiredCapacity: 1 });
  bakery = await bakeryForTest(aws, sandbox, [
    { ...minimal, name: 'plain', publish: { parameter: '/ami-bakery/plain/latest' } },
    { ...minimal, name: 'keyed', publish: { parameter: '/ami-bakery/keyed/latest' } },
    {
      ...minimal,
      name: 'gated',
      publish: { parameter: '/ami-bakery/gated/latest' },
      rollout: {
        targets: [{ autoScalingGroup: sandbox.autoScalingGroupName }],
        refresh: { minHealthyPercentage: 0 },
        requireApproval: true,
      },
    },
  ]);
  await controlFor(aws).configure({ timeScale: 0.002 });
  call = apiFor(bakery.as('api'));
});

/** The body, checked against the operation's response schema. */
function as<T extends z.ZodMiniType>(schema: T, result: CallResult): z.output<T> {
  return schema.parse(result.body);
}

function expectProblem(
  result: CallResult,
  status: number,
  slug: string,
  extra: Record<string, unknown> = {},
) {
  expect(result.status).toBe(status);
  expect(result.headers['content-type']).toBe('application/problem+json');
  expect(as(problem, result)).toMatchObject({ type: `urn:ami-bakery:problem:${slug}`, status, ...extra });
}

async function finish(id: string) {
  return runToEnd(bakery, id, { timeoutMs: 30_000 });
}

describe('POST /bakes', () => {
  it('starts a bake (202, Location), replays a repeated key, and refuses a reused one', async () => {
    const key = { 'Idempotency-Key': 'first-bake-of-plain' };
    const first = await call('POST', '/bakes', { body: { pipeline: 'plain', reason: 'test' }, headers: key });
    const again = await call('POST', '/bakes', { body: { pipeline: 'plain', reason: 'test' }, headers: key });
    const reused = await call('POST', '/bakes', {
      body: { pipeline: 'plain', reason: 'other' },
      headers: key,
    });
    const busy = await call('POST', '/bakes', { body: { pipeline: 'plain', force: true } });

    expect(first.status).toBe(202);
    const { bake } = as(bakeResponse, first);
    expect(bake).toMatchObject({ pipeline: 'plain', phase: 'requested', kind: 'bake', reason: 'test' });
    expect(first.headers.location).toBe(`/bakes/${bake.id}`);
    expect(again.status).toBe(202);
    expect(as(bakeResponse, again).bake.id).toBe(bake.id);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expectProblem(reused, 422, 'idempotency-key-reused', { field: 'Idempotency-Key' });
    expectProblem(busy, 409, 'pipeline-busy', { activeBakeId: bake.id });

    await finish(bake.id);
    const unchanged = await call('POST', '/bakes', { body: { pipeline: 'plain' } });
    const forced = await call('POST', '/bakes', { body: { pipeline: 'plain', force: true } });

    expect(unchanged.status).toBe(200);
    expect(as(skippedResponse, unchanged)).toMatchObject({ skipped: true, lastBakeId: bake.id });
    expect(forced.status).toBe(202);
    await finish(as(bakeResponse, forced).bake.id);
  });

  it("never replays one caller's bake for another caller with the same Idempotency-Key", async () => {
    const request = { body: { pipeline: 'keyed' }, headers: { 'Idempotency-Key': 'nightly-by-hand' } };
    const other = 'arn:aws:sts::123456789012:assumed-role/other-team/someone';

    const first = await call('POST', '/bakes', request);
    const theirs = await call('POST', '/bakes', { ...request, caller: other });
    const mine = await call('POST', '/bakes', request);

    expect(first.status).toBe(202);
    const { bake } = as(bakeResponse, first);
    // The other caller's request is a request of its own: the pipeline is busy with the first bake.
    expectProblem(theirs, 409, 'pipeline-busy', { activeBakeId: bake.id });
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(mine.headers['idempotent-replayed']).toBe('true');
    await call('POST', `/bakes/${bake.id}/cancel`);
    await finish(bake.id);
  });

  it.each<[string, Parameters<typeof call>[2], number, string, Record<string, unknown>]>([
    ['malformed JSON', { rawBody: '{"pipeline":' }, 400, 'malformed-json', {}],
    [
      'a body that is not JSON',
      { rawBody: 'pipeline=plain', headers: { 'Content-Type': 'text/plain' } },
      415,
      'unsupported-media-type',
      {},
    ],
    ['an oversized body', { body: { pipeline: 'plain', reason: 'x'.repeat(20_000) } }, 413, 'too-large', {}],
    ['no body', {}, 422, 'invalid-body', { field: 'pipeline' }],
    [
      'an unknown field',
      { body: { pipeline: 'plain', colour: 'red' } },
      422,
      'invalid-body',
      { field: 'colour' },
    ],
    ['a wrong type', { body: { pipeline: 'plain', force: 'yes' } }, 422, 'invalid-body', { field: 'force' }],
    ['a JSON array', { body: ['plain'] }, 422, 'invalid-body', {}],
    ['an unknown pipeline', { body: { pipeline: 'nope' } }, 404, 'not-found', {}],
    ['an empty pipeline name', { body: { pipeline: '' } }, 422, 'invalid-body', { field: 'pipeline' }],
    [
      'a pipeline name with a space',
      { body: { pipeline: 'my pipeline' } },
      422,
      'invalid-body',
      { field: 'pipeline' },
    ],
    [
      'a pipeline name with a path',
      { body: { pipeline: '../plain' } },
      422,
      'invalid-body',
      { field: 'pipeline' },
    ],
    [
      'an upper-case pipeline name',
      { body: { pipeline: 'Plain' } },
      422,
      'invalid-body',
      { field: 'pipeline' },
    ],
    [
      'a pipeline name too long',
      { body: { pipeline: 'p'.repeat(40) } },
      422,
      'invalid-body',
      { field: 'pipeline' },
    ],
    [
      'a pipeline name that is not a string',
      { body: { pipeline: 7 } },
      422,
      'invalid-body',
      { field: 'pipeline' },
    ],
    [
      'a bad Idempotency-Key',
      { body: { pipeline: 'plain' }, headers: { 'Idempotency-Key': 'has spaces' } },
      400,
      'invalid-header',
      { field: 'Idempotency-Key' },
    ],
  ])('answers %s with its problem', async (_, options, status, slug, extra) => {
    const before = (await bakery.as('api').store.list({ limit: 100 })).bakes.length;

    expectProblem(await call('POST', '/bakes', options), status, slug, extra);
    expect((await bakery.as('api').store.list({ limit: 100 })).bakes.length).toBe(before);
  });

  it('answers 503 with Retry-After while AWS throttles, and starts nothing', async () => {
    const control = controlFor(aws);
    await control.setFaults([{ kind: 'throttle', service: 'ec2', probability: 1 }]);
    try {
      const result = await call('POST', '/bakes', { body: { pipeline: 'plain', force: true } });

      expectProblem(result, 503, 'unavailable');
      expect(result.headers['retry-after']).toBe('5');
    } finally {
      await control.clearFaults();
    }
  });
});

describe('requests a client shapes badly, and forged cursors', () => {
  const cursorOf = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

  it('refuses a forged cursor, and a real one from a list of another pipeline, with 400 (never 503)', async () => {
    const page = as(
      bakeListResponse,
      await call('GET', '/bakes', { query: { pipeline: 'plain', limit: '1' } }),
    );
    const next = page.next ?? '';
    expect(next).not.toBe('');

    const again = await call('GET', '/bakes', { query: { pipeline: 'plain', limit: '1', cursor: next } });
    expect(again.status).toBe(200);
    for (const cursor of [
      next, // the same cursor without the pipeline it came from
      cursorOf({ pk: 'x' }),
      cursorOf({ pk: 'BAKE#b20260101000000-abcdef', sk: 'BAKE', listShard: 'BAKE', createdAt: 'yesterday' }),
      cursorOf({
        pk: 'BAKE#b20260101000000-abcdef',
        sk: 'BAKE',
        listShard: 'OTHER',
        createdAt: '2026-01-01T00:00:00.000Z',
      }),
      cursorOf({
        pk: 'BAKE#b20260101000000-abcdef',
        sk: 'BAKE',
        listShard: 'BAKE',
        createdAt: '2026-01-01T00:00:00.000Z',
        x: '1',
      }),
      cursorOf(['BAKE']),
      'not base64 at all!',
    ]) {
      expectProblem(await call('GET', '/bakes', { query: { cursor } }), 400, 'invalid-query', {
        field: 'cursor',
      });
    }
    const forged = cursorOf({
      pk: 'BAKE#b20260101000000-abcdef',
      sk: 'BAKE',
      listShard: 'BAKE',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    expect((await call('GET', '/bakes', { query: { cursor: forged } })).status).toBe(200); // well-formed: a place in the list
  });

  it.each(['0x10', '1e1', '10.0', ' 10', '-1'])('refuses limit=%s with 400', async (limit) => {
    expectProblem(await call('GET', '/bakes', { query: { limit } }), 400, 'invalid-query', {
      field: 'limit',
    });
  });

  it.each(['%ff', '%', '%zz', 'plain%'])('answers GET /retention/%s with 404, not 500', async (name) => {
    expectProblem(await call('GET', `/retention/${name}`), 404, 'not-found');
  });

  it('echoes an unknown pipeline only as far as a name can go', async () => {
    const result = await call('GET', `/retention/${'x'.repeat(5000)}`);

    expectProblem(result, 404, 'not-found');
    expect(JSON.stringify(result.body).length).toBeLessThan(500);
  });

  it('takes a media type in any case', async () => {
    const result = await call('POST', '/bakes', {
      rawBody: JSON.stringify({ pipeline: 'nope' }),
      headers: { 'Content-Type': 'Application/JSON; Charset=UTF-8' },
    });

    expectProblem(result, 404, 'not-found'); // parsed, and so it reached the pipeline lookup
  });

  it('ignores the body of a GET', async () => {
    const result = await call('GET', '/pipelines', {
      rawBody: '{"not":',
      headers: { 'Content-Type': 'application/json' },
    });

    expect(result.status).toBe(200);
  });
});

describe('request ids and the API description', () => {
  it('sends X-Request-Id on every answer, and in problem bodies', async () => {
    const ok = await call('GET', '/pipelines');
    const problem = await call('GET', '/bakes/nope');

    expect(ok.headers['x-request-id']).toBe('c6af9ac6-7b61-11e6-9a41-93e8deadbeef');
    expect(problem.headers['x-request-id']).toBe('c6af9ac6-7b61-11e6-9a41-93e8deadbeef');
    expect(problem.body).toMatchObject({ requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef' });
  });

  it('answers HEAD like GET, without the body', async () => {
    const head = await call('HEAD', '/pipelines');
    const missing = await call('HEAD', '/bakes/b20260101000000-abcdef');
    const wrong = await call('PUT', '/pipelines');

    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
    expect(head.headers['content-type']).toBe('application/json');
    expect(missing.status).toBe(404);
    expect(missing.body).toBeNull();
    expect(wrong.headers.allow).toBe('GET, HEAD');
  });

  it('serves its OpenAPI document at GET /openapi.json', async () => {
    const result = await call('GET', '/openapi.json');

    expect(result.status).toBe(200);
    expect(result.body).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });
});

describe('POST /rollouts with a malformed request', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['an empty pipeline name', { pipeline: '', amiId: 'ami-0123456789abcdef0' }, 'pipeline'],
    [
      'a pipeline name with a path',
      { pipeline: 'gated/../plain', amiId: 'ami-0123456789abcdef0' },
      'pipeline',
    ],
    ['an upper-case pipeline name', { pipeline: 'GATED', amiId: 'ami-0123456789abcdef0' }, 'pipeline'],
    ['no pipeline', { amiId: 'ami-0123456789abcdef0' }, 'pipeline'],
    ['an empty image id', { pipeline: 'gated', amiId: '' }, 'amiId'],
    ['an image id that is not one', { pipeline: 'gated', amiId: 'ubuntu-latest' }, 'amiId'],
    ['an image id of the wrong length', { pipeline: 'gated', amiId: 'ami-0123456789' }, 'amiId'],
  ])('answers %s with 422 naming the field, and starts nothing', async (_, body, field) => {
    const before = (await bakery.as('api').store.list({ limit: 100 })).bakes.length;

    expectProblem(await call('POST', '/rollouts', { body }), 422, 'invalid-body', { field });
    expect((await bakery.as('api').store.list({ limit: 100 })).bakes.length).toBe(before);
  });
});

describe('reading bakes', () => {
  it('GET /bakes lists newest first, filters, and pages with a cursor', async () => {
    const all = as(bakeListResponse, await call('GET', '/bakes', { query: { pipeline: 'plain' } }));
    const page1 = await call('GET', '/bakes', { query: { pipeline: 'plain', limit: '1' } });
    const { next } = as(bakeListResponse, page1);
    const page2 = as(
      bakeListResponse,
      await call('GET', '/bakes', { query: { limit: '1', pipeline: 'plain', cursor: next ?? '' } }),
    );
    const failed = as(bakeListResponse, await call('GET', '/bakes', { query: { status: 'failed' } }));

    expect(all.bakes.length).toBeGreaterThanOrEqual(2);
    expect(all.bakes.map((b) => b.createdAt)).toEqual(
      [...all.bakes.map((b) => b.createdAt)].sort().reverse(),
    );
    expect(as(bakeListResponse, page1).bakes.map((b) => b.id)).toEqual([all.bakes[0]?.id]);
    expect(page2.bakes.map((b) => b.id)).toEqual([all.bakes[1]?.id]);
    expect(failed.bakes).toEqual([]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['a limit of 0', { limit: '0' }, 'limit'],
    ['an unknown status', { status: 'baking' }, 'status'],
    ['a forged cursor', { cursor: 'bm90IGEgY3Vyc29y' }, 'cursor'],
    ['an unknown parameter', { colour: 'red' }, 'colour'],
  ])('GET /bakes answers 400 for %s', async (_, query, field) => {
    expectProblem(await call('GET', '/bakes', { query }), 400, 'invalid-query', { field });
  });

  it('GET /bakes/{id} shows a bake; unknown or malformed ids are 404', async () => {
    const [latest] = as(
      bakeListResponse,
      await call('GET', '/bakes', { query: { pipeline: 'plain' } }),
    ).bakes;
    const shown = await call('GET', `/bakes/${latest?.id ?? ''}`);

    expect(shown.status).toBe(200);
    expect(as(bakeResponse, shown).bake).toMatchObject({ id: latest?.id, phase: 'succeeded' });
    const { bake } = as(bakeResponse, shown);
    expect(bake.timeline.map((t) => t.phase)).toContain('imaging');
    // When it finished, and how long each phase took: every phase but the final one, adding up.
    expect(bake.finishedAt).toBe(bake.timeline.at(-1)?.at);
    expect(bake.durations.map((d) => d.phase)).toEqual(bake.timeline.slice(0, -1).map((t) => t.phase));
    const total = bake.durations.reduce((sum, d) => sum + d.seconds, 0);
    expect(total).toBeCloseTo(
      (Date.parse(bake.finishedAt ?? '') - Date.parse(bake.timeline[0]?.at ?? '')) / 1000,
      3,
    );
    expectProblem(
      await call('GET', `/bakes/${latest?.id ?? ''}`, { query: { verbose: '1' } }),
      400,
      'invalid-query',
      {
        field: 'verbose',
      },
    );
    expectProblem(await call('GET', '/bakes/b20260101000000-abcdef'), 404, 'not-found');
    expectProblem(await call('GET', `/bakes/${'x'.repeat(3000)}`), 404, 'not-found');
    expectProblem(await call('GET', '/bakes', { query: { pipeline: 'nope' } }), 404, 'not-found');
  });

  it('GET /pipelines shows each pipeline with its last bake and current image', async () => {
    const result = as(pipelinesResponse, await call('GET', '/pipelines'));
    const plain = result.pipelines.find((p) => p.name === 'plain');

    expect(result.pipelines.map((p) => p.name)).toEqual(['plain', 'keyed', 'gated']);
    expect(plain?.currentImageId).toBe(plain?.lastSucceeded?.image?.imageId);
    expect(plain?.currentImageId).toMatch(/^ami-/);
    expect(result.pipelines.find((p) => p.name === 'gated')).toMatchObject({
      currentImageId: null,
      requireApproval: true,
      lastBake: null,
      // Its targets are one wave, gated by the rollout's approval.
      waves: [{ name: 'wave-1', targets: [expect.any(String)], bakeMinutes: 0, requireApproval: true }],
    });
    expect(plain?.waves).toEqual([]);
    // The parameter in every region it publishes to (here the stack's only).
    expect(plain?.currentImages).toEqual([{ region: bakery.region, imageId: plain?.currentImageId }]);
    // What the next nightly check would do, asked now: plain is fresh, gated never baked.
    expect(plain?.nextNightly).toMatchObject({ schedule: 'cron(0 3 * * ? *)', wouldBake: false });
    expect(plain?.nextNightly?.at).toMatch(/T03:00:00\.000Z$/);
    expect(plain?.nextNightly?.reason).toMatch(/^base image and recipe unchanged since bake /);
    expect(Date.parse(plain?.nextNightly?.at ?? '') - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect(result.pipelines.find((p) => p.name === 'gated')?.nextNightly).toMatchObject({
      wouldBake: true,
      reason: 'no successful bake yet',
    });
  });

  it('GET /retention/{pipeline} plans without changing anything', async () => {
    const result = await call('GET', '/retention/plain');
    const { plan } = as(retentionResponse, result);

    expect(result.status).toBe(200);
    expect(plan.pipeline).toBe('plain');
    expect(plan.keep.length + plan.delete.length).toBeGreaterThanOrEqual(2);
    expect(plan.keep.every((image) => image.reasons.length > 0)).toBe(true);
    expect(as(retentionResponse, await call('GET', '/retention/plain')).plan).toEqual(plan);
    expectProblem(await call('GET', '/retention/nope'), 404, 'not-found');
  });

  it('answers 404 for an unknown route and 405, with Allow, for a wrong method', async () => {
    expectProblem(await call('GET', '/nothing-here'), 404, 'not-found');
    const wrong = await call('DELETE', '/bakes');
    expectProblem(wrong, 405, 'method-not-allowed');
    expect(wrong.headers.allow).toBe('POST, GET, HEAD');
  });
});

describe('cancel, approve, reject, roll out', () => {
  it('cancels a running bake (202), and answers 409 once it is over', async () => {
    const started = as(
      bakeResponse,
      await call('POST', '/bakes', { body: { pipeline: 'plain', force: true } }),
    );

    const withOptions = await call('POST', `/bakes/${started.bake.id}/cancel`, { body: { force: true } });
    const cancelled = await call('POST', `/bakes/${started.bake.id}/cancel`, { bareHeaders: true });
    await finish(started.bake.id);
    const again = await call('POST', `/bakes/${started.bake.id}/cancel`);
    const approveCancelled = await call('POST', `/bakes/${started.bake.id}/approve`);

    expectProblem(withOptions, 422, 'invalid-body', { field: 'force' });
    expect(cancelled.status).toBe(202);
    expect(as(bakeResponse, cancelled).bake.cancelRequested).toBe(true);
    expectProblem(again, 409, 'conflict');
    // Over, not "being cancelled": it says what the bake is.
    expectProblem(approveCancelled, 409, 'conflict', {
      detail: `Bake ${started.bake.id} is not awaiting approval (it is cancelled)`,
    });
    expectProblem(await call('POST', '/bakes/b20260101000000-abcdef/cancel'), 404, 'not-found');
  });

  it('approves a waiting bake with the caller recorded; a second answer is 409', async () => {
    const started = as(bakeResponse, await call('POST', '/bakes', { body: { pipeline: 'gated' } }));
    const early = await call('POST', `/bakes/${started.bake.id}/approve`);
    await runToEnd(bakery, started.bake.id, { until: ({ bake }) => bake.phase === 'awaiting-approval' });

    const approved = await call('POST', `/bakes/${started.bake.id}/approve`, {
      body: { comment: 'ship it' },
    });
    const rejected = await call('POST', `/bakes/${started.bake.id}/reject`);
    const done = await finish(started.bake.id);

    expectProblem(early, 409, 'conflict');
    expect(approved.status).toBe(202);
    expect(as(bakeResponse, approved).bake.approval).toMatchObject({
      decision: 'approved',
      by: SAMPLE_CALLER,
      comment: 'ship it',
    });
    expectProblem(rejected, 409, 'conflict');
    expect(done.phase).toBe('succeeded');
    expectProblem(
      await call('POST', `/bakes/${started.bake.id}/approve`, { body: { comment: 7 } }),
      422,
      'invalid-body',
      { field: 'comment' },
    );
  });

  it('rejects a waiting bake', async () => {
    const started = as(
      bakeResponse,
      await call('POST', '/bakes', { body: { pipeline: 'gated', force: true } }),
    );
    await runToEnd(bakery, started.bake.id, { until: ({ bake }) => bake.phase === 'awaiting-approval' });

    const rejected = await call('POST', `/bakes/${started.bake.id}/reject`, { body: { comment: 'no' } });

    expect(rejected.status).toBe(202);
    expect((await finish(started.bake.id)).phase).toBe('cancelled');
  });

  it('POST /rollouts rolls an earlier image out (202) and refuses what it cannot roll', async () => {
    const [gated] = as(pipelinesResponse, await call('GET', '/pipelines')).pipelines.filter(
      (p) => p.name === 'gated',
    );
    const imageId = gated?.lastSucceeded?.image?.imageId ?? '';

    const key = { 'Idempotency-Key': 'roll-back-gated' };
    const result = await call('POST', '/rollouts', {
      body: { pipeline: 'gated', amiId: imageId, reason: 'back' },
      headers: key,
    });
    // A client that retries (its connection dropped) gets its own rollout back, not a 409 against it.
    const retried = await call('POST', '/rollouts', {
      body: { pipeline: 'gated', amiId: imageId, reason: 'back' },
      headers: key,
    });
    const other = await call('POST', '/rollouts', {
      body: { pipeline: 'gated', amiId: imageId, reason: 'other' },
      headers: key,
    });

    expect(result.status).toBe(202);
    expect(retried.status).toBe(202);
    expect(retried.headers['idempotent-replayed']).toBe('true');
    expect(as(bakeResponse, retried).bake.id).toBe(as(bakeResponse, result).bake.id);
    expectProblem(other, 422, 'idempotency-key-reused', { field: 'Idempotency-Key' });
    expect(as(bakeResponse, result).bake).toMatchObject({ kind: 'rollout', image: { imageId } });
    expect(result.headers.location).toMatch(/^\/bakes\/b\d{14}-[0-9a-f]{6}$/);
    expect((await finish(as(bakeResponse, result).bake.id)).phase).toBe('succeeded');
    expectProblem(
      await call('POST', '/rollouts', { body: { pipeline: 'plain', amiId: imageId } }),
      422,
      'invalid-request',
      {
        field: 'pipeline',
      },
    );
    expectProblem(
      await call('POST', '/rollouts', { body: { pipeline: 'gated', amiId: 'ami-0000000000000000f' } }),
      404,
      'not-found',
    );
    expectProblem(await call('POST', '/rollouts', { body: { pipeline: 'gated' } }), 422, 'invalid-body', {
      field: 'amiId',
    });
  });
});
