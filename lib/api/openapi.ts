import * as z from '../zod';
import { BAKE_ID } from '../bake/model';
import {
  approvalBody,
  bakeListResponse,
  bakeResponse,
  idempotencyKeyHeader,
  listQuery,
  pipelinesResponse,
  problem,
  retentionResponse,
  skippedResponse,
  startBakeBody,
  startRolloutBody,
} from './schemas';

type Schema = Record<string, unknown>;

const input = (schema: z.ZodMiniType): Schema =>
  z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' });
const output = (schema: z.ZodMiniType): Schema =>
  z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12' });
const strip = ({ $schema: _, ...rest }: Schema): Schema => rest;

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});
const PROBLEMS: Record<number, string> = {
  400: 'Malformed JSON, an invalid or unknown query parameter, an invalid header',
  404: 'Unknown bake, pipeline, image or route',
  405: 'Wrong method for this path (see Allow)',
  409: 'The pipeline is busy (activeBakeId), or the bake is not in a state for this',
  413: 'Body larger than 16 KiB',
  415: 'Body not sent as application/json',
  422: 'A body that does not validate, or a request that cannot be carried out (field)',
  503: 'AWS throttling or unavailable: retry after Retry-After seconds',
};
const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [String(status), problemResponse(PROBLEMS[status] ?? '')]));

const json = (ref: string, description: string, headers?: Schema) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const body = (ref: string, required = true) => ({
  required,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const location = { Location: { description: 'The bake', schema: { type: 'string' } } };
const bakeId = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: BAKE_ID.source },
};

function queryParameters(): Schema[] {
  const schema = input(listQuery) as { properties: Record<string, Schema> };
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: false,
    schema: property,
  }));
}

const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'The same key (per caller, for 24 h) returns the same bake; with another body, 422.',
  schema: strip(output(idempotencyKeyHeader)),
};

/** The API's OpenAPI 3.1 document, generated from the zod schemas the routes validate with. */
export function openApiDocument(): Schema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'ami-bakery',
      version: '1',
      description:
        'Bake AMIs, roll launch templates, refresh Auto Scaling groups. Every request is signed with SigV4 (AWS_IAM authorization). Every response carries X-Request-Id (also in problem bodies and the logs).',
    },
    security: [{ sigv4: [] }],
    paths: {
      '/bakes': {
        post: {
          operationId: 'startBake',
          summary: 'Bake a pipeline now',
          parameters: [idempotencyKey],
          requestBody: body('StartBake'),
          responses: {
            '202': json(
              'BakeResponse',
              'Bake started (or replayed for a repeated Idempotency-Key)',
              location,
            ),
            '200': json(
              'Skipped',
              'Nothing changed since the last successful bake (send force to bake anyway)',
            ),
            ...problems(400, 404, 409, 413, 415, 422, 503),
          },
        },
        get: {
          operationId: 'listBakes',
          summary: 'Bakes newest first, paginated',
          parameters: queryParameters(),
          responses: { '200': json('BakeList', 'A page of bakes'), ...problems(400, 404, 503) },
        },
      },
      '/bakes/{id}': {
        get: {
          operationId: 'getBake',
          summary: 'A bake: phase, timeline, resources, step outputs, rollout progress',
          parameters: [bakeId],
          responses: { '200': json('BakeResponse', 'The bake'), ...problems(400, 404, 503) },
        },
      },
      '/bakes/{id}/cancel': {
        post: {
          operationId: 'cancelBake',
          summary: 'Stop a bake; its instances are terminated and its refreshes cancelled',
          parameters: [bakeId],
          responses: {
            '202': json('BakeResponse', 'Cancel requested'),
            ...problems(400, 404, 409, 413, 415, 422, 503),
          },
        },
      },
      ...Object.fromEntries(
        (['approve', 'reject'] as const).map((answer) => [
          `/bakes/{id}/${answer}`,
          {
            post: {
              operationId: `${answer}Bake`,
              summary: `${answer === 'approve' ? 'Approve' : 'Reject'} the rollout of a bake awaiting approval`,
              parameters: [bakeId],
              requestBody: body('Approval', false),
              responses: {
                '202': json('BakeResponse', 'Answer recorded'),
                ...problems(400, 404, 409, 413, 415, 422, 503),
              },
            },
          },
        ]),
      ),
      '/pipelines': {
        get: {
          operationId: 'listPipelines',
          summary: 'Each pipeline with its last bake and current image',
          responses: { '200': json('Pipelines', 'The pipelines'), ...problems(400, 503) },
        },
      },
      '/retention/{pipeline}': {
        get: {
          operationId: 'retentionPlan',
          summary: 'What the janitor would delete for a pipeline now, and why each kept image stays',
          parameters: [{ name: 'pipeline', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': json('RetentionPlan', 'The plan (nothing is changed)'),
            ...problems(400, 404, 503),
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openApi',
          summary: 'This document',
          responses: { '200': { description: 'The OpenAPI 3.1 document of this API' }, ...problems(400) },
        },
      },
      '/rollouts': {
        post: {
          operationId: 'startRollout',
          summary: "Roll an existing image of a pipeline out to its targets (the operator's rollback)",
          parameters: [idempotencyKey],
          requestBody: body('StartRollout'),
          responses: {
            '202': json('BakeResponse', 'Rollout started', location),
            ...problems(400, 404, 409, 413, 415, 422, 503),
          },
        },
      },
    },
    components: {
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description: 'AWS Signature Version 4 (service execute-api)',
        },
      },
      schemas: {
        StartBake: strip(input(startBakeBody)),
        StartRollout: strip(input(startRolloutBody)),
        Approval: strip(input(approvalBody)),
        BakeResponse: strip(output(bakeResponse)),
        Skipped: strip(output(skippedResponse)),
        BakeList: strip(output(bakeListResponse)),
        Pipelines: strip(output(pipelinesResponse)),
        RetentionPlan: strip(output(retentionResponse)),
        Problem: strip(output(problem)),
      },
    },
  };
}
