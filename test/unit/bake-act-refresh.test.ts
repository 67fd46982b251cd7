import { KMSClient } from '@aws-sdk/client-kms';
import { AutoScalingClient, StartInstanceRefreshCommand } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { act } from '../../lib/bake/act';
import { loadPipelines } from '../../lib/pipeline/catalog';
import type { Pipeline, PipelineInput } from '../../lib/pipeline/schema';
import { bakeRecord } from '../support/records';

// What StartInstanceRefresh is sent: a wave's alarms and bake time join the pipeline's; a rollback
// refresh goes back without checkpoints, bake time or alarms; a target in another region is
// refreshed there.
const autoScaling = mockClient(AutoScalingClient);
const [, minimal] = pipelines as [PipelineInput, PipelineInput];
const [pipeline] = loadPipelines(
  [
    {
      ...minimal,
      rollout: {
        targets: [{ autoScalingGroup: 'web' }],
        refresh: { alarms: ['p99'], checkpointPercentages: [50, 100], bakeTimeSeconds: 60 },
      },
    },
  ],
  { builderProfile: 'p' },
) as [Pipeline];
const regions: string[] = [];
const clients = {
  autoScalingIn: (region: string) => (regions.push(region), new AutoScalingClient({ region })),
  ec2In: (region: string) => new EC2Client({ region }),
  ssmIn: (region: string) => new SSMClient({ region }),
  kmsIn: (region: string) => new KMSClient({ region }),
};
const start = {
  kind: 'start-refresh' as const,
  group: 'web',
  templateId: 'lt-1',
  version: 4,
  autoRollback: true,
};

beforeEach(() => {
  autoScaling.reset();
  regions.length = 0;
  autoScaling.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'r-1' });
});

const sent = () => autoScaling.commandCalls(StartInstanceRefreshCommand)[0]?.args[0].input;

describe('act: start-refresh', () => {
  it('adds the wave’s alarms (once each) and bake time to the pipeline’s preferences', async () => {
    const results = await act(clients, bakeRecord(), pipeline, [
      { ...start, alarms: ['p99', 'errors'], bakeTimeSeconds: 600 },
    ]);

    expect(results).toEqual([{ kind: 'refresh-started', group: 'web', refreshId: 'r-1' }]);
    expect(sent()?.DesiredConfiguration).toEqual({
      LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '4' },
    });
    expect(sent()?.Preferences).toMatchObject({
      AutoRollback: true,
      CheckpointPercentages: [50, 100],
      BakeTime: 600,
      AlarmSpecification: { Alarms: ['p99', 'errors'] },
    });
    expect(regions).toEqual(['us-east-1']);
  });

  it('keeps the pipeline’s bake time and alarms for a wave without its own', async () => {
    await act(clients, bakeRecord(), pipeline, [start]);

    expect(sent()?.Preferences).toMatchObject({ BakeTime: 60, AlarmSpecification: { Alarms: ['p99'] } });
  });

  it('sends a rollback back without checkpoints, bake time or alarms, and says it is one', async () => {
    const results = await act(clients, bakeRecord(), pipeline, [
      { ...start, version: 3, autoRollback: false, rollback: true, alarms: ['errors'], bakeTimeSeconds: 600 },
    ]);

    expect(results).toEqual([{ kind: 'refresh-started', group: 'web', refreshId: 'r-1', rollback: true }]);
    const preferences = sent()?.Preferences ?? {};
    expect(preferences).toMatchObject({ AutoRollback: false });
    expect(preferences.CheckpointPercentages).toBeUndefined();
    expect(preferences.BakeTime).toBeUndefined();
    expect(preferences.AlarmSpecification).toBeUndefined();
  });

  it('refreshes a target in another region there', async () => {
    await act(clients, bakeRecord(), pipeline, [{ ...start, region: 'eu-west-1' }]);

    expect(regions).toEqual(['eu-west-1']);
  });
});
