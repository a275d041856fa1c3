import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDifference } from '@peftjs/core/testing';
import { kron, tuckerRebuild } from './lycoris-math';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** einsum('i j k l, i p, j r -> p r k l') by plain loops. */
function naiveTucker(core: number[][][][], outFactor: number[][], inFactor: number[][]): number[][][][] {
  const [r1, r2, kh, kw] = [core.length, core[0]!.length, core[0]![0]!.length, core[0]![0]![0]!.length];
  const out = outFactor[0]!.length;
  const inDim = inFactor[0]!.length;
  const result = Array.from({ length: out }, () => Array.from({ length: inDim }, () => Array.from({ length: kh }, () => new Array<number>(kw).fill(0))));
  for (let p = 0; p < out; p++)
    for (let r = 0; r < inDim; r++)
      for (let k = 0; k < kh; k++)
        for (let l = 0; l < kw; l++) {
          let sum = 0;
          for (let i = 0; i < r1; i++) for (let j = 0; j < r2; j++) sum += core[i]![j]![k]![l]! * outFactor[i]![p]! * inFactor[j]![r]!;
          result[p]![r]![k]![l] = sum;
        }
  return result;
}

describe('LyCORIS math', () => {
  it('tuckerRebuild equals the einsum LyCORIS uses', async () => {
    const before = tf.memory().numTensors;
    const core = tf.randomNormal([3, 2, 3, 2], 0, 1, 'float32', 1);
    const outFactor = tf.randomNormal([3, 5], 0, 1, 'float32', 2);
    const inFactor = tf.randomNormal([2, 4], 0, 1, 'float32', 3);
    const rebuilt = tuckerRebuild(core, outFactor, inFactor);
    const expected = tf.tensor4d(naiveTucker((await core.array()) as number[][][][], (await outFactor.array()) as number[][], (await inFactor.array()) as number[][]));
    expect(rebuilt.shape).toEqual([5, 4, 3, 2]);
    expect(await maxAbsDifference(rebuilt, expected)).toBeLessThan(1e-5);
    tf.dispose([core, outFactor, inFactor, rebuilt, expected]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('kron equals torch.kron, with w1 padded to the rank of w2', async () => {
    const w1 = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const w2 = tf.tensor2d([
      [0, 1],
      [10, 100],
    ]);
    expect(await kron(w1, w2).array()).toEqual([
      [0, 1, 0, 2],
      [10, 100, 20, 200],
      [0, 3, 0, 4],
      [30, 300, 40, 400],
      [0, 5, 0, 6],
      [50, 500, 60, 600],
    ]);
    const w2d = tf.tensor4d([[[[1, 2]]], [[[3, 4]]]]); // [2, 1, 1, 2]
    const product = kron(tf.tensor2d([[1, -1]]), w2d); // [1·2, 2·1, 1, 2]
    expect(product.shape).toEqual([2, 2, 1, 2]);
    expect(await product.array()).toEqual([
      [[[1, 2]], [[-1, -2]]],
      [[[3, 4]], [[-3, -4]]],
    ]);
  });
});
