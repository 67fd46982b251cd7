import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Bakery } from '../bake/service';
import { describeError } from '../errors';
import { HttpProblem, toProblem } from './problem';
import { route } from './routes';

type Event = APIGatewayProxyEventV2WithIAMAuthorizer;
type Result = APIGatewayProxyStructuredResultV2;

/** Request bodies are small JSON documents; anything bigger is refused before it is parsed. */
const MAX_BODY_BYTES = 16 * 1024;

function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): Result {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** Methods whose body means nothing here: it is ignored, as a GET's is by caches and proxies. */
const NO_BODY = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);

/** 413 for an oversized body; an empty body counts as none (GET, or a POST without options). */
const bodyGuard = (): MiddlewareObj<Event, Result> => ({
  before: (request) => {
    const { body, isBase64Encoded } = request.event;
    if (
      body === undefined ||
      body === '' ||
      NO_BODY.has(request.event.requestContext.http.method.toUpperCase())
    ) {
      delete (request.event as { body?: string }).body;
      return;
    }
    const bytes = isBase64Encoded ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body);
    if (bytes > MAX_BODY_BYTES) {
      throw new HttpProblem(
        413,
        'too-large',
        'Body too large',
        `The body may be at most ${MAX_BODY_BYTES} bytes`,
      );
    }
  },
});

/** middy's JSON parser, for requests that carry a body (it insists on one otherwise). */
const jsonBody = (): MiddlewareObj<Event, Result> => {
  const parser = httpJsonBodyParser();
  return {
    before: async (request) => {
      if (request.event.body === undefined) return;
      // Media types are case-insensitive (RFC 9110, 8.3.1): Application/JSON is JSON too.
      const headers = request.event.headers as Record<string, string | undefined>;
      const type = headers['content-type'];
      if (type !== undefined) headers['content-type'] = type.toLowerCase();
      // Stryker disable next-line OptionalChaining: equivalent, middy's parser always has a `before`
      await parser.before?.(request as never);
    },
  };
};

/** API Gateway's id of the request: on every response, in problem bodies and in each log line. */
function requestIdOf(event: Event): string {
  return event.requestContext.requestId;
}

const requestIds = (logger: Logger): MiddlewareObj<Event, Result> => ({
  before: (request) => {
    logger.appendKeys({ requestId: requestIdOf(request.event) });
  },
  after: (request) => {
    request.response = {
      ...request.response,
      // Stryker disable next-line OptionalChaining: equivalent, `after` runs only once there is a response
      headers: { ...request.response?.headers, 'x-request-id': requestIdOf(request.event) },
    };
  },
});

/** The one error mapper: every failure leaves as a JSON problem, never as a stack. */
const problems = (logger: Logger): MiddlewareObj<Event, Result> => ({
  onError: (request) => {
    const { problem: found, headers, logged } = toProblem(request.error);
    const requestId = requestIdOf(request.event);
    const problem = { ...found, requestId };
    if (logged)
      logger.error('request failed', { error: describeError(request.error), path: request.event.rawPath });
    request.response = json(problem.status, problem, {
      'x-request-id': requestId,
      ...headers,
      'content-type': 'application/problem+json',
    });
    if (request.event.requestContext.http.method.toUpperCase() === 'HEAD') {
      request.response = { ...request.response, body: '' };
    }
  },
});

/** The signed-in IAM principal; the local API has none (it is served without IAM authorization). */
function callerOf(event: Event): string {
  const context = event.requestContext as { authorizer?: { iam?: { userArn?: string } } };
  return context.authorizer?.iam?.userArn ?? 'anonymous';
}

/**
 * The HTTP API's Lambda handler (routes in `routes.ts`, contract in docs/openapi.json): header
 * normalizer, body size guard, JSON body parser, zod validation in the routes, one error mapper.
 */
export function createApiHandler(logger: Logger, bakery: () => Bakery) {
  async function apiHandler(event: Event): Promise<Result> {
    const answer = await route(bakery(), {
      method: event.requestContext.http.method.toUpperCase(),
      path: event.rawPath,
      query: event.queryStringParameters ?? {},
      headers: event.headers,
      body: event.body, // parsed by then, when there was one
      caller: callerOf(event),
    });
    const result = json(answer.status, answer.body, answer.headers);
    return event.requestContext.http.method.toUpperCase() === 'HEAD' ? { ...result, body: '' } : result;
  }
  return middy<Event, Result>(apiHandler).use([
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent today, the one key appended is set anew on every request
    injectLambdaContext(logger, { resetKeys: true }),
    problems(logger),
    requestIds(logger),
    httpHeaderNormalizer(),
    bodyGuard(),
    jsonBody(),
  ]);
}
