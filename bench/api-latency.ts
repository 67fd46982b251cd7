/**
 * `npm run bench` (api part): latency of `POST /bakes`, `GET /bakes/{id}` and `GET /bakes` through
 * the API function's whole middleware stack, 50 clients at once, against the local stack. Each
 * request's time in AWS calls (DynamoDB, SQS, SSM: summed per request) is measured apart, so the
 * handler's own share shows. p50 and p99 of each.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Pluggable } from '@smithy/types';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { pipelines } from '../config/pipelines';
import { createBakery } from '../functions/bakery';
import { createApiHandler } from '../lib/api/handler';
import type { InstrumentableClient } from '../lib/aws/clients';
import type { Bakery } from '../lib/bake/service';
import { loadPipelines, PipelineCatalog } from '../lib/pipeline/catalog';
import { lambdaContext, type LocalEnvironment } from '../scripts/local/environment';
import { percentile, type Figure } from './figures';

const CLIENTS = 50;
const PIPELINES = Number(process.env.BENCH_API_PIPELINES ?? 200);
const READS = Number(process.env.BENCH_API_READS ?? 1_000);

const sample = JSON.parse(
  readFileSync(new URL('../events/api-post-bakes.json', import.meta.url), 'utf8'),
) as APIGatewayProxyEventV2WithIAMAuthorizer;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Sample {
  readonly total: number;
  readonly aws: number;
  readonly status: number;
}

/** Adds each AWS call's time, retries included, to the request it is made for. */
function awsTimer<Input extends object, Output extends object>(
  inAws: AsyncLocalStorage<{ ms: number }>,
): Pluggable<Input, Output> {
  return {
    applyToStack(stack) {
      stack.add(
        (next) => async (args) => {
          const started = performance.now();
          try {
            return await next(args);
          } finally {
            const request = inAws.getStore();
            if (request) request.ms += performance.now() - started;
          }
        },
        { step: 'initialize', name: 'benchAwsTime' },
      );
    },
  };
}

/** Runs `count` requests over `CLIENTS` concurrent callers. */
async function concurrently(count: number, request: (i: number) => Promise<Sample>): Promise<Sample[]> {
  const samples: Sample[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < count; i = next++) samples.push(await request(i));
    }),
  );
  return samples;
}

export async function benchApiLatency(
  local: LocalEnvironment,
  out: (line?: string) => void,
): Promise<Figure[]> {
  const inAws = new AsyncLocalStorage<{ ms: number }>();
  const options = local.clientOptions('api');
  const timed = (client: InstrumentableClient) => {
    options.instrument?.(client);
    client.middlewareStack.use(awsTimer(inAws));
  };
  const [minimal] = pipelines.filter((p) => p.name === 'minimal');
  if (!minimal) throw new Error('no minimal pipeline');
  const many = Array.from({ length: PIPELINES }, (_, i) => ({
    ...minimal,
    name: `api${String(i).padStart(3, '0')}`,
    publish: { parameter: `/ami-bakery/api${i}/latest` },
  }));
  const base = createBakery(quiet, process.env, { clientOptions: { ...options, instrument: timed } });
  const bakery: Bakery = {
    ...base,
    catalog: new PipelineCatalog(
      loadPipelines(many, { builderProfile: process.env.BUILDER_INSTANCE_PROFILE }),
    ),
  };
  const handler = createApiHandler(new Logger({ serviceName: 'bench', logLevel: 'SILENT' }), () => bakery);
  const context = lambdaContext('api');

  const call = async (method: string, path: string, body?: unknown, query?: Record<string, string>) => {
    const headers: Record<string, string | undefined> = { ...sample.headers };
    delete headers['Idempotency-Key'];
    const event: APIGatewayProxyEventV2WithIAMAuthorizer = {
      ...sample,
      routeKey: '$default',
      rawPath: path,
      rawQueryString: new URLSearchParams(query ?? {}).toString(),
      ...(query ? { queryStringParameters: query } : {}),
      headers,
      requestContext: { ...sample.requestContext, http: { ...sample.requestContext.http, method, path } },
      body: body === undefined ? undefined : JSON.stringify(body),
      isBase64Encoded: false,
    };
    const spent = { ms: 0 };
    const started = performance.now();
    const result = (await inAws.run(spent, () => handler(event, context as never))) as {
      statusCode: number;
      body: string;
    };
    return {
      sample: { total: performance.now() - started, aws: spent.ms, status: result.statusCode },
      body: result.body,
    };
  };

  const ids: string[] = [];
  const posts = await concurrently(PIPELINES, async (i) => {
    const { sample: s, body } = await call('POST', '/bakes', { pipeline: many[i]?.name, reason: 'bench' });
    ids.push((JSON.parse(body) as { bake: { id: string } }).bake.id);
    return s;
  });
  const gets = await concurrently(
    READS,
    async (i) => (await call('GET', `/bakes/${ids[i % ids.length] ?? ''}`)).sample,
  );
  const lists = await concurrently(
    READS / 2,
    async () => (await call('GET', '/bakes', undefined, { limit: '20' })).sample,
  );

  const figures: Figure[] = [];
  for (const [name, samples, expected] of [
    ['POST /bakes', posts, 202],
    ['GET /bakes/{id}', gets, 200],
    ['GET /bakes', lists, 200],
  ] as const) {
    const wrong = samples.filter((s) => s.status !== expected).length;
    if (wrong > 0) throw new Error(`${name}: ${wrong} of ${samples.length} answered other than ${expected}`);
    const total = samples.map((s) => s.total);
    const own = samples.map((s) => s.total - s.aws);
    const line = `p50 ${percentile(total, 50).toFixed(1)} ms, p99 ${percentile(total, 99).toFixed(1)} ms; handler's own p50 ${percentile(own, 50).toFixed(1)} ms, p99 ${percentile(own, 99).toFixed(1)} ms`;
    out(`api: ${name}, ${samples.length} requests from ${CLIENTS} clients: ${line}`);
    figures.push({
      figure: `API latency at ${CLIENTS} concurrent clients, ${name} (${samples.length} requests)`,
      value: line,
      target: '-',
      command: 'BENCH_ONLY=api npm run bench',
    });
  }
  return figures;
}
