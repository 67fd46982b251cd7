import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import type { Phase } from '../../lib/bake/model';
import { cancelBake, reconcile, startBake } from '../../lib/bake/service';
import { ConflictError } from '../../lib/errors';
import { awsForTest, controlFor, eventually } from '../support/aws';
import { bakeryForTest, runToEnd } from '../support/bakery';
import { createSandbox } from '../../emulator/sandbox';

// Cancel in each phase: the bake ends cancelled, nothing keeps running, the pipeline is free.
const withTest = pipelines.map((p) =>
  p.name === 'minimal'
    ? { ...p, test: { steps: [{ name: 'boots', run: ['systemctl is-system-running --wait'] }] } }
    : p,
);

describe.each<Phase>([
  'requested',
  'launching',
  'provisioning',
  'validating',
  'stopping',
  'imaging',
  'testing',
])('cancel while %s', (phase) => {
  it('ends cancelled with every instance terminated and the pipeline free', async () => {
    const aws = awsForTest(`${import.meta.url}#${phase}`);
    const sandbox = await createSandbox(aws, { name: `cancel-${phase}`, desiredCapacity: 1 });
    const bakery = await bakeryForTest(aws, sandbox, withTest);
    // Slow enough that each phase can be caught.
    await controlFor(aws).configure({
      delays: {
        'ec2.instance.pending': 0.3,
        'ec2.instance.stopping': 0.3,
        'ec2.image.pending': 0.3,
        'ssm.command.in-progress': 0.3,
      },
    });
    const started = await startBake(bakery.as('api'), 'minimal');
    if (phase !== 'requested') {
      await eventually(
        async () => {
          await reconcile(bakery, [started.id]);
          const { bake } = await bakery.store.get(started.id);
          return bake.phase === phase ? true : undefined;
        },
        { intervalMs: 10, what: phase },
      );
    }

    await cancelBake(bakery.as('api'), started.id);
    const bake = await runToEnd(bakery, started.id);

    expect(bake.phase).toBe('cancelled');
    // Every step says what became of it: done, Cancelled while under way, or NotStarted.
    for (const step of bake.steps) expect(['Pending', 'InProgress', 'Delayed']).not.toContain(step.status);
    const described = await aws.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:ami-bakery:bake-id', Values: [bake.id] }] }),
    );
    const states = described.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name) ?? [];
    expect(states.every((state) => state === 'shutting-down' || state === 'terminated')).toBe(true);
    await expect(cancelBake(bakery.as('api'), bake.id)).rejects.toBeInstanceOf(ConflictError);
    await expect(startBake(bakery.as('api'), 'minimal')).resolves.toMatchObject({ phase: 'requested' });
  });
});

describe('after a cancel', () => {
  it('the bake watches its builder until EC2 shows it terminated, then leaves the active index', async () => {
    const aws = awsForTest(import.meta.url);
    const sandbox = await createSandbox(aws, { name: 'cancel-watch', desiredCapacity: 1 });
    const bakery = await bakeryForTest(aws, sandbox, withTest);
    // TerminateInstances only starts the end: shutting-down lasts a while, as on AWS.
    await controlFor(aws).configure({ delays: { 'ec2.instance.shutting-down': 1.5 } });
    const started = await startBake(bakery.as('api'), 'minimal');
    await runToEnd(bakery, started.id, { until: ({ bake }) => bake.phase === 'provisioning' });

    await cancelBake(bakery.as('api'), started.id);
    const ended = await runToEnd(bakery, started.id);

    expect(ended.phase).toBe('cancelled');
    const builderId = ended.builder?.instanceId ?? '';
    expect(ended.cleanup).toEqual({
      instances: [{ instanceId: builderId, role: 'builder', state: 'shutting-down' }],
    });
    // Still active, so the sweep and its own timer look again; the pipeline is already free.
    expect((await bakery.store.active()).map((s) => s.bake.id)).toContain(started.id);
    await expect(startBake(bakery.as('api'), 'minimal')).resolves.toMatchObject({ phase: 'requested' });

    const confirmed = await runToEnd(bakery, started.id, {
      pauseMs: 200,
      until: ({ bake }) => bake.cleanup?.confirmedAt !== undefined,
    });

    expect(confirmed.cleanup?.instances).toEqual([
      { instanceId: builderId, role: 'builder', state: 'terminated' },
    ]);
    expect(confirmed.phase).toBe('cancelled');
    expect(confirmed.timeline.at(-1)?.phase).toBe('cancelled');
    expect((await bakery.store.active()).map((s) => s.bake.id)).not.toContain(started.id);
  });
});
