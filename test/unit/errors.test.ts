import { describe, expect, it } from 'vitest';
import { describeError, isAwsError, isTransient, RefusedError } from '../../lib/errors';

const named = (name: string, extra: object = {}) => Object.assign(new Error('m'), { name, ...extra });

describe('isAwsError', () => {
  it.each<[string, unknown, readonly string[], boolean]>([
    ['its name', named('ConditionalCheckFailedException'), ['ConditionalCheckFailedException'], true],
    [
      'one of several names',
      named('InvalidAMIID.Malformed'),
      ['InvalidAMIID.NotFound', 'InvalidAMIID.Malformed'],
      true,
    ],
    ['another name', named('ValidationException'), ['ConditionalCheckFailedException'], false],
    ['a name that only starts the same', named('InvalidAMIID.NotFoundX'), ['InvalidAMIID.NotFound'], false],
    [
      'a plain object with the name (as the SDK may deserialize)',
      { name: 'ThrottlingException' },
      ['ThrottlingException'],
      true,
    ],
    ['null', null, ['x'], false],
    ['a string', 'ConditionalCheckFailedException', ['ConditionalCheckFailedException'], false],
    ['a name that is not a string', { name: 1 }, ['1'], false],
  ])('%s', (_, error, names, expected) => {
    expect(isAwsError(error, ...names)).toBe(expected);
  });
});

describe('isTransient: throttling and 5xx retry, validation errors do not', () => {
  it.each<[string, unknown, boolean]>([
    ['throttling by name', named('ThrottlingException'), true],
    ["the SDK's retryable mark", named('Whatever', { $retryable: {} }), true],
    ['a 503', named('Unknown', { $metadata: { httpStatusCode: 503 } }), true],
    ['a 429', named('Unknown', { $metadata: { httpStatusCode: 429 } }), true],
    ['a 400', named('ValidationException', { $metadata: { httpStatusCode: 400 } }), false],
    ['a dropped connection', named('Error', { code: 'ECONNRESET' }), true],
    ['an aborted request', named('AbortError'), true],
    ['a refusal of our own', new RefusedError('SubnetNotFound', 'none'), false],
    ['null', null, false],
  ])('%s', (_, error, expected) => {
    expect(isTransient(error)).toBe(expected);
  });
});

describe('RefusedError', () => {
  it('is recorded under its code, with its cause', () => {
    const cause = new Error('underneath');
    const error = new RefusedError('UnknownPipeline', 'Pipeline web is no longer configured', { cause });

    expect(describeError(error)).toEqual({
      code: 'UnknownPipeline',
      message: 'Pipeline web is no longer configured',
    });
    expect(error.cause).toBe(cause);
    expect(isAwsError(error, 'UnknownPipeline')).toBe(true);
  });
});
