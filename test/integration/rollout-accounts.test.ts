import { CreateOrUpdateTagsCommand, DescribeInstanceRefreshesCommand } from '@aws-sdk/client-auto-scaling';
import {
  CreateTagsCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { ListGrantsCommand } from '@aws-sdk/client-kms';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { DeleteRolePolicyCommand } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { createSandbox, describeGroup } from '../../emulator/sandbox';
import { startBake } from '../../lib/bake/service';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { awsForTest, controlFor } from '../support/aws';
import { bakeryForTest, runToEnd } from '../support/bakery';
import { shareableKey } from '../support/keys';
import { deployTargetRole } from '../support/target-account';

// A rollout into another account: the tooling account bakes, a workload account runs the group.
// The service reaches the group only through resources/target-account-role.yml (deployed here as
// CloudFormation would), with the pipeline's ExternalId; the image is shared under a customer
// managed key, and the workload account's Auto Scaling gets a grant on it before anything rolls.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];
const EXTERNAL_ID = 'bakery-ext-7f3a';
const autoScalingRole = (account: string) =>
  `arn:aws:iam::${account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`;

async function setUp(key: string) {
  const tooling = awsForTest(`${import.meta.url}#${key}-tooling`);
  const workload = awsForTest(`${import.meta.url}#${key}-workload`);
  const sandbox = await createSandbox(tooling, { name: key });
  const fleet = await createSandbox(workload, {
    name: `${key}-w`,
    desiredCapacity: 1,
    groupName: `${key}-web`,
  });
  // The workload's template and group opt in to the bakery (the role may touch nothing else).
  await workload.ec2.send(
    new CreateTagsCommand({
      Resources: [fleet.launchTemplateId],
      Tags: [{ Key: 'ami-bakery:target', Value: 'true' }],
    }),
  );
  await workload.autoScaling.send(
    new CreateOrUpdateTagsCommand({
      Tags: [
        {
          ResourceId: `${key}-web`,
          ResourceType: 'auto-scaling-group',
          Key: 'ami-bakery:target',
          Value: 'true',
          PropagateAtLaunch: false,
        },
      ],
    }),
  );
  await deployTargetRole(workload, { BakeryAccountId: tooling.accountId, ExternalId: EXTERNAL_ID });
  const pipeline = (kmsKeyId: string | undefined, externalId = EXTERNAL_ID): PipelineInput => ({
    ...minimal,
    name: 'estate',
    publish: { parameter: '/ami-bakery/estate/latest' },
    builder: {
      ...minimal.builder,
      rootVolume: { sizeGiB: 16, type: 'gp3', ...(kmsKeyId ? { kmsKeyId } : {}) },
    },
    distribute: { accounts: [workload.accountId] },
    rollout: {
      targets: [{ autoScalingGroup: `${key}-web`, account: workload.accountId }],
      targetRole: { externalId },
      refresh: { minHealthyPercentage: 0, instanceWarmupSeconds: 0 },
    },
  });
  return { tooling, workload, sandbox, fleet, pipeline };
}

describe('a rollout into another account', () => {
  it('shares the image and its snapshot, grants the account’s Auto Scaling the key, versions and refreshes its group', async () => {
    const { tooling, workload, sandbox, fleet, pipeline } = await setUp('estate');
    const key = await shareableKey(tooling, 'us-east-1', [workload.accountId]);
    const bakery = await bakeryForTest(tooling, sandbox, [pipeline(key)]);
    await controlFor(tooling).configure({ timeScale: 0.002 });
    await controlFor(workload).configure({ timeScale: 0.002 });

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'estate')).id, {
      timeoutMs: 30_000,
    });
    const imageId = bake.image?.imageId ?? '';
    const image = (await tooling.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
    const snapshotId = image?.BlockDeviceMappings?.find((m) => m.Ebs?.SnapshotId)?.Ebs?.SnapshotId ?? '';
    const launchable = await tooling.ec2.send(
      new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }),
    );
    const volumes = await tooling.ec2.send(
      new DescribeSnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission' }),
    );
    const grants = await tooling.kms.send(new ListGrantsCommand({ KeyId: key }));
    const version = await workload.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: fleet.launchTemplateId,
        Versions: ['2'],
      }),
    );
    const refreshes = await workload.autoScaling.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'estate-web' }),
    );
    const group = await describeGroup(workload, 'estate-web');

    expect(bake.failure).toBeUndefined();
    expect(bake.phase).toBe('succeeded');
    expect(bake.rollout).toEqual([
      expect.objectContaining({
        group: 'estate-web',
        account: workload.accountId,
        status: 'succeeded',
        version: 2,
      }),
    ]);
    expect(launchable.LaunchPermissions).toEqual([{ UserId: workload.accountId }]);
    expect(volumes.CreateVolumePermissions).toEqual([{ UserId: workload.accountId }]);
    expect(grants.Grants?.map((g) => [g.GranteePrincipal, g.Name])).toEqual([
      [autoScalingRole(workload.accountId), 'ami-bakery-autoscaling'],
    ]);
    expect(version.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId).toBe(imageId);
    expect(refreshes.InstanceRefreshes?.map((r) => r.Status)).toEqual(['Successful']);
    expect(group.Instances?.map((i) => i.LaunchTemplate?.Version)).toEqual(['2']);
  });

  it('fails before sharing anything when the image is under the AWS managed key, naming the account', async () => {
    const { tooling, sandbox, workload, pipeline } = await setUp('managed');
    const bakery = await bakeryForTest(tooling, sandbox, [pipeline(undefined)]);

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'estate')).id, {
      timeoutMs: 30_000,
    });
    const launchable = await tooling.ec2.send(
      new DescribeImageAttributeCommand({
        ImageId: bake.image?.imageId ?? '',
        Attribute: 'launchPermission',
      }),
    );

    expect(bake.phase).toBe('failed');
    // Failed in the pass that shared (and would have published), before any rollout.
    expect(bake.failure?.code).toBe('ManagedKeyNotShareable');
    expect(bake.timeline.map((t) => t.phase)).not.toContain('refreshing');
    expect(
      await tooling.ssm.send(new GetParameterCommand({ Name: '/ami-bakery/estate/latest' })).then(
        () => 'published',
        (e: unknown) => (e as Error).name,
      ),
    ).toBe('ParameterNotFound');
    expect(bake.failure?.message).toContain(`which cannot be shared with ${workload.accountId}`);
    expect(bake.rollout?.map((t) => [t.status, t.version])).toEqual([['cancelled', undefined]]);
    expect(launchable.LaunchPermissions).toEqual([]);
  });

  it('fails before the rollout when the key policy leaves the account out, naming it and the permission', async () => {
    const { tooling, sandbox, workload, pipeline } = await setUp('keyless');
    const key = await shareableKey(tooling, 'us-east-1', []);
    const bakery = await bakeryForTest(tooling, sandbox, [pipeline(key)]);

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'estate')).id, {
      timeoutMs: 30_000,
    });

    expect(bake.phase).toBe('failed');
    expect(bake.failure?.code).toBe('KeyNotUsableByAccount');
    expect(bake.rollout?.map((t) => [t.status, t.version])).toEqual([['cancelled', undefined]]);
    expect(bake.failure?.message).toContain(
      `account ${workload.accountId} cannot let its Auto Scaling use ${key} in us-east-1 (AccessDeniedException`,
    );
    expect(bake.failure?.message).toContain(
      `the key policy must allow ${workload.accountId} kms:DescribeKey, kms:CreateGrant`,
    );
  });

  it('fails before the rollout when the target role does not trust the ExternalId, with STS’s refusal', async () => {
    const { tooling, sandbox, workload, pipeline } = await setUp('untrusted');
    const key = await shareableKey(tooling, 'us-east-1', [workload.accountId]);
    const bakery = await bakeryForTest(tooling, sandbox, [pipeline(key, 'not-the-one')]);

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'estate')).id, {
      timeoutMs: 30_000,
    });

    expect(bake.phase).toBe('failed');
    expect(bake.failure?.code).toBe('KeyNotUsableByAccount');
    expect(bake.failure?.message).toMatch(
      /AccessDenied: User: .* is not authorized to perform: sts:AssumeRole/,
    );
  });
  it('fails the group, with the refusal, when its account stops answering mid-refresh', async () => {
    const { tooling, sandbox, workload, pipeline } = await setUp('revoked');
    const key = await shareableKey(tooling, 'us-east-1', [workload.accountId]);
    const bakery = await bakeryForTest(tooling, sandbox, [pipeline(key)]);
    await controlFor(tooling).configure({ timeScale: 0.002 });
    await controlFor(workload).configure({ timeScale: 0.5 }); // the refresh outlasts a few passes
    const { id } = await startBake(bakery.as('api'), 'estate');
    await runToEnd(bakery, id, {
      timeoutMs: 30_000,
      until: ({ bake }) => bake.rollout?.[0]?.status === 'refreshing',
    });

    // The workload account withdraws the role's permissions: its sessions lose them at once.
    await workload.iam.send(
      new DeleteRolePolicyCommand({ RoleName: 'ami-bakery-target', PolicyName: 'roll-out' }),
    );
    const bake = await runToEnd(bakery, id, { timeoutMs: 30_000 });

    expect(bake.phase).toBe('failed');
    expect(bake.rollout?.[0]).toMatchObject({ group: 'revoked-web', status: 'failed' });
    expect(bake.rollout?.[0]?.reason).toMatch(
      new RegExp(
        `^Account ${workload.accountId} unreachable for revoked-web: AccessDenied: .*not authorized to perform: autoscaling:Describe`,
      ),
    );
  });
});
