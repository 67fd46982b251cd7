import { DescribeInstancesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import instanceEvent from '../../events/ec2-instance-state-change.json';
import { createSandbox } from '../../emulator/sandbox';
import { startBake } from '../../lib/bake/service';
import { parseTrigger } from '../../lib/triggers/parse';
import { wake } from '../../lib/triggers/wake';
import { awsForTest } from '../support/aws';
import { bakeryForTest, CrashingStore } from '../support/bakery';

const event = (instanceId: string) =>
  parseTrigger({ ...instanceEvent, detail: { ...instanceEvent.detail, 'instance-id': instanceId } });

// An event reconciles the bake its resource belongs to, even before the record names it.
describe('an event about a builder the record does not name yet', () => {
  it('reaches its bake through the bake tag; a foreign instance reaches none', async () => {
    const aws = awsForTest(import.meta.url);
    const sandbox = await createSandbox(aws, { name: 'events', desiredCapacity: 1 });
    const bakery = await bakeryForTest(aws, sandbox);
    // The pass that launches the builder dies before committing.
    const crashing = {
      ...bakery,
      store: new CrashingStore([bakery.documents, bakery.tableName], new Set([1])),
    };
    const { id } = await startBake(bakery.as('api'), 'minimal');
    await wake(crashing, { kind: 'sweep' });
    const { bake } = await bakery.store.get(id);
    expect(bake.builder?.instanceId).toBeUndefined();
    const tagged = await aws.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:ami-bakery:bake-id', Values: [id] }] }),
    );
    const builderId = tagged.Reservations?.[0]?.Instances?.[0]?.InstanceId ?? '';
    const foreign = await aws.ec2.send(
      new RunInstancesCommand({ ImageId: sandbox.baseImageId, MinCount: 1, MaxCount: 1 }),
    );

    const forForeign = await wake(bakery, event(foreign.Instances?.[0]?.InstanceId ?? ''));
    const forBuilder = await wake(bakery, event(builderId));

    expect(builderId).toMatch(/^i-/);
    expect(forForeign.reconciled).toBe(0);
    expect(forBuilder.reconciled).toBe(1);
    expect(Object.keys(forBuilder.outcomes)).toEqual([id]);
  });
});
