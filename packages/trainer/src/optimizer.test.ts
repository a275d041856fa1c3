import { describe, expect, it } from 'vitest';
import { TorchOptimizer } from './optimizer';

function values(seed: number, length: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648 - 0.5;
  });
}

/** The documented formulas in float64, from the same float32 start. */
function reference(name: 'adamw' | 'adam' | 'sgd', start: Float32Array, gradients: Float32Array[], lrs: number[], wd: number): number[] {
  const p = Array.from(start);
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  gradients.forEach((gradient, index) => {
    const t = index + 1;
    const lr = lrs[index]!;
    for (let element = 0; element < p.length; element++) {
      let g = gradient[element]!;
      if (name === 'sgd') {
        p[element] = p[element]! - lr * (g + wd * p[element]!);
        continue;
      }
      if (name === 'adamw') p[element] = p[element]! * (1 - lr * wd);
      else g += wd * p[element]!;
      m[element] = 0.9 * m[element]! + 0.1 * g;
      v[element] = 0.999 * v[element]! + 0.001 * g * g;
      p[element] = p[element]! - (lr / (1 - 0.9 ** t)) * (m[element]! / (Math.sqrt(v[element]!) / Math.sqrt(1 - 0.999 ** t) + 1e-8));
    }
  });
  return p;
}

describe('TorchOptimizer', () => {
  it.each(['adamw', 'adam', 'sgd'] as const)('%s follows torch formula within float32 rounding, step count advancing on every step', (name) => {
    const start = values(1, 64);
    const gradients = [values(2, 64), values(3, 64), values(4, 64)];
    const lrs = [0, 1e-2, 5e-3];
    const optimizer = new TorchOptimizer({ name, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    const p = start.slice();
    gradients.forEach((gradient, index) => optimizer.step([{ key: 'w', values: p, gradient, weightDecay: 0.1 }], lrs[index]!));
    const expected = reference(name, start, gradients, lrs, 0.1);
    for (let element = 0; element < p.length; element++) expect(Math.abs(p[element]! - expected[element]!)).toBeLessThan(2e-7);
    expect(optimizer.state.step).toBe(3);
    expect(optimizer.state.moments.has('w')).toBe(name !== 'sgd');
  });

  it('a step at lr 0 leaves AdamW parameters bit for bit but advances the moments', () => {
    const optimizer = new TorchOptimizer({ name: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    const p = values(5, 16);
    const before = p.slice();
    optimizer.step([{ key: 'w', values: p, gradient: values(6, 16), weightDecay: 0.01 }], 0);
    expect(Array.from(p)).toEqual(Array.from(before));
    expect(optimizer.state.moments.get('w')!.expAvg.some((value) => value !== 0)).toBe(true);
  });
});
