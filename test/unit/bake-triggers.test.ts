import { describe, expect, it } from 'vitest';
import amiEvent from '../../events/ec2-ami-state-change.json';
import instanceEvent from '../../events/ec2-instance-state-change.json';
import sweepEvent from '../../events/scheduled-sweep.json';
import commandEvent from '../../events/ssm-command-status-change.json';
import timerEvent from '../../events/sqs-timer.json';
import { parseTrigger, UnknownTriggerError } from '../../lib/triggers/parse';

describe('parseTrigger, on the sample events', () => {
  it('reads an instance state change as an event about the instance', () => {
    expect(parseTrigger(instanceEvent)).toEqual({
      kind: 'event',
      detailType: 'EC2 Instance State-change Notification',
      resourceIds: ['i-0123456789abcdef0'],
    });
  });

  it('reads an AMI state change as an event about the image', () => {
    expect(parseTrigger(amiEvent)).toMatchObject({ kind: 'event', resourceIds: ['ami-0123456789abcdef0'] });
  });

  it('reads a command status change as an event about the command and its instance', () => {
    expect(parseTrigger(commandEvent)).toMatchObject({
      kind: 'event',
      resourceIds: ['e8d3c0e4-71f7-4491-898f-c9b35bee5f3b', 'i-0123456789abcdef0'],
    });
  });

  it('reads the schedule as the sweep', () => {
    expect(parseTrigger(sweepEvent)).toEqual({ kind: 'sweep' });
  });

  it('reads timer messages, keeping garbled bodies as messages with no bake', () => {
    const garbled = { Records: [{ ...timerEvent.Records[0], messageId: 'm2', body: 'not json' }] };

    expect(parseTrigger(timerEvent)).toEqual({
      kind: 'timers',
      messages: [
        { messageId: '059f36b4-87a3-44ab-83d2-661975830a7d', bakeId: 'b20261122030500-a1b2c3', version: 4 },
      ],
    });
    expect(parseTrigger(garbled)).toEqual({
      kind: 'timers',
      messages: [{ messageId: 'm2', bakeId: undefined }],
    });
  });

  it.each([null, 'text', {}, { Records: [] }, { detail: 'x' }])('rejects %j', (event) => {
    expect(() => parseTrigger(event)).toThrow(UnknownTriggerError);
  });
});
