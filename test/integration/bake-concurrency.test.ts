import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { ADMIN_CREDENTIALS } from '../../emulator/harness';
import type { PipelineInput } from '../../lib/pipeline/schema';
import type { BakeRecord } from '../../lib/bake/model';
import { act } from '../../lib/bake/act';
import { decide } from '../../lib/bake/decide';
import { reconcile, startBake } from '../../lib/bake/service';
import { BakeStore } from '../../lib/store/bakes';
import { PipelineBusyError } from '../../lib/errors';
import { accountHeader, awsForTest, controlFor, type TestAws } from '../support/aws';
import { bakeryForTest, CrashingStore, runToEnd } from '../support/bakery';
import { createSandbox } from '../../emulator/sandbox';

// One active bake per pipeline; two reconcilers never both act; a crash loses nothing.

async function setUp(key: string) {
  const aws = awsForTest(`${import.meta.url}#${key}`);
  const sandbox = await createSandbox(aws, { name: key, desiredCapacity: 1 });
  const bakery = await bakeryForTest(aws, sandbox);
  const control = controlFor(aws);
  await control.configure({ delays: { 'ec2.instance.pending': 0.05, 'ec2.image.pending': 0.1 } });
  return { aws, bakery, control };
}

describe('two starts of the same pipeline at once', () => {
  it('create exactly one bake; the other caller learns which', async () => {
    const { bakery } = await setUp('starts');

    const results = await Promise.allSettled([
      startBake(bakery.as('api'), 'minimal'),
      startBake(bakery.as('api'), 'minimal'),
    ]);

    const created = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as PipelineBusyError] : []));
    expect(created).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const error = refused[0];
    expect(error).toBeInstanceOf(PipelineBusyError);
    expect(error?.activeBakeId).toBe(created[0]?.id);
    expect((await bakery.store.active()).map((s) => s.bake.id)).toEqual([error?.activeBakeId]);
  });
});

describe('two reconcilers racing on one record', () => {
  it('launch one builder and create one image', async () => {
    const { bakery, control } = await setUp('race');
    const { id } = await startBake(bakery.as('api'), 'minimal');
    await control.resetCalls();

    for (let pass = 0; pass < 200; pass += 1) {
      await Promise.all([reconcile(bakery, [id]), reconcile(bakery, [id])]);
      const { bake } = await bakery.store.get(id);
      if (bake.phase === 'succeeded') break;
    }

    const { bake } = await bakery.store.get(id);
    const { calls } = await control.calls();
    expect(bake.phase).toBe('succeeded');
    expect(calls.ec2?.CreateImage).toBe(1);
    // RunInstances may be sent twice by the race, but the ClientToken makes it one instance.
    expect(bake.resources.filter((r) => r.kind === 'instance')).toHaveLength(1);
    expect(calls.ssm?.SendCommand).toBe(2);
  });
});

describe('a launch sent again by a pass that knows nothing of the first', () => {
  it('makes one builder: decide gives the same ClientToken and act sends it', async () => {
    const { aws, bakery } = await setUp('token');
    const { id } = await startBake(bakery.as('api'), 'minimal');
    const { bake } = await bakery.store.get(id);
    const pipeline = bakery.catalog.get('minimal');
    // No lease, no record of the first launch and no adoption by tag: only the token can keep it to one.
    const nothingSeen = {
      now: new Date(),
      instances: [],
      agentOnline: new Set<string>(),
      commands: [],
      images: [],
    };

    const launched: string[] = [];
    for (let pass = 0; pass < 2; pass += 1) {
      const decision = decide(bake, pipeline, nothingSeen);
      for (const result of await act(bakery, bake, pipeline, decision.actions)) {
        if (result.kind === 'launched') launched.push(result.instanceId);
      }
    }

    expect(launched).toHaveLength(2);
    expect(new Set(launched).size).toBe(1);
    const described = await aws.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:ami-bakery:bake-id', Values: [id] }] }),
    );
    expect(described.Reservations?.flatMap((r) => r.Instances ?? [])).toHaveLength(1);
  });
});

describe('a pass that crashes between act and commit', () => {
  it('converges on the next pass: no duplicate image, no leaked instance', async () => {
    const { bakery, control } = await setUp('crash');
    // Crash after the launch, after the first command, and after CreateImage.
    const store = new CrashingStore([bakery.documents, bakery.tableName], new Set([1, 3, 6, 7]));
    const crashing = { ...bakery, store };
    const { id } = await startBake(bakery.as('api'), 'minimal');
    await control.resetCalls();

    const bake = await runToEnd(crashing, id);

    const { calls } = await control.calls();
    expect(bake.phase).toBe('succeeded');
    expect(store.commits).toBeGreaterThan(7);
    expect(calls.ec2?.CreateImage).toBe(1);
    expect(bake.resources.filter((r) => r.kind === 'instance')).toHaveLength(1);
    expect(bake.steps.map((s) => s.status)).toEqual(['Success', 'Success']);
    expect(calls.ssm?.SendCommand).toBe(2);
  });
});

/** A store whose commit dies once, on the pass that moved the bake to `phase` (after its actions ran). */
class DiesEnteringPhase extends BakeStore {
  died = false;
  constructor(
    base: ConstructorParameters<typeof BakeStore>,
    private readonly phase: BakeRecord['phase'],
  ) {
    super(...base);
  }
  override async commit(...args: Parameters<BakeStore['commit']>) {
    const [previous, next] = args;
    if (!this.died && previous.phase !== this.phase && next.phase === this.phase) {
      this.died = true;
      throw Object.assign(new Error('Lambda timed out'), { name: 'TimeoutError' });
    }
    return super.commit(...args);
  }
  override release(): Promise<void> {
    return Promise.resolve();
  }
}

describe('a pass that stops the builder and dies before its commit', () => {
  it('goes on from the stopped builder: the finished step is read back, not waited for', async () => {
    const { aws, bakery } = await setUp('stopped');
    // The record still says "validating, step pending" while the builder is already stopped
    // (its agent is offline): the chaos run found bakes waiting there until their deadline.
    const store = new DiesEnteringPhase([aws.documents, bakery.tableName], 'stopping');
    const crashing = { ...bakery, store };
    const { id } = await startBake(bakery.as('api'), 'minimal');

    const bake = await runToEnd(crashing, id);

    expect(store.died).toBe(true);
    expect(bake.phase).toBe('succeeded');
    expect(bake.steps.map((s) => [s.stage, s.status])).toEqual([
      ['provision', 'Success'],
      ['validate', 'Success'],
    ]);
  });
});

describe('passes that die after copying the image and after making the template version', () => {
  it('converge on the next passes: one copy, one new version (same ClientTokens, and the tags)', async () => {
    const aws = awsForTest(`${import.meta.url}#tokens`);
    const sandbox = await createSandbox(aws, { name: 'tokens', desiredCapacity: 1 });
    const [, minimal] = pipelines as [PipelineInput, PipelineInput];
    const bakery = await bakeryForTest(aws, sandbox, [
      {
        ...minimal,
        distribute: { regions: ['eu-west-1'] },
        rollout: { targets: [{ autoScalingGroup: sandbox.autoScalingGroupName }] },
      },
    ]);
    await controlFor(aws).configure({ timeScale: 0.002 });
    const { id } = await startBake(bakery.as('api'), 'minimal');
    const versionsBefore = await templateVersions(aws, sandbox.launchTemplateId);

    const afterCopy = new DiesEnteringPhase([bakery.documents, bakery.tableName], 'distributing');
    await runToEnd({ ...bakery, store: afterCopy }, id, { until: ({ bake }) => bake.phase === 'rolling' });
    const afterVersion = new DiesEnteringPhase([bakery.documents, bakery.tableName], 'refreshing');
    const bake = await runToEnd({ ...bakery, store: afterVersion }, id);

    expect([afterCopy.died, afterVersion.died]).toEqual([true, true]);
    expect(bake.phase).toBe('succeeded');
    const west = new EC2Client({ region: 'eu-west-1', credentials: ADMIN_CREDENTIALS });
    west.middlewareStack.use(accountHeader(aws.accountId));
    const copies = await west.send(
      new DescribeImagesCommand({ Filters: [{ Name: 'tag:ami-bakery:bake-id', Values: [id] }] }),
    );
    expect(copies.Images).toHaveLength(1);
    expect(await templateVersions(aws, sandbox.launchTemplateId)).toBe(versionsBefore + 1);
  });
});

async function templateVersions(aws: TestAws, templateId: string): Promise<number> {
  const versions = await aws.ec2.send(
    new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId }),
  );
  return versions.LaunchTemplateVersions?.length ?? 0;
}
