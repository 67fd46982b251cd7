import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { createSandbox } from '../../emulator/sandbox';
import { problem } from '../../lib/api/schemas';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { apiFor } from '../support/api';
import { awsForTest } from '../support/aws';
import { bakeryForTest, type TestBakery } from '../support/bakery';

// Property-based: whatever a caller sends, the answer is never a 5xx, a refusal is always a
// problem body, and a refused request never starts a bake.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];
const aws = awsForTest(import.meta.url);
let bakery: TestBakery;
let call: ReturnType<typeof apiFor>;

beforeAll(async () => {
  const sandbox = await createSandbox(aws, { name: 'fuzz', desiredCapacity: 1 });
  bakery = await bakeryForTest(aws, sandbox, [
    { ...minimal, name: 'plain', publish: { parameter: '/ami-bakery/plain/latest' } },
  ]);
  call = apiFor(bakery.as('api'));
});

const bakeCount = async () => (await bakery.as('api').store.list({ limit: 100 })).bakes.length;

const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH');
const segment = fc.oneof(
  fc.constantFrom(
    'b20261122000000-abcdef',
    'cancel',
    'approve',
    'reject',
    '%E0%A4%A',
    '..',
    '',
    '%ff',
    '%',
    '%zz',
  ),
  fc.string({ maxLength: 40 }),
);
const path = fc.oneof(
  fc.constantFrom(
    '/bakes',
    '/pipelines',
    '/rollouts',
    '/bakes/b20261122000000-abcdef/cancel',
    '/openapi.json',
  ),
  fc
    .tuple(fc.constantFrom('/bakes/', '/rollouts/', '/retention/', '/'), segment, fc.option(segment))
    .map(([head, a, b]) => `${head}${a}${b === null ? '' : `/${b}`}`),
  fc.webPath(),
);
const jsonBody = fc.oneof(
  fc.record(
    {
      pipeline: fc.oneof(fc.constantFrom('plain', 'nope', ''), fc.string(), fc.integer()),
      reason: fc.oneof(fc.string({ maxLength: 600 }), fc.constant(null)),
      force: fc.oneof(fc.boolean(), fc.string()),
      amiId: fc.oneof(fc.constantFrom('ami-12345678', 'not-an-ami'), fc.string()),
      comment: fc.string(),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue(),
);
const request = fc.record({
  method,
  path,
  body: fc.oneof(
    jsonBody.map((value) => ({ rawBody: JSON.stringify(value) })),
    fc.string().map((rawBody) => ({ rawBody })),
    fc.constant({}),
  ),
  contentType: fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON',
    'APPLICATION/JSON; CHARSET=UTF-8',
    'application/json; charset=latin1',
    'text/plain',
    'application/vnd.api+json',
    '',
  ),
  idempotencyKey: fc.option(fc.string({ maxLength: 200 })),
  query: fc.dictionary(
    fc.constantFrom('pipeline', 'status', 'limit', 'cursor', 'x'),
    fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.constantFrom('0', '5', '1000', 'active', 'succeeded', '0x10', '1e1'),
      // Cursors: base64 of whatever JSON, shaped like a start key or not.
      fc
        .oneof(
          fc.jsonValue(),
          fc.record({
            pk: fc.oneof(fc.constant('BAKE#b20261122000000-abcdef'), fc.string()),
            sk: fc.constantFrom('BAKE', 'LOCK'),
            listShard: fc.constantFrom('BAKE', 'X'),
            pipeline: fc.constantFrom('plain', 'nope'),
            createdAt: fc.constantFrom('2026-11-22T00:00:00.000Z', 'yesterday'),
          }),
        )
        .map((value) => Buffer.from(JSON.stringify(value)).toString('base64url')),
    ),
  ),
});

describe('the API under arbitrary requests', () => {
  it('never answers 5xx, always explains a refusal, and starts no bake when it refuses', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const before = await bakeCount();
        const result = await call(r.method, r.path, {
          ...r.body,
          query: r.query,
          headers: {
            ...(r.contentType ? { 'Content-Type': r.contentType } : {}),
            ...(r.idempotencyKey !== null ? { 'Idempotency-Key': r.idempotencyKey } : {}),
          },
          bareHeaders: true,
        });

        expect(result.status).toBeLessThan(500);
        if (result.status >= 400) {
          // A HEAD gets the problem's status and headers, never its body.
          if (r.method === 'HEAD') expect(result.headers['content-type']).toBe('application/problem+json');
          else expect(problem.safeParse(result.body).success).toBe(true);
          expect(await bakeCount()).toBe(before);
        }
      }),
      { numRuns: 400, seed: 20261130 },
    );
  });
});
