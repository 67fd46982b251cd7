import { describe, expect, it } from 'vitest';
import { nextRun } from '../../lib/bake/schedule';

describe('nextRun: when an EventBridge schedule next fires', () => {
  const now = new Date('2026-11-30T21:08:24.500Z');

  it.each([
    ['cron(0 3 * * ? *)', '2026-12-01T03:00:00.000Z'],
    ['cron(30 22 * * ? *)', '2026-11-30T22:30:00.000Z'],
    ['cron(8 21 * * ? *)', '2026-12-01T21:08:00.000Z'],
    ['cron(9 21 * * ? *)', '2026-11-30T21:09:00.000Z'],
    ['cron(0,30 1,13 ? * * *)', '2026-12-01T01:00:00.000Z'],
    [' cron(15 23 * * * *) ', '2026-11-30T23:15:00.000Z'],
  ])('%s after 21:08:24 -> %s', (expression, expected) => {
    expect(nextRun(expression, now)?.toISOString()).toBe(expected);
  });

  it('crosses a month and a year end', () => {
    expect(nextRun('cron(0 3 * * ? *)', new Date('2026-12-31T04:00:00Z'))?.toISOString()).toBe(
      '2027-01-01T03:00:00.000Z',
    );
  });

  it.each([
    'rate(1 day)',
    'cron(0 3 ? * MON-FRI *)',
    'cron(0/15 * * * ? *)',
    'cron(0 3 1 * ? *)',
    'cron(0 3 * * ? 2027)',
    'cron(0 24 * * ? *)',
    'cron(60 3 * * ? *)',
    'cron(0 3 * * ?)',
    'cron(0 1-3 * * ? *)',
  ])('does not guess for %s', (expression) => {
    expect(nextRun(expression, now)).toBeUndefined();
  });
});
