import { describe, expect, it } from 'vitest';
import { AwsSettingsError, clientConfig, readAwsSettings } from '../../lib/aws/settings';

describe('readAwsSettings', () => {
  it("defaults to standard retries with five attempts, and timeouts well inside any function's run", () => {
    expect(readAwsSettings({ AWS_REGION: 'eu-west-1' })).toEqual({
      region: 'eu-west-1',
      retryMode: 'standard',
      maxAttempts: 5,
      connectTimeoutMs: 5_000,
      requestTimeoutMs: 30_000,
    });
  });

  it('takes the retry mode and attempts from the environment', () => {
    expect(
      readAwsSettings({ AWS_REGION: 'us-gov-west-1', AWS_RETRY_MODE: 'adaptive', AWS_MAX_ATTEMPTS: '8' }),
    ).toMatchObject({ region: 'us-gov-west-1', retryMode: 'adaptive', maxAttempts: 8 });
  });

  it('takes the timeouts from the environment', () => {
    expect(
      readAwsSettings({
        AWS_REGION: 'eu-west-1',
        AMI_BAKERY_CONNECT_TIMEOUT_MS: '1000',
        AMI_BAKERY_REQUEST_TIMEOUT_MS: '2500',
      }),
    ).toMatchObject({ connectTimeoutMs: 1000, requestTimeoutMs: 2500 });
  });

  it('builds every client with the timeouts, failing a request that outlasts them', () => {
    const settings = readAwsSettings({ AWS_REGION: 'eu-west-1' });

    expect(clientConfig(settings, 'us-east-1')).toEqual({
      region: 'us-east-1',
      retryMode: 'standard',
      maxAttempts: 5,
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000, throwOnRequestTimeout: true },
    });
    expect(clientConfig(settings).region).toBe('eu-west-1');
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(readAwsSettings({ AWS_REGION: 'eu-west-1' }))).toBe(true);
  });

  it.each([
    [{}, /AWS_REGION/],
    [{ AWS_REGION: 'Ireland' }, /AWS_REGION: must be an AWS region/],
    [{ AWS_REGION: 'eu-west-1', AWS_RETRY_MODE: 'eager' }, /AWS_RETRY_MODE/],
    [{ AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: '0' }, /AWS_MAX_ATTEMPTS/],
    [{ AWS_REGION: 'eu-west-1', AMI_BAKERY_REQUEST_TIMEOUT_MS: '10' }, /AMI_BAKERY_REQUEST_TIMEOUT_MS/],
    [{ AWS_REGION: 'eu-west-1', AMI_BAKERY_CONNECT_TIMEOUT_MS: 'soon' }, /AMI_BAKERY_CONNECT_TIMEOUT_MS/],
    [{ AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: 'many' }, /AWS_MAX_ATTEMPTS/],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => readAwsSettings(env)).toThrow(AwsSettingsError);
    expect(() => readAwsSettings(env)).toThrow(message);
  });
});
