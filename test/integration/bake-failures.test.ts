import { DescribeImagesCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import type { BakeRecord } from '../../lib/bake/model';
import { reconcile, startBake } from '../../lib/bake/service';
import { PipelineCatalog } from '../../lib/pipeline/catalog';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { awsForTest, controlFor, eventually, type TestAws } from '../support/aws';
import { bakeryForTest, runToEnd } from '../support/bakery';
import { receiveNotifications } from '../support/notifications';
import { createSandbox } from '../../emulator/sandbox';

// A bake that cannot succeed ends failed, says why, and leaves nothing running.

async function aliveInstances(aws: TestAws, bake: BakeRecord): Promise<string[]> {
  const described = await aws.ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'tag:ami-bakery:bake-id', Values: [bake.id] }] }),
  );
  return (described.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .filter((i) => !['shutting-down', 'terminated'].includes(i.State?.Name ?? ''))
    .map((i) => i.InstanceId ?? '');
}

async function setUp(key: string, configured: PipelineInput[] = pipelines, clock?: () => Date) {
  const aws = awsForTest(`${import.meta.url}#${key}`);
  const sandbox = await createSandbox(aws, { name: key, desiredCapacity: 1, groupName: 'web-fleet' });
  const bakery = await bakeryForTest(aws, sandbox, configured, clock);
  return { aws, sandbox, bakery, control: controlFor(aws) };
}

describe('a failing provisioning step', () => {
  it('fails the bake with the step output, terminates the builder and notifies', async () => {
    const { aws, sandbox, bakery, control } = await setUp('provision');
    await control.configure({
      ssmRules: [
        {
          commandPattern: 'dnf upgrade',
          status: 'Failed',
          exitCode: 1,
          stdout: 'Updating...',
          stderr: 'Error: no space left on device',
        },
      ],
    });

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'minimal')).id);

    expect(bake.phase).toBe('failed');
    expect(bake.failure).toMatchObject({
      phase: 'provisioning',
      code: 'StepFailed',
      step: 'provision/update',
      output: 'Updating...\nError: no space left on device',
    });
    expect(bake.steps).toEqual([expect.objectContaining({ name: 'update', status: 'Failed', exitCode: 1 })]);
    expect(await aliveInstances(aws, bake)).toEqual([]);
    const notifications = await receiveNotifications(aws, sandbox.queueUrl, { count: 4 });
    const failed = notifications.find((n) => n.attributes.type === 'bake.failed');
    expect(failed).toMatchObject({
      attributes: { severity: 'error', pipeline: 'minimal' },
      message: { detail: { failure: { output: 'Updating...\nError: no space left on device' } } },
    });
    // The pipeline is free again.
    await expect(startBake(bakery.as('api'), 'minimal')).resolves.toMatchObject({ phase: 'requested' });
  });
});

describe('a failing validation step', () => {
  it('fails the bake before any image is made', async () => {
    const { aws, bakery, control } = await setUp('validate');
    await control.configure({ ssmRules: [{ commandPattern: 'uname', status: 'TimedOut' }] });

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'minimal')).id);

    expect(bake.failure).toMatchObject({
      phase: 'validating',
      code: 'StepTimedOut',
      step: 'validate/kernel',
    });
    expect(bake.image).toBeUndefined();
    expect(await aliveInstances(aws, bake)).toEqual([]);
  });
});

describe('an image that stays pending past its deadline', () => {
  it('fails the bake, marks the image failed and terminates the builder', async () => {
    let skew = 0;
    const clock = () => new Date(Date.now() + skew);
    const quick = pipelines.map((p) => (p.name === 'minimal' ? { ...p, deadlines: { imaging: 60 } } : p));
    const { aws, bakery, control } = await setUp('deadline', quick, clock);
    await control.configure({ delays: { 'ec2.image.pending': 3600 } });
    const started = await startBake(bakery.as('api'), 'minimal');
    await eventually(async () => {
      await reconcile(bakery, [started.id]);
      const { bake } = await bakery.store.get(started.id);
      return bake.phase === 'imaging' ? bake : undefined;
    });

    skew = 61_000; // a minute later, the image is still pending
    const bake = await runToEnd(bakery, started.id);

    expect(bake.failure).toMatchObject({ phase: 'imaging', code: 'DeadlineExceeded' });
    const image = (await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [bake.image?.imageId ?? ''] })))
      .Images?.[0];
    expect(image?.Tags).toEqual(expect.arrayContaining([{ Key: 'ami-bakery:status', Value: 'failed' }]));
    expect(await aliveInstances(aws, bake)).toEqual([]);
  });
});

describe('no capacity for the first instance type', () => {
  it('launches the builder with the next type of the pipeline', async () => {
    const { bakery, control } = await setUp('capacity');
    await control.configure({ timeScale: 0.001 }); // the web fleet's refresh warm-up, shortened
    // EC2 answers 500 InsufficientInstanceCapacity; the SDK retries it (5 attempts), then gives up.
    await control.setFaults([
      {
        kind: 'error',
        service: 'ec2',
        action: 'RunInstances',
        status: 500,
        code: 'InsufficientInstanceCapacity',
        message: 'We currently do not have sufficient t3.small capacity.',
        count: 5,
      },
    ]);

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'web')).id, { timeoutMs: 30_000 });

    expect(bake.phase).toBe('succeeded');
    expect(bake.builder).toMatchObject({ attempt: 1, instanceType: 't3a.small' });
  });
});

describe('a pipeline removed from the configuration while its bake runs', () => {
  it('fails the bake with UnknownPipeline, still terminates its builder and watches it end', async () => {
    const { aws, bakery } = await setUp('removed');
    const started = await startBake(bakery.as('api'), 'minimal');
    await runToEnd(bakery, started.id, { until: ({ bake }) => bake.phase === 'provisioning' });
    // The next deployment no longer has the pipeline: the reconciler knows only the others.
    const redeployed = {
      ...bakery,
      catalog: new PipelineCatalog(bakery.catalog.all.filter((p) => p.name !== 'minimal')),
    };

    const bake = await runToEnd(redeployed, started.id, {
      until: ({ bake }) => bake.cleanup?.confirmedAt !== undefined,
    });

    expect(bake.phase).toBe('failed');
    expect(bake.failure).toMatchObject({ phase: 'provisioning', code: 'UnknownPipeline' });
    expect(await aliveInstances(aws, bake)).toEqual([]);
    expect(bake.cleanup?.instances).toEqual([
      { instanceId: bake.builder?.instanceId, role: 'builder', state: 'terminated' },
    ]);
  });
});
