import { describe, expect, it } from 'vitest';
import { setWarningHandler } from '@peftjs/core';
import { dareLinear, dareTies, magnitudePrune, pruneByMagnitude, pruneRandomly, quantile, taskArithmetic, ties } from './merge-utils';
import { seededRandom } from './svd';

const f = (values: number[]) => Float64Array.from(values);

describe('merge utils (PEFT merge_utils)', () => {
  it('task arithmetic is the weighted sum', () => {
    expect([...taskArithmetic([f([1, 2]), f([3, -4])], [0.5, 2])]).toEqual([6.5, -7]);
  });

  it('magnitude pruning keeps int(density·n) largest entries', () => {
    expect([...pruneByMagnitude(f([0.1, -5, 3, -0.2, 4]), 0.6)]).toEqual([0, -5, 3, 0, 4]);
    expect([...pruneByMagnitude(f([1, 2, 3]), 0.5)]).toEqual([0, 0, 3]);
    expect([...magnitudePrune([f([1, -3]), f([2, 1])], [1, 10], 0.5)]).toEqual([20, -3]);
  });

  it('TIES: prune, elect signs (total or frequency), disjoint mean', () => {
    const tasks = [f([1, -2, 3, 0.1]), f([-3, -1, 2, 0.2]), f([1, 4, -1, -0.3])];
    // density 1: no pruning (with the PEFT warning).
    const warnings: string[] = [];
    const previous = setWarningHandler((message) => warnings.push(message));
    const total = ties(tasks, [1, 1, 1], 1, 'total');
    setWarningHandler(previous);
    expect(warnings[0]).toMatch(/no pruning/);
    // entry 0: sum -1 → sign −, only task 1 agrees: -3/1; entry 1: sum 1 → +: 4/1; entry 2: sum 4 → +: (3+2)/2; entry 3: sum 0 → +: (0.1+0.2)/2
    expect([...total].map((value) => Number(value.toFixed(6)))).toEqual([-3, 4, 2.5, 0.15]);
    const frequency = ties(tasks, [1, 1, 1], 1, 'frequency');
    // entry 0: signs +,−,+ → +: (1+1)/2; entry 1: −,−,+ → −: (-2-1)/2
    expect([...frequency].slice(0, 2)).toEqual([1, -1.5]);
  });

  it('DARE: Bernoulli(density) masks, rescaled by 1/density unless asked not to', () => {
    const tensor = Float64Array.from({ length: 20000 }, () => 1);
    const rescaled = pruneRandomly(tensor, 0.25, { rescale: true, random: seededRandom(1) });
    const kept = rescaled.filter((value) => value !== 0);
    expect(kept.every((value) => value === 4)).toBe(true);
    expect(kept.length / tensor.length).toBeGreaterThan(0.23);
    expect(kept.length / tensor.length).toBeLessThan(0.27);
    const mean = rescaled.reduce((sum, value) => sum + value, 0) / tensor.length;
    expect(mean).toBeGreaterThan(0.95);
    expect(mean).toBeLessThan(1.05);
    const plain = pruneRandomly(tensor, 0.25, { rescale: false, random: seededRandom(1) });
    expect(plain.filter((value) => value !== 0).every((value) => value === 1)).toBe(true);
    expect([...dareLinear([f([2, 2])], [3], 0, { rescale: true, random: seededRandom(2) })]).toEqual([0, 0]);
    expect(dareTies([f([1, -1]), f([1, 1])], [1, 1], 0.5, 'total', { rescale: true, random: seededRandom(3) }).length).toBe(2);
  });

  it('quantile interpolates like torch.quantile', () => {
    expect(quantile(f([1, 2, 3, 4]), 0.5)).toBe(2.5);
    expect(quantile(f([4, 1, 3, 2]), 0.25)).toBeCloseTo(1.75, 12);
    expect(quantile(f([5]), 0.9)).toBe(5);
  });
});
