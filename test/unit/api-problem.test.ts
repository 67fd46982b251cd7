import { describe, expect, it } from 'vitest';
import { HttpProblem, toProblem, typeOf } from '../../lib/api/problem';
import {
  BakeryError,
  ConfigError,
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  PipelineBusyError,
} from '../../lib/errors';

/** An error of the service's own that no route maps: a bare 500, logged. */
class Unmapped extends BakeryError {}

const middy = (message: string) =>
  Object.assign(new Error(message), { statusCode: 415, cause: { package: '@middy/http-json-body-parser' } });
const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

describe('toProblem: the one place an error becomes an HTTP answer', () => {
  it.each<[string, unknown, ReturnType<typeof toProblem>]>([
    [
      'an HttpProblem, with its field',
      new HttpProblem(422, 'invalid-body', 'Invalid body', 'pipeline: required', 'pipeline'),
      {
        problem: {
          type: typeOf('invalid-body'),
          title: 'Invalid body',
          status: 422,
          detail: 'pipeline: required',
          field: 'pipeline',
        },
        headers: {},
        logged: false,
      },
    ],
    [
      'an HttpProblem without a field',
      new HttpProblem(404, 'no-route', 'Not found', 'No route'),
      {
        problem: { type: typeOf('no-route'), title: 'Not found', status: 404, detail: 'No route' },
        headers: {},
        logged: false,
      },
    ],
    [
      'a 405 names the methods the path takes',
      new HttpProblem(405, 'method-not-allowed', 'Method not allowed', 'use GET', undefined, 'GET, HEAD'),
      {
        problem: {
          type: typeOf('method-not-allowed'),
          title: 'Method not allowed',
          status: 405,
          detail: 'use GET',
        },
        headers: { Allow: 'GET, HEAD' },
        logged: false,
      },
    ],
    [
      'a busy pipeline names the bake holding it',
      new PipelineBusyError('web', 'b20261130000000-aaaaaa'),
      {
        problem: {
          type: 'urn:ami-bakery:problem:pipeline-busy',
          title: 'Pipeline busy',
          status: 409,
          detail: 'Pipeline web is busy with b20261130000000-aaaaaa (one bake or rollout at a time)',
          activeBakeId: 'b20261130000000-aaaaaa',
        },
        headers: {},
        logged: false,
      },
    ],
    [
      'not found',
      new NotFoundError('No bake b1'),
      {
        problem: {
          type: 'urn:ami-bakery:problem:not-found',
          title: 'Not found',
          status: 404,
          detail: 'No bake b1',
        },
        headers: {},
        logged: false,
      },
    ],
    [
      'a conflict',
      new ConflictError('Bake b1 already ended'),
      {
        problem: {
          type: 'urn:ami-bakery:problem:conflict',
          title: 'Conflict',
          status: 409,
          detail: 'Bake b1 already ended',
        },
        headers: {},
        logged: false,
      },
    ],
    [
      'an invalid request, with its field',
      new InvalidRequestError('Not an image of web', 'amiId'),
      {
        problem: {
          type: 'urn:ami-bakery:problem:invalid-request',
          title: 'Cannot do that',
          status: 422,
          detail: 'Not an image of web',
          field: 'amiId',
        },
        headers: {},
        logged: false,
      },
    ],
    [
      'an invalid request without a field',
      new InvalidRequestError('No'),
      {
        problem: {
          type: 'urn:ami-bakery:problem:invalid-request',
          title: 'Cannot do that',
          status: 422,
          detail: 'No',
        },
        headers: {},
        logged: false,
      },
    ],
    [
      "middy's parser refusing the content type",
      middy('Unsupported Media Type'),
      {
        problem: {
          type: 'urn:ami-bakery:problem:unsupported-media-type',
          title: 'Unsupported media type',
          status: 415,
          detail: 'Send the body as application/json',
        },
        headers: {},
        logged: false,
      },
    ],
    [
      "middy's parser refusing the body",
      middy('Invalid or malformed JSON was provided'),
      {
        problem: {
          type: 'urn:ami-bakery:problem:malformed-json',
          title: 'Malformed JSON',
          status: 400,
          detail: 'The body is not valid JSON',
        },
        headers: {},
        logged: false,
      },
    ],
    [
      'AWS throttling: 503, Retry-After, logged',
      throttled,
      {
        problem: {
          type: 'urn:ami-bakery:problem:unavailable',
          title: 'Try again',
          status: 503,
          detail: 'AWS is throttling or unavailable; retry shortly',
        },
        headers: { 'Retry-After': '5' },
        logged: true,
      },
    ],
  ])('%s', (_, error, answer) => {
    expect(toProblem(error)).toEqual(answer);
  });

  const internal = {
    type: 'urn:ami-bakery:problem:internal',
    title: 'Internal error',
    status: 500,
    detail: 'Something went wrong on our side; it has been logged',
  };

  it.each<[string, unknown, boolean]>([
    ['anything else is a bare 500, logged', new TypeError('x is undefined'), true],
    ['a thrown string too', 'boom', true],
    ['a thrown null', null, true],
    ['a thrown undefined', undefined, true],
    ['a configuration error (500) is logged', new ConfigError('pipelines: invalid'), true],
    ['an unmapped error of our own is logged too', new Unmapped('teapot'), true],
    [
      'an error from another package is not a parser problem',
      Object.assign(new Error('Unsupported Media Type'), { cause: { package: 'other' } }),
      true,
    ],
  ])('%s', (_, error, logged) => {
    expect(toProblem(error)).toEqual({ problem: internal, headers: {}, logged });
  });

  it('an HttpProblem is named so in logs', () => {
    expect(new HttpProblem(400, 'x', 'X', 'x').name).toBe('HttpProblem');
  });
});
