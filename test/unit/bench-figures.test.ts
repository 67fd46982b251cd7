import { describe, expect, it } from 'vitest';
import { percentile } from '../../bench/figures';

describe('percentile (nearest rank)', () => {
  it.each<[number[], number, number]>([
    [[3, 1, 2], 50, 2],
    [[1, 2, 3, 4], 50, 2],
    [[5, 1, 4, 2, 3], 99, 5],
    [[5, 1, 4, 2, 3], 0, 1],
    [[], 50, 0],
  ])('of %j at p%d is %d', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });
});
