import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { startBake } from '../../lib/bake/service';
import { awsForTest, controlFor } from '../support/aws';
import { bakeryForTest, runToEnd } from '../support/bakery';
import { createSandbox } from '../../emulator/sandbox';

// 20% of every EC2 and SSM call throttled: the SDK's retries and the reconciler's passes absorb it.
describe('a bake under 20% throttling of EC2 and SSM', () => {
  it('still succeeds, with one builder and one image', async () => {
    const aws = awsForTest(import.meta.url);
    const sandbox = await createSandbox(aws, { name: 'throttled', desiredCapacity: 1 });
    const bakery = await bakeryForTest(aws, sandbox);
    const control = controlFor(aws);
    await control.setFaults(
      [
        { kind: 'throttle', service: 'ec2', probability: 0.2 },
        { kind: 'throttle', service: 'ssm', probability: 0.2 },
      ],
      7,
    );
    await control.resetCalls();

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'minimal')).id, {
      timeoutMs: 60_000,
    });

    const { calls, faulted } = await control.calls();
    await control.clearFaults();
    expect(bake.phase).toBe('succeeded');
    expect(bake.resources.filter((r) => r.kind === 'instance')).toHaveLength(1);
    const images = await aws.ec2.send(
      new DescribeImagesCommand({
        Owners: ['self'],
        Filters: [{ Name: 'tag:ami-bakery:bake-id', Values: [bake.id] }],
      }),
    );
    expect(images.Images).toHaveLength(1);
    expect(calls.ec2?.CreateImage).toBeGreaterThanOrEqual(1);
    const throttled = Object.values(faulted).flatMap((actions) =>
      Object.values(actions).map((k) => k.throttle ?? 0),
    );
    expect(throttled.reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
  });
});
