import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { ADMIN_CREDENTIALS } from '../../emulator/harness';
import { withoutAction } from '../../emulator/iam/identities';
import { createSandbox } from '../../emulator/sandbox';
import { runNightly } from '../../lib/bake/nightly';
import { startBake } from '../../lib/bake/service';
import { TAG_MANAGED, TAG_PIPELINE, TAG_STATUS } from '../../lib/aws/tags';
import type { PipelineInput } from '../../lib/pipeline/schema';
import { accountHeader, awsForTest, controlFor } from '../support/aws';
import { withShareableKeys } from '../support/keys';
import { bakeryForTest, runToEnd } from '../support/bakery';
import { receiveNotifications } from '../support/notifications';

// The stack's roles, as packaged, against what each function really calls: the emulator refuses
// what AWS would refuse, so a missing grant fails here and not on a first real account.
const [web, minimal] = pipelines as [PipelineInput, PipelineInput];

async function setUp(
  name: string,
  configured: PipelineInput[],
  options: Parameters<typeof bakeryForTest>[3] = {},
) {
  const aws = awsForTest(`${import.meta.url}#${name}`);
  const sandbox = await createSandbox(aws, { name, desiredCapacity: 1, groupName: 'web-fleet' });
  // A pipeline that shares its image is encrypted with keys its accounts may use (aws/ebs cannot be shared).
  const withKeys: PipelineInput[] = [];
  for (const p of configured)
    withKeys.push((p.distribute?.accounts ?? []).length > 0 ? await withShareableKeys(aws, p) : p);
  const bakery = await bakeryForTest(aws, sandbox, withKeys, options);
  const control = controlFor(aws);
  await control.configure({ timeScale: 0.002 });
  return { aws, sandbox, bakery, control };
}

describe('an action refused on the last step (the parameter cannot be published)', () => {
  it('fails the bake as every failure does: timeline ending failed, image marked, bake.failed and no succeeded', async () => {
    const { aws, sandbox, bakery } = await setUp('no-publish', [minimal], {
      edit: (fn, policies) => (fn === 'reconcile' ? withoutAction(policies, 'ssm:PutParameter') : policies),
    });

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'minimal')).id);

    expect(bake.phase).toBe('failed');
    expect(bake.timeline.at(-1)?.phase).toBe('failed');
    expect(bake.timeline.map((t) => t.phase)).not.toContain('succeeded');
    expect(bake.failure).toMatchObject({ phase: 'publishing', code: 'AccessDeniedException' });
    const images = await aws.ec2.send(new DescribeImagesCommand({ ImageIds: [bake.image?.imageId ?? ''] }));
    expect(images.Images?.[0]?.Tags).toContainEqual({ Key: TAG_STATUS, Value: 'failed' });
    const types = (await receiveNotifications(aws, sandbox.queueUrl, { count: 30, timeoutMs: 1_500 })).map(
      (n) => n.attributes.type,
    );
    expect(types.filter((type) => type === 'bake.failed')).toHaveLength(1);
    expect(types.filter((type) => type?.endsWith('.succeeded'))).toEqual([]);
  });
});

describe('a role without a statement its function needs', () => {
  it('fails the bake with UnauthorizedOperation, and still terminates the builder', async () => {
    const { aws, bakery, control } = await setUp('no-create-image', [minimal], {
      edit: (fn, policies) => (fn === 'reconcile' ? withoutAction(policies, 'ec2:CreateImage') : policies),
    });

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'minimal')).id);

    expect(bake.phase).toBe('failed');
    expect(bake.failure).toMatchObject({ phase: 'imaging', code: 'UnauthorizedOperation' });
    expect(bake.failure?.message).toMatch(/not authorized to perform: ec2:CreateImage/);
    expect(await control.denials()).toEqual([
      expect.objectContaining({ label: 'reconcile', action: 'ec2:CreateImage' }),
    ]);
    const builder = bake.builder?.instanceId ?? '';
    const [instance] =
      (await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [builder] }))).Reservations?.[0]
        ?.Instances ?? [];
    expect(instance?.State?.Name).toMatch(/shutting-down|terminated/);
  });
});

describe('the nightly function', () => {
  it('starts a bake and clears its outbox (dynamodb:UpdateItem), with nothing denied', async () => {
    const { bakery, control } = await setUp('nightly', [{ ...minimal, schedule: { nightly: true } }]);

    const [outcome] = await runNightly(bakery.as('nightly'));

    expect(outcome).toMatchObject({ outcome: 'started' });
    const stored = await bakery.store.get(outcome?.outcome === 'started' ? outcome.bakeId : '');
    expect(stored.outbox).toEqual([]);
    expect(await control.denials()).toEqual([]);
  });
});

describe('a bake that copies and shares its image', () => {
  it('tags each copy and its snapshots as it is made, and shares it, with nothing denied', async () => {
    const { aws, bakery, control } = await setUp('copies', [
      { ...minimal, distribute: { regions: ['eu-west-1'], accounts: ['111122223333'] } },
    ]);

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'minimal')).id);

    expect(bake.phase).toBe('succeeded');
    expect(await control.denials()).toEqual([]);
    const copyId = bake.copies[0]?.imageId ?? '';
    const west = new EC2Client({ region: 'eu-west-1', credentials: ADMIN_CREDENTIALS });
    west.middlewareStack.use(accountHeader(aws.accountId));
    const [copy] = (await west.send(new DescribeImagesCommand({ ImageIds: [copyId] }))).Images ?? [];
    expect(copy?.Tags).toEqual(
      expect.arrayContaining([
        { Key: TAG_MANAGED, Value: 'true' },
        { Key: TAG_PIPELINE, Value: 'minimal' },
      ]),
    );
    const snapshots = (
      await west.send(
        new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:ami-bakery:pipeline', Values: ['minimal'] }] }),
      )
    ).Snapshots;
    expect(snapshots?.length).toBeGreaterThan(0);
    const shared = await west.send(
      new DescribeImageAttributeCommand({ ImageId: copyId, Attribute: 'launchPermission' }),
    );
    expect(shared.LaunchPermissions).toEqual([{ UserId: '111122223333' }]);
  });
});

describe('a Spot builder', () => {
  it('is launched (its spot-instances-request authorized and tagged), with nothing denied', async () => {
    const spot: PipelineInput = { ...minimal, builder: { ...minimal.builder, spot: true } };
    const { bakery, control } = await setUp('spot', [spot]);

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'minimal')).id);

    expect(bake.phase).toBe('succeeded');
    expect(await control.denials()).toEqual([]);
  });
});

describe('a rollout', () => {
  it("refreshes the fleet from its template (RunInstances on the template's resources, PassRole for its profile)", async () => {
    const { bakery, control } = await setUp('rollout', [web]);

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'web')).id);

    expect(bake.phase).toBe('succeeded');
    expect(bake.rollout?.map((t) => t.status)).toEqual(['succeeded']);
    expect(await control.denials()).toEqual([]);
    // What Auto Scaling checked on the reconcile function's behalf, and which statements allowed it.
    const grants = (await control.grants()).filter((g) => g.label === 'reconcile');
    expect(grants).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'ec2:RunInstances', statement: 'LaunchFromFleetTemplates' }),
        expect.objectContaining({ action: 'iam:PassRole', statement: 'PassFleetRoles' }),
      ]),
    );
  });
});
