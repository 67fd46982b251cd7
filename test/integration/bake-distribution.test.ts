import { DescribeImageAttributeCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { createSandbox } from '../../emulator/sandbox';
import { resolveBaseImage } from '../../lib/bake/base-image';
import { startBake } from '../../lib/bake/service';
import { loadPipelines } from '../../lib/pipeline/catalog';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { accountHeader, awsForTest, controlFor } from '../support/aws';
import { withShareableKeys } from '../support/keys';
import { bakeryForTest, runToEnd } from '../support/bakery';

// The stages after imaging: a test instance from the new image, copies to other regions,
// launch permissions, and the parameter in every region; and base images found by filter.
const [web, minimal] = pipelines as [PipelineInput, PipelineInput];
const distributed: PipelineInput = {
  ...minimal,
  name: 'fleet',
  test: { steps: [{ name: 'boots', run: ['systemctl is-system-running --wait'] }] },
  distribute: { regions: ['eu-west-1'], accounts: ['111122223333'] },
  publish: { parameter: '/ami-bakery/fleet/latest' },
};

function inRegion<T extends EC2Client | SSMClient>(client: T, accountId: string): T {
  client.middlewareStack.use(accountHeader(accountId));
  return client;
}

describe('a bake with a test stage, a copy and a share', () => {
  it('tests the image on a fresh instance, copies it, shares both, publishes in both regions', async () => {
    const aws = awsForTest(`${import.meta.url}#distribute`);
    const sandbox = await createSandbox(aws, { name: 'distribute', desiredCapacity: 1 });
    const bakery = await bakeryForTest(aws, sandbox, [web, await withShareableKeys(aws, distributed)]);

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'fleet')).id);

    expect(bake.phase).toBe('succeeded');
    expect(bake.timeline.map((t) => t.phase)).toContain('testing');
    expect(bake.steps.map((s) => `${s.stage}/${s.name}`)).toEqual([
      'provision/update',
      'validate/kernel',
      'test/boots',
    ]);
    expect(bake.tester?.instanceId).toMatch(/^i-/);
    const copy = bake.copies[0];
    expect(copy?.region).toBe('eu-west-1');
    const euEc2 = inRegion(new EC2Client({ region: 'eu-west-1' }), aws.accountId);
    const copied = (await euEc2.send(new DescribeImagesCommand({ ImageIds: [copy?.imageId ?? ''] })))
      .Images?.[0];
    expect(copied?.Tags).toEqual(expect.arrayContaining([{ Key: 'ami-bakery:bake-id', Value: bake.id }]));
    for (const [client, imageId] of [
      [aws.ec2, bake.image?.imageId],
      [euEc2, copy?.imageId],
    ] as const) {
      const permissions = await client.send(
        new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
      );
      expect(permissions.LaunchPermissions).toEqual([{ UserId: '111122223333' }]);
    }
    const euSsm = inRegion(new SSMClient({ region: 'eu-west-1' }), aws.accountId);
    const euParameter = await euSsm.send(new GetParameterCommand({ Name: '/ami-bakery/fleet/latest' }));
    expect(euParameter.Parameter?.Value).toBe(copy?.imageId);
    expect(bake.published.map((p) => p.region).sort()).toEqual(['eu-west-1', 'us-east-1']);
  });

  it('marks the image failed and publishes nothing when the test fails', async () => {
    const aws = awsForTest(`${import.meta.url}#test-fails`);
    const sandbox = await createSandbox(aws, { name: 'testfail', desiredCapacity: 1 });
    const bakery = await bakeryForTest(aws, sandbox, [web, distributed]);
    await controlFor(aws).configure({
      ssmRules: [{ commandPattern: 'is-system-running', status: 'Failed', stdout: 'degraded' }],
    });

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'fleet')).id);

    expect(bake.failure).toMatchObject({ phase: 'testing', step: 'test/boots', output: 'degraded' });
    const image = (await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [bake.image?.imageId ?? ''] })))
      .Images?.[0];
    expect(image?.Tags).toEqual(expect.arrayContaining([{ Key: 'ami-bakery:status', Value: 'failed' }]));
    expect(bake.copies).toEqual([]);
    expect(bake.published).toEqual([]);
  });
});

describe('base image by filter', () => {
  it('picks the newest available image of the owners matching the name', async () => {
    const aws = awsForTest(`${import.meta.url}#filter`);
    const [pipeline] = loadPipelines(
      [
        {
          ...minimal,
          baseImage: { filter: { owners: ['amazon'], name: 'al2023-ami-2023*', architecture: 'x86_64' } },
        },
      ],
      { builderProfile: 'ami-bakery-builder' },
    );
    if (!pipeline) throw new Error('no pipeline');
    const candidates = await aws.ec2.send(
      new DescribeImagesCommand({
        Owners: ['amazon'],
        Filters: [
          { Name: 'name', Values: ['al2023-ami-2023*'] },
          { Name: 'architecture', Values: ['x86_64'] },
        ],
      }),
    );
    const newest = [...(candidates.Images ?? [])].sort((a, b) =>
      (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''),
    )[0];

    const base = await resolveBaseImage(pipeline, aws);

    expect(candidates.Images?.length).toBeGreaterThan(0);
    expect(base.imageId).toBe(newest?.ImageId);
  });
});
