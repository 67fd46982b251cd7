import {
  CreateImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsForTest, controlFor, eventually } from '../support/aws';
import { AL2023_PARAMETER } from '../../emulator/sandbox';
import { GetParameterCommand } from '@aws-sdk/client-ssm';

// Timed transitions (emulator extension, part c) and the fidelity rule: while a resource is in
// a transitional state, every API and every filter sees that state.
const aws = awsForTest(import.meta.url);
const control = controlFor(aws);
let baseImageId: string;

async function instance(id: string): Promise<Instance> {
  const described = await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  const found = described.Reservations?.[0]?.Instances?.[0];
  if (!found) throw new Error(`instance ${id} not found`);
  return found;
}

async function idsInState(state: string): Promise<string[]> {
  const described = await aws.ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: [state] }] }),
  );
  return described.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId ?? '') ?? [];
}

async function runOne(): Promise<string> {
  const run = await aws.ec2.send(
    new RunInstancesCommand({ ImageId: baseImageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
  );
  return run.Instances?.[0]?.InstanceId ?? '';
}

beforeAll(async () => {
  const parameter = await aws.ssm.send(new GetParameterCommand({ Name: AL2023_PARAMETER }));
  baseImageId = parameter.Parameter?.Value ?? '';
  await control.configure({
    delays: {
      'ec2.instance.pending': 0.4,
      'ec2.instance.stopping': 0.4,
      'ec2.instance.shutting-down': 0.4,
      'ec2.image.pending': 0.4,
    },
  });
});

describe('timed EC2 transitions', () => {
  it('keeps a new instance pending (in Describe and in filters) until the delay passes', async () => {
    const id = await runOne();

    expect((await instance(id)).State).toEqual({ Code: 0, Name: 'pending' });
    expect(await idsInState('pending')).toContain(id);
    expect(await idsInState('running')).not.toContain(id);

    await eventually(async () => ((await instance(id)).State?.Name === 'running' ? true : undefined), {
      what: 'running',
    });
    expect(await idsInState('running')).toContain(id);
    expect(await idsInState('pending')).not.toContain(id);
  });

  it('goes stopping then stopped, and shutting-down then terminated', async () => {
    const id = await runOne();
    await eventually(async () => ((await instance(id)).State?.Name === 'running' ? true : undefined));

    const stop = await aws.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    expect(stop.StoppingInstances?.[0]?.PreviousState?.Name).toBe('running');
    expect((await instance(id)).State?.Name).toBe('stopping');
    await eventually(async () => ((await instance(id)).State?.Name === 'stopped' ? true : undefined));

    await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect((await instance(id)).State).toEqual({ Code: 32, Name: 'shutting-down' });
    await eventually(async () => ((await instance(id)).State?.Name === 'terminated' ? true : undefined));
  });

  it('keeps a new image pending and out of state=available filters until the delay passes', async () => {
    const id = await runOne();
    await eventually(async () => ((await instance(id)).State?.Name === 'running' ? true : undefined));
    const { ImageId } = await aws.ec2.send(
      new CreateImageCommand({ InstanceId: id, Name: 'transitions-pending', NoReboot: true }),
    );
    const available = async (): Promise<string[]> =>
      (
        await aws.ec2.send(
          new DescribeImagesCommand({
            Owners: ['self'],
            Filters: [{ Name: 'state', Values: ['available'] }],
          }),
        )
      ).Images?.map((image) => image.ImageId ?? '') ?? [];

    const first = await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId ?? ''] }));
    expect(first.Images?.[0]?.State).toBe('pending');
    expect(await available()).not.toContain(ImageId);

    await eventually(async () => ((await available()).includes(ImageId ?? '') ? true : undefined), {
      what: 'image available',
    });
  });

  it('fails an image whose name matches an image rule', async () => {
    await control.configure({
      imageRules: [{ namePattern: '^doomed-', state: 'failed', reason: 'disk full' }],
    });
    const id = await runOne();
    const { ImageId } = await aws.ec2.send(
      new CreateImageCommand({ InstanceId: id, Name: 'doomed-1', NoReboot: true }),
    );

    const image = await eventually(async () => {
      const described = await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId ?? ''] }));
      const found = described.Images?.[0];
      return found?.State === 'failed' ? found : undefined;
    });

    expect(image.StateReason?.Message).toBe('disk full');
    await control.configure({ imageRules: [] });
  });
});

// "Terminated instances remain visible for approximately one hour" (EC2 instance lifecycle): then
// they are no longer listed, and asking for one by id is InvalidInstanceID.NotFound.
describe('a terminated instance, an hour later', () => {
  const later = awsForTest(`${import.meta.url}#forgotten`);

  it('is listed as terminated, then no longer at all', async () => {
    await controlFor(later).configure({ timeScale: 0.0005 }); // an hour: 1.8 s
    const run = await later.ec2.send(
      new RunInstancesCommand({
        ImageId: baseImageId,
        InstanceType: 't3.micro',
        MinCount: 2,
        MaxCount: 2,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'batch', Value: 'forgotten' }] }],
      }),
    );
    const [gone, kept] = (run.Instances ?? []).map((i) => i.InstanceId ?? '');
    const tagged = async () =>
      (
        await later.ec2.send(
          new DescribeInstancesCommand({ Filters: [{ Name: 'tag:batch', Values: ['forgotten'] }] }),
        )
      ).Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
    await later.ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone ?? ''] }));
    await eventually(async () =>
      (await tagged()).find((i) => i.InstanceId === gone)?.State?.Name === 'terminated' ? true : undefined,
    );

    await eventually(async () => ((await tagged()).length === 1 ? true : undefined), {
      timeoutMs: 5_000,
      what: 'the terminated instance forgotten',
    });

    expect((await tagged()).map((i) => i.InstanceId)).toEqual([kept]);
    await expect(
      later.ec2.send(new DescribeInstancesCommand({ InstanceIds: [gone ?? ''] })),
    ).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound' });
    expect(
      (await later.ec2.send(new DescribeInstancesCommand({ InstanceIds: [kept ?? ''] }))).Reservations,
    ).toHaveLength(1);
  });
});
