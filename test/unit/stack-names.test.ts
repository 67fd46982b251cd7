import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// build/check-names.cjs: the serverless plugin that refuses names AWS would refuse at deploy.
const { problemsWith } = createRequire(import.meta.url)('../../build/check-names.cjs') as {
  problemsWith: (names: [string, string][]) => string[];
};

describe('the stack name check', () => {
  it('accepts names within AWS limits', () => {
    expect(
      problemsWith([
        ['function', 'ami-bakery-prod-reconcile'],
        ['rule', 'ami-bakery-prod-reconcile-rule-3'],
        ['queue', 'ami-bakery-prod-timers-dlq'],
        ['topic', 'ami-bakery-prod-lifecycle'],
        ['stack', 'ami-bakery-prod'],
      ]),
    ).toEqual([]);
  });

  it.each([
    ['function', 'f'.repeat(65), /function name "f+" is 65 characters; AWS allows 64/],
    ['rule', 'r'.repeat(65), /rule name .* AWS allows 64/],
    ['queue', 'q'.repeat(81), /queue name .* AWS allows 80/],
    ['function', 'has.dot', /function name "has.dot" has characters AWS refuses/],
    ['stack', '1-starts-with-a-digit', /stack name .* has characters AWS refuses/],
  ])('refuses a %s named %s', (kind, name, message) => {
    const [problem] = problemsWith([[kind, name]]);
    expect(problem).toMatch(message);
  });
});
