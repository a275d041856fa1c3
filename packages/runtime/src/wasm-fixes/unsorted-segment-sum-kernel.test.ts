import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers every gradient

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { runOn, seededTensor, worstError } from '../__fixtures__/parity';
import { initBackend } from '../init-backend';
import { registerWasmFixes, unregisterWasmFixes } from './register-wasm-fixes';
import { WasmFix } from './wasm-fix-names';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const cases: [string, number[], number[], number][] = [
  // [label, x shape, segment ids, numSegments]
  ['1-D data', [6], [0, 2, 0, 1, 2, 2], 3],
  ['2-D data', [5, 4], [1, 0, 1, 3, 1], 4],
  ['3-D data, unused segments', [4, 3, 2], [0, 0, 5, 5], 7],
  ['ids out of range are dropped', [6, 3], [0, -1, 2, 3, 9, 1], 3],
  ['no rows', [0, 3], [], 2],
  ['large embedding gradient', [257, 33], Array.from({ length: 257 }, (_, index) => (index * 7) % 50), 50],
];

describe('UnsortedSegmentSum on wasm', () => {
  for (const [label, shape, ids, numSegments] of cases) {
    it(`matches cpu: ${label}`, async () => {
      const compute = () => tf.unsortedSegmentSum(seededTensor(shape, 1), tf.tensor1d(ids, 'int32'), numSegments);
      const wasm = await runOn('wasm', compute);
      const cpu = await runOn('cpu', compute);
      expect(wasm.shapes).toEqual([[numSegments, ...shape.slice(1)]]);
      expect(wasm.shapes).toEqual(cpu.shapes);
      expect(worstError(wasm.values[0], cpu.values[0])).toBeLessThanOrEqual(1);
      expect(wasm.leakedTensors).toBe(0);
      expect(wasm.leakedBuffers).toBe(0);
    });
  }

  it('takes N-D segment ids as TensorFlow does (the cpu kernel throws on them)', async () => {
    // x [2, 2, 3], ids [2, 2]: out [numSegments, 3] sums the rows of x.reshape([4, 3]) by flattened id.
    const x = [1, 2, 3, 10, 20, 30, 100, 200, 300, 1000, 2000, 3000];
    const wasm = await runOn('wasm', () => tf.unsortedSegmentSum(tf.tensor3d(x, [2, 2, 3]), tf.tensor2d([2, 0, 2, -1], [2, 2], 'int32') as unknown as tf.Tensor1D, 3));
    expect(wasm.shapes).toEqual([[3, 3]]);
    expect(Array.from(wasm.values[0])).toEqual([10, 20, 30, 0, 0, 0, 101, 202, 303]);
  });

  it('sums int32 data exactly', async () => {
    const wasm = await runOn('wasm', () => tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([1, 1, 0], 'int32'), 2));
    expect(Array.from(wasm.values[0])).toEqual([5, 6, 4, 6]);
  });

  it('makes the gradient of gather (embeddings) work and match cpu', async () => {
    const compute = () => {
      const table = seededTensor([11, 6], 3);
      const indices = tf.tensor1d([3, 0, 3, 10, 7, 3, 0], 'int32');
      const weights = seededTensor([7, 6], 4);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, indices), weights)))(table);
    };
    const wasm = await runOn('wasm', compute);
    const cpu = await runOn('cpu', compute);
    expect(worstError(wasm.values[0], cpu.values[0])).toBeLessThanOrEqual(1);
    expect(wasm.leakedBuffers).toBe(0);
  });

  it('is missing on stock wasm (what the fix fills)', async () => {
    unregisterWasmFixes({ fixes: [WasmFix.unsortedSegmentSum] });
    try {
      await expect(runOn('wasm', () => tf.unsortedSegmentSum(tf.ones([2]), tf.tensor1d([0, 1], 'int32'), 2))).rejects.toThrow(/UnsortedSegmentSum' not registered/);
    } finally {
      registerWasmFixes();
    }
  });
});
