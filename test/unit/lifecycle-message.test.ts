import { describe, expect, it } from 'vitest';
import launchEvent from '../../events/sns-lifecycle-launch.json';
import { NotAnSnsEventError, parseLifecycleMessage, parseSnsEvent } from '../../lib/lifecycle/message';

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

describe('lifecycle messages: every field checked', () => {
  const launch = JSON.parse(launchEvent.Records[0]?.Sns.Message ?? '{}') as Record<string, unknown>;

  it('reads a terminating action', () => {
    const text = JSON.stringify({ ...launch, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' });

    expect(parseLifecycleMessage('m', text)).toEqual({
      kind: 'action',
      messageId: 'm',
      action: {
        transition: 'terminating',
        hook: 'ready',
        token: '71514b9d-6a40-4b26-8523-05e7ee35fa40',
        group: 'web-fleet',
        instanceId: 'i-0a1b2c3d4e5f67890',
      },
    });
  });

  it.each<[string, Record<string, unknown> | string, string]>([
    ['not JSON', '{', 'not JSON'],
    [
      'an instance id with something before it',
      { ...launch, EC2InstanceId: 'xi-0a1b2c3d' },
      'EC2InstanceId: ',
    ],
    [
      'an instance id with something after it',
      { ...launch, EC2InstanceId: 'i-0a1b2c3dx' },
      'EC2InstanceId: ',
    ],
    [
      'an unknown transition',
      { ...launch, LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR' },
      'LifecycleTransition: ',
    ],
    ['an empty transition', { ...launch, LifecycleTransition: '' }, 'LifecycleTransition: '],
    ['no hook name', { ...launch, LifecycleHookName: undefined }, 'LifecycleHookName: '],
  ])('says what is wrong with %s', (_, body, problem) => {
    const parsed = parseLifecycleMessage('m', typeof body === 'string' ? body : JSON.stringify(body));

    expect(parsed.kind).toBe('garbled');
    const said = (parsed as { problem: string }).problem;
    expect(problem === 'not JSON' ? said : said.slice(0, problem.length)).toBe(problem);
    expect(said.length).toBeGreaterThan(problem === 'not JSON' ? 0 : problem.length);
  });

  it('names every field that is wrong', () => {
    const text = JSON.stringify({ ...launch, LifecycleHookName: '', EC2InstanceId: 'x' });

    const parsed = parseLifecycleMessage('m', text);

    expect(parsed.kind).toBe('garbled');
    expect((parsed as { problem: string }).problem).toMatch(/^LifecycleHookName: .+; EC2InstanceId: .+$/);
  });

  it('reads every record of an SNS event', () => {
    const record = launchEvent.Records[0];
    const second = { ...record, Sns: { ...record?.Sns, MessageId: 'second' } };

    expect(parseSnsEvent({ Records: [record, second] }).map((m) => m.messageId)).toEqual([
      '95df01b4-ee98-5cb9-9903-4c221d41eb5e',
      'second',
    ]);
  });

  it('names its refusal of what is not an SNS event', () => {
    const error = (() => {
      try {
        parseSnsEvent({ Records: [] });
      } catch (e) {
        return e;
      }
      return undefined;
    })();

    expect(error).toBeInstanceOf(NotAnSnsEventError);
    expect((error as Error).name).toBe('NotAnSnsEventError');
  });
});
