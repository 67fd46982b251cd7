import { describe, expect, it } from 'vitest';
import { createSandbox } from '../../emulator/sandbox';
import { reconcile, startBake } from '../../lib/bake/service';
import { awsForTest, controlFor } from '../support/aws';
import { bakeryForTest } from '../support/bakery';

// One chain of timers per bake, however many events and sweeps look at it meanwhile.
describe('the timer chain of a waiting bake', () => {
  it('continues only from its own timer; events and sweeps add none; a stale timer dies', async () => {
    const aws = awsForTest(import.meta.url);
    const sandbox = await createSandbox(aws, { name: 'timers', desiredCapacity: 1 });
    const bakery = await bakeryForTest(aws, sandbox);
    await controlFor(aws).configure({ delays: { 'ec2.instance.pending': 3600 } }); // the builder stays pending
    const { id } = await startBake(bakery.as('api'), 'minimal');
    await reconcile(bakery, [id], new Map([[id, 1]])); // requested -> launching, a new chain
    const { bake } = await bakery.store.get(id);
    const scheduled = bakery.scheduler.scheduled;
    expect(bake.phase).toBe('launching');
    expect(scheduled.at(-1)).toMatchObject({ bakeId: id, version: bake.version });
    const before = scheduled.length;

    await reconcile(bakery, [id]); // an event
    await reconcile(bakery); // the sweep
    expect(scheduled.length).toBe(before);

    await reconcile(bakery, [id], new Map([[id, bake.version - 1]])); // a stale timer
    expect(scheduled.length).toBe(before);

    await reconcile(bakery, [id], new Map([[id, bake.version]])); // the live chain
    expect(scheduled.length).toBe(before + 1);
    expect(scheduled.at(-1)).toMatchObject({ bakeId: id, version: bake.version });
    expect(scheduled.at(-1)?.delaySeconds).toBeGreaterThanOrEqual(1);
  });
});
