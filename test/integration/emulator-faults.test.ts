import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { ListTopicsCommand } from '@aws-sdk/client-sns';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { DescribeParametersCommand } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { awsForTest, controlFor } from '../support/aws';

// Fault injection (part f) and call counting (part g), seen through the real AWS SDK.
const aws = awsForTest(import.meta.url);
const control = controlFor(aws);
// One attempt per call, standard mode (adaptive mode would rate-limit the client after each
// throttle): each injected fault surfaces as the error the SDK would raise.
const noRetry = awsForTest(`${import.meta.url}#once`, { AWS_MAX_ATTEMPTS: '1', AWS_RETRY_MODE: 'standard' });
const onceControl = controlFor(noRetry);

afterEach(async () => {
  await control.clearFaults();
  await onceControl.clearFaults();
});

describe('fault injection', () => {
  it.each([
    ['ec2', () => noRetry.ec2.send(new DescribeVpcsCommand({})), 'RequestLimitExceeded', 503],
    [
      'autoscaling',
      () => noRetry.autoScaling.send(new DescribeAutoScalingGroupsCommand({})),
      'Throttling',
      400,
    ],
    ['ssm', () => noRetry.ssm.send(new DescribeParametersCommand({})), 'ThrottlingException', 400],
    ['dynamodb', () => noRetry.dynamodb.send(new ListTablesCommand({})), 'ThrottlingException', 400],
    ['sns', () => noRetry.sns.send(new ListTopicsCommand({})), 'ThrottledException', 429],
    ['sqs', () => noRetry.sqs.send(new ListQueuesCommand({})), 'RequestThrottled', 403],
  ] as const)('throttles %s with its own error code', async (service, call, name, status) => {
    await onceControl.setFaults([{ kind: 'throttle', service, count: 1 }]);

    const error = (await call().catch((caught: unknown) => caught)) as Error & {
      $metadata?: { httpStatusCode?: number };
    };

    expect(error.name).toBe(name);
    expect(error.$metadata?.httpStatusCode).toBe(status);
    await expect(call()).resolves.toBeDefined(); // count: 1 — the next call goes through
  });

  it('answers 5xx with the service error code', async () => {
    await onceControl.setFaults([{ kind: 'error', service: 'ec2', status: 503, count: 1 }]);

    const error = (await noRetry.ec2
      .send(new DescribeVpcsCommand({}))
      .catch((caught: unknown) => caught)) as Error;

    expect(error.name).toBe('Unavailable');
  });

  it('lets the SDK retry through throttling, 5xx and dropped connections', async () => {
    await control.setFaults([
      { kind: 'throttle', service: 'ec2', action: 'DescribeVpcs', count: 1 },
      { kind: 'error', service: 'ec2', action: 'DescribeVpcs', status: 500, count: 1 },
      { kind: 'drop', service: 'ec2', action: 'DescribeVpcs', count: 1 },
    ]);
    await control.resetCalls();

    const described = await aws.ec2.send(new DescribeVpcsCommand({}));
    const counts = await control.calls();

    expect(described.Vpcs).toBeDefined();
    expect(described.$metadata.attempts).toBe(4);
    expect(counts.calls.ec2?.DescribeVpcs).toBe(4);
    expect(counts.faulted.ec2?.DescribeVpcs).toEqual({ throttle: 1, error: 1, drop: 1 });
  });

  it('adds latency', async () => {
    await control.setFaults([{ kind: 'latency', service: 'ec2', latencyMs: 300, count: 1 }]);

    const started = Date.now();
    await aws.ec2.send(new DescribeVpcsCommand({}));

    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('a call that stops answering fails as a TimeoutError within the request timeout, and is retried', async () => {
    // A response that takes 8 s against a 1.5 s request timeout: the service's clients give up
    // and retry as for any transient failure, instead of waiting on the socket for minutes. (The
    // timeout leaves room for the emulator's ordinary answers while other test files share it: at
    // 500 ms a busy CI run timed the retries out too.)
    const timeouts = { AMI_BAKERY_REQUEST_TIMEOUT_MS: '1500' };
    const patient = awsForTest(`${import.meta.url}#timeout`, timeouts);
    const once = awsForTest(`${import.meta.url}#timeout-once`, { ...timeouts, AWS_MAX_ATTEMPTS: '1' });
    await controlFor(patient).setFaults([{ kind: 'latency', service: 'ec2', latencyMs: 8_000, count: 1 }]);
    await controlFor(once).setFaults([{ kind: 'latency', service: 'ec2', latencyMs: 8_000, count: 1 }]);

    const started = Date.now();
    const failed = (await once.ec2.send(new DescribeVpcsCommand({})).catch((e: unknown) => e)) as Error;
    const failedAfter = Date.now() - started;
    const retried = await patient.ec2.send(new DescribeVpcsCommand({}));

    expect(failed.name).toBe('TimeoutError');
    expect(failedAfter).toBeLessThan(5_000);
    expect(retried.$metadata.attempts).toBeGreaterThanOrEqual(2);
    expect((await controlFor(patient).calls()).faulted.ec2?.DescribeVpcs).toEqual({ latency: 1 });
    await controlFor(patient).clearFaults();
    await controlFor(once).clearFaults();
  });

  it('fires by probability, reproducibly for a seed', async () => {
    const pattern = async (): Promise<boolean[]> => {
      await onceControl.setFaults([{ kind: 'throttle', service: 'ec2', probability: 0.5 }], 42);
      const outcomes: boolean[] = [];
      for (let i = 0; i < 20; i += 1) {
        outcomes.push(
          await noRetry.ec2.send(new DescribeVpcsCommand({})).then(
            () => true,
            () => false,
          ),
        );
      }
      return outcomes;
    };

    const first = await pattern();
    const second = await pattern();

    expect(second).toEqual(first);
    expect(first.filter(Boolean).length).toBeGreaterThan(3);
    expect(first.filter((ok) => !ok).length).toBeGreaterThan(3);
  });

  it('rejects an unknown fault kind with a 400', async () => {
    await expect(control.setFaults([{ kind: 'explode' as 'drop' }])).rejects.toThrow(/fault kind must be/);
  });

  it('never affects another account', async () => {
    await onceControl.setFaults([{ kind: 'throttle', service: 'ec2' }]);

    await expect(aws.ec2.send(new DescribeVpcsCommand({}))).resolves.toBeDefined();
  });
});

describe('call counting', () => {
  it('counts calls per service and action, and resets', async () => {
    await control.resetCalls();
    await aws.ec2.send(new DescribeVpcsCommand({}));
    await aws.ec2.send(new DescribeVpcsCommand({}));
    await aws.autoScaling.send(new DescribeAutoScalingGroupsCommand({}));
    await aws.ssm.send(new DescribeParametersCommand({}));

    expect((await control.calls()).calls).toEqual({
      ec2: { DescribeVpcs: 2 },
      autoscaling: { DescribeAutoScalingGroups: 1 },
      ssm: { DescribeParameters: 1 },
    });
    await control.resetCalls();
    expect((await control.calls()).calls).toEqual({});
  });
});
