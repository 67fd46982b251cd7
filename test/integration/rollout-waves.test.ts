import {
  CreateAutoScalingGroupCommand,
  DescribeInstanceRefreshesCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeLaunchTemplatesCommand, DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { createSandbox, describeGroup, type Sandbox } from '../../emulator/sandbox';
import { approveBake, startBake, type Bakery } from '../../lib/bake/service';
import { pipelineSchema, type PipelineInput } from '../../lib/pipeline/schema';
import { awsForTest, controlFor, type TestAws } from '../support/aws';
import { testAlarm } from '../support/alarms';
import { bakeryForTest, runToEnd } from '../support/bakery';
import { receiveNotifications } from '../support/notifications';

// A rollout in waves against the emulator: a canary group first, then the fleet.
const [, minimal] = pipelines as [PipelineInput, PipelineInput];

function staged(rollout: NonNullable<PipelineInput['rollout']>): PipelineInput {
  return { ...minimal, name: 'staged', publish: { parameter: '/ami-bakery/staged/latest' }, rollout };
}

/** The sandbox's group is the canary; a second group of the same template is the fleet. */
async function setUp(key: string, pipeline: PipelineInput) {
  const aws = awsForTest(`${import.meta.url}#${key}`);
  const sandbox = await createSandbox(aws, { name: key, desiredCapacity: 1, groupName: `${key}-canary` });
  await aws.autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: `${key}-fleet`,
      // An explicit version: Auto Scaling can roll this group back by itself.
      LaunchTemplate: { LaunchTemplateId: sandbox.launchTemplateId, Version: '1' },
      MinSize: 2,
      MaxSize: 4,
      DesiredCapacity: 2,
      VPCZoneIdentifier: sandbox.subnetIds.join(','),
    }),
  );
  const bakery = await bakeryForTest(aws, sandbox, [pipeline]);
  await controlFor(aws).configure({ timeScale: 0.002 });
  return { aws, sandbox, bakery };
}

/** The bakery with its Auto Scaling calls watched: each group whose refreshes a pass reads. */
function readingRefreshes(bakery: Bakery): { bakery: Bakery; groups: string[] } {
  const groups: string[] = [];
  const watch = <T extends object>(client: T): T =>
    new Proxy(client, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property !== 'send' || typeof value !== 'function') return value;
        return (command: unknown, ...rest: unknown[]) => {
          if (command instanceof DescribeInstanceRefreshesCommand)
            groups.push(command.input.AutoScalingGroupName ?? '');
          return (value as (...args: unknown[]) => unknown).call(target, command, ...rest);
        };
      },
    });
  return {
    groups,
    bakery: { ...bakery, autoScalingIn: (region, role) => watch(bakery.autoScalingIn(region, role)) },
  };
}

async function versionsIn(aws: TestAws, group: string): Promise<(string | undefined)[]> {
  return (await describeGroup(aws, group)).Instances?.map((i) => i.LaunchTemplate?.Version).sort() ?? [];
}

async function defaultVersion(aws: TestAws, sandbox: Sandbox): Promise<number | undefined> {
  const found = await aws.ec2.send(
    new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [sandbox.launchTemplateId] }),
  );
  return found.LaunchTemplates?.[0]?.DefaultVersionNumber;
}

describe('a rollout in waves', () => {
  it('refreshes the canary, waits at the fleet’s gate, then refreshes the fleet', async () => {
    const pipeline = staged({
      waves: [
        { name: 'canary', targets: [{ autoScalingGroup: 'waves-canary' }] },
        { name: 'fleet', targets: [{ autoScalingGroup: 'waves-fleet' }], requireApproval: true },
      ],
      refresh: { minHealthyPercentage: 50, instanceWarmupSeconds: 0 },
    });
    const { aws, sandbox, bakery } = await setUp('waves', pipeline);
    const { id } = await startBake(bakery.as('api'), 'staged');
    const watched = readingRefreshes(bakery);

    const gated = await runToEnd(watched.bakery, id, {
      timeoutMs: 30_000,
      until: ({ bake }) => bake.phase === 'awaiting-approval',
    });
    const readBeforeGate = [...new Set(watched.groups)];
    const fleetBefore = await versionsIn(aws, 'waves-fleet');
    await approveBake(bakery.as('api'), id, { by: 'carol', comment: 'canary is healthy' });
    watched.groups.length = 0;
    const bake = await runToEnd(watched.bakery, id, { timeoutMs: 30_000 });

    // A pass reads the refreshes of the wave under way only (one call per group): the fleet's
    // were not read while the canary refreshed (pruning template versions at the end reads both).
    expect(readBeforeGate).toEqual(['waves-canary']);
    expect(watched.groups[0]).toBe('waves-fleet');

    expect(gated.waves?.map((w) => w.status)).toEqual(['succeeded', 'awaiting-approval']);
    expect(gated.rollout?.map((t) => [t.group, t.status])).toEqual([
      ['waves-canary', 'succeeded'],
      ['waves-fleet', 'pending'],
    ]);
    // The fleet was not touched before its gate opened.
    expect(fleetBefore).toEqual(['1', '1']);
    expect(bake.phase).toBe('succeeded');
    expect(bake.waves).toEqual([
      expect.objectContaining({ name: 'canary', status: 'succeeded' }),
      expect.objectContaining({
        name: 'fleet',
        status: 'succeeded',
        approval: expect.objectContaining({ decision: 'approved', by: 'carol' }) as unknown,
      }),
    ]);
    expect(await versionsIn(aws, 'waves-canary')).toEqual(['2']);
    // One template serves both groups: the bake's version of it is made once and used by both.
    expect(await versionsIn(aws, 'waves-fleet')).toEqual(['2', '2']);
    const types = (await receiveNotifications(aws, sandbox.queueUrl, { count: 40, timeoutMs: 1_500 })).map(
      (n) => n.attributes.type,
    );
    expect(types.filter((t) => t?.startsWith('rollout.wave-'))).toEqual([
      'rollout.wave-started',
      'rollout.wave-succeeded',
      'rollout.wave-started',
      'rollout.wave-succeeded',
    ]);
    expect(types.filter((t) => t === 'rollout.awaiting-approval')).toHaveLength(1);
  });

  it('fails the fleet’s wave when its alarm goes off during the bake time, and rolls the canary back', async () => {
    const pipeline = staged({
      onFailure: 'rollback',
      waves: [
        { name: 'canary', targets: [{ autoScalingGroup: 'alarmed-canary' }] },
        // 60 minutes: about 7 s here, time for the alarm to go off.
        {
          name: 'fleet',
          targets: [{ autoScalingGroup: 'alarmed-fleet' }],
          bakeMinutes: 60,
          alarms: ['fleet-5xx'],
        },
      ],
      refresh: { minHealthyPercentage: 50, instanceWarmupSeconds: 0 },
    });
    const { aws, sandbox, bakery } = await setUp('alarmed', pipeline);
    const alarm = await testAlarm(aws.accountId, 'fleet-5xx', await aws.ec2.config.region());
    const { id } = await startBake(bakery.as('api'), 'staged');

    const baking = await runToEnd(bakery, id, {
      timeoutMs: 30_000,
      until: ({ bake }) => bake.waves?.[1]?.status === 'baking',
    });
    await alarm.goOff();
    const bake = await runToEnd(bakery, id, { timeoutMs: 30_000 });

    expect(baking.rollout?.[1]).toMatchObject({ status: 'refreshing', baking: true });
    const fleetRefresh = (
      await aws.autoScaling.send(
        new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'alarmed-fleet' }),
      )
    ).InstanceRefreshes?.[0];
    expect(fleetRefresh?.Preferences).toMatchObject({
      BakeTime: 3600,
      AlarmSpecification: { Alarms: ['fleet-5xx'] },
    });
    expect(bake.phase).toBe('failed');
    expect(bake.failure).toMatchObject({
      code: 'RolloutFailed',
      message: 'wave fleet: alarmed-fleet: rolled-back (The alarm fleet-5xx is in ALARM state.)',
    });
    expect(bake.waves?.map((w) => w.status)).toEqual(['rolled-back', 'failed']);
    expect(bake.rollout?.map((t) => [t.group, t.status])).toEqual([
      ['alarmed-canary', 'rolled-back'],
      ['alarmed-fleet', 'rolled-back'],
    ]);
    // Both groups back on the template's first version, and its default put back.
    expect(await versionsIn(aws, 'alarmed-canary')).toEqual(['1']);
    expect(await versionsIn(aws, 'alarmed-fleet')).toEqual(['1', '1']);
    expect(await defaultVersion(aws, sandbox)).toBe(1);
    const types = (await receiveNotifications(aws, sandbox.queueUrl, { count: 40, timeoutMs: 1_500 })).map(
      (n) => n.attributes.type,
    );
    expect(types).toEqual(
      expect.arrayContaining(['rollout.wave-baking', 'rollout.wave-failed', 'rollout.rolled-back']),
    );
  });
});

describe('a rollout to a group in another region', () => {
  it('versions the group’s template there with the pipeline’s copy, and refreshes it there', async () => {
    const key = 'regions';
    const aws = awsForTest(`${import.meta.url}#${key}`);
    const west = awsForTest(`${import.meta.url}#${key}`, { AWS_REGION: 'eu-west-1' });
    const home = await createSandbox(aws, { name: key, desiredCapacity: 1, groupName: 'home-app' });
    const away = await createSandbox(west, {
      name: `${key}-west`,
      desiredCapacity: 1,
      groupName: 'west-app',
    });
    const pipeline: PipelineInput = {
      ...staged({
        waves: [
          { name: 'home', targets: [{ autoScalingGroup: 'home-app' }] },
          { name: 'west', targets: [{ autoScalingGroup: 'west-app', region: 'eu-west-1' }] },
        ],
        refresh: { minHealthyPercentage: 0, instanceWarmupSeconds: 0 },
      }),
      distribute: { regions: ['eu-west-1'] },
    };
    const bakery = await bakeryForTest(aws, home, [pipeline]);
    await controlFor(aws).configure({ timeScale: 0.002 });

    const bake = await runToEnd(bakery, (await startBake(bakery.as('api'), 'staged')).id, {
      timeoutMs: 40_000,
    });

    expect(bake.phase).toBe('succeeded');
    const copy = bake.copies.find((c) => c.region === 'eu-west-1')?.imageId;
    expect(copy).toMatch(/^ami-/);
    expect(bake.rollout?.map((t) => [t.group, t.region, t.status])).toEqual([
      ['home-app', undefined, 'succeeded'],
      ['west-app', 'eu-west-1', 'succeeded'],
    ]);
    expect(bake.rollout?.[1]?.templateId).toBe(away.launchTemplateId);
    expect(await versionsIn(west, 'west-app')).toEqual(['2']);
    const versions = await west.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: away.launchTemplateId, Versions: ['2'] }),
    );
    expect(versions.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId).toBe(copy);
  });

  it('refuses a target in a region the pipeline does not distribute to', () => {
    const parsed = pipelineSchema.safeParse(
      staged({ targets: [{ autoScalingGroup: 'west-app', region: 'eu-west-1' }] }),
    );

    expect(parsed.error?.issues.map((i) => i.message)).toEqual([
      "west-app is in eu-west-1, where the pipeline does not distribute the image: add the region to distribute.regions (or omit region for the stack's own)",
    ]);
  });
});
