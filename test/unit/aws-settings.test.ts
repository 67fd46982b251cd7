import { describe, expect, it } from 'vitest';
import { AwsSettingsError, readAwsSettings } from '../../lib/aws/settings';

describe('readAwsSettings', () => {
  it('defaults to standard retries with five attempts', () => {
    expect(readAwsSettings({ AWS_REGION: 'eu-west-1' })).toEqual({
      region: 'eu-west-1',
      retryMode: 'standard',
      maxAttempts: 5,
    });
  });

  it('takes the retry mode and attempts from the environment', () => {
    expect(
      readAwsSettings({ AWS_REGION: 'us-gov-west-1', AWS_RETRY_MODE: 'adaptive', AWS_MAX_ATTEMPTS: '8' }),
    ).toEqual({ region: 'us-gov-west-1', retryMode: 'adaptive', maxAttempts: 8 });
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(readAwsSettings({ AWS_REGION: 'eu-west-1' }))).toBe(true);
  });

  it.each([
    [{}, /AWS_REGION/],
    [{ AWS_REGION: 'Ireland' }, /AWS_REGION: must be an AWS region/],
    [{ AWS_REGION: 'eu-west-1', AWS_RETRY_MODE: 'eager' }, /AWS_RETRY_MODE/],
    [{ AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: '0' }, /AWS_MAX_ATTEMPTS/],
    [{ AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: 'many' }, /AWS_MAX_ATTEMPTS/],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => readAwsSettings(env)).toThrow(AwsSettingsError);
    expect(() => readAwsSettings(env)).toThrow(message);
  });
});
