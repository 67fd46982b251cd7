import { describe, expect, it } from 'vitest';
import amiEvent from '../../events/ec2-ami-state-change.json';
import { matchesReconcileRules } from '../../scripts/local/triggers';

// Locally, the emulator posts every region's events to one URL; the stack's EventBridge rules
// exist only in its home region, so only that region's events may reach the reconcile function.
describe('the local EventBridge rules', () => {
  it('take the home region’s events and no other region’s', () => {
    const ami = { source: amiEvent.source, 'detail-type': amiEvent['detail-type'] };
    expect(matchesReconcileRules({ ...ami, region: 'us-east-1' }, 'us-east-1')).toBe(true);
    expect(matchesReconcileRules({ ...ami, region: 'eu-west-1' }, 'us-east-1')).toBe(false);
  });

  it('take only the events the rules name', () => {
    const stopped = {
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      region: 'r',
    };
    expect(matchesReconcileRules({ ...stopped, detail: { state: 'stopped' } }, 'r')).toBe(true);
    expect(matchesReconcileRules({ ...stopped, detail: { state: 'pending' } }, 'r')).toBe(false);
    expect(
      matchesReconcileRules({ source: 'aws.s3', 'detail-type': 'Object Created', region: 'r' }, 'r'),
    ).toBe(false);
  });
});
