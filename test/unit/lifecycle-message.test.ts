import { describe, expect, it } from 'vitest';
import launchEvent from '../../events/sns-lifecycle-launch.json';
import { lifecycleFor } from '../../lib/lifecycle/engine';
import { parseLifecycleMessage, parseSnsEvent } from '../../lib/lifecycle/message';
import { loadPipelines, PipelineCatalog } from '../../lib/pipeline/catalog';
import { pipelines } from '../../config/pipelines';

describe('lifecycle messages', () => {
  it('reads the action of a hook notification delivered by SNS', () => {
    expect(parseSnsEvent(launchEvent)).toEqual([
      {
        kind: 'action',
        messageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e',
        action: {
          transition: 'launching',
          hook: 'ready',
          token: '71514b9d-6a40-4b26-8523-05e7ee35fa40',
          group: 'web-fleet',
          instanceId: 'i-0a1b2c3d4e5f67890',
        },
      },
    ]);
  });

  it.each<[string, string, string]>([
    ['the test notification', '{"Event":"autoscaling:TEST_NOTIFICATION","AutoScalingGroupName":"g"}', 'test'],
    ['not JSON', '{"LifecycleTransition":', 'garbled'],
    ['an unknown transition', '{"LifecycleTransition":"autoscaling:EC2_INSTANCE_LAUNCH_ERROR"}', 'garbled'],
    [
      'a bad instance id',
      JSON.stringify({ ...JSON.parse(launchEvent.Records[0]?.Sns.Message ?? '{}'), EC2InstanceId: 'x' }),
      'garbled',
    ],
    ['a JSON string', '"hello"', 'garbled'],
  ])('classifies %s', (_, text, kind) => {
    expect(parseLifecycleMessage('m', text).kind).toBe(kind);
  });

  it('refuses an event that is not from SNS', () => {
    expect(() => parseSnsEvent({ Records: [{ eventSource: 'aws:sqs' }] })).toThrow(/not an SNS notification/);
  });
});

describe('lifecycleFor', () => {
  const catalog = new PipelineCatalog(
    loadPipelines(
      [
        ...pipelines,
        {
          ...pipelines[1],
          name: 'other',
          lifecycle: { drain: { command: ['pipeline-drain'] } },
          rollout: {
            targets: [
              { autoScalingGroup: 'blue', lifecycle: { readiness: { ec2StatusChecks: true } } },
              { autoScalingGroup: 'green' },
            ],
          },
        },
      ],
      { builderProfile: 'ami-bakery-builder' },
    ),
  );

  it.each([
    [
      'a target with its own configuration',
      'blue',
      { pipeline: 'other', config: { readiness: { ec2StatusChecks: true, timeoutSeconds: 600 } } },
    ],
    [
      'a target using its pipeline',
      'green',
      { pipeline: 'other', config: { drain: { command: ['pipeline-drain'], timeoutSeconds: 300 } } },
    ],
    ['a target without any', 'web-fleet', { pipeline: 'web', config: {} }],
    ['a group no pipeline names', 'stranger', undefined],
  ])('finds %s', (_, group, expected) => {
    expect(lifecycleFor(catalog, group)).toEqual(expected);
  });
});
