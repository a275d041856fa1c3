import '@tensorflow/tfjs-layers'; // registers every gradient

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { initBackend } from '../init-backend';
import { registerWasmFixes, unregisterWasmFixes } from './register-wasm-fixes';
import { WasmFix } from './wasm-fix-names';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

function heapOffset(tensor: tf.Tensor): number {
  return (tf.backend() as unknown as { getMemoryOffset(dataId: unknown): number }).getMemoryOffset(tensor.dataId);
}

describe('Identity on wasm with the fixes', () => {
  it('shares memory instead of copying, and the copy outlives the original', async () => {
    const buffersBefore = tf.memory().numDataBuffers;
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const y = tf.clone(x);
    expect(heapOffset(y)).toBe(heapOffset(x));
    expect(tf.memory().numDataBuffers).toBe(buffersBefore + 1);
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4, 5, 6]);
    y.dispose();
    expect(tf.memory().numDataBuffers).toBe(buffersBefore);
    expect(tf.backend().numDataIds()).toBe(buffersBefore);
  });

  it('copies on stock wasm (what the fix avoids)', () => {
    unregisterWasmFixes({ fixes: [WasmFix.identityShare] });
    try {
      const x = tf.ones([4]);
      const y = tf.clone(x);
      expect(heapOffset(y)).not.toBe(heapOffset(x));
      tf.dispose([x, y]);
    } finally {
      registerWasmFixes();
    }
  });

  it('keeps int32 and bool dtypes and works under gradients without leaks', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const buffersBefore = tf.backend().numDataIds();
    const [ints, bools, gradient] = tf.tidy(() => [
      tf.clone(tf.tensor1d([7, -3], 'int32')),
      tf.clone(tf.tensor1d([true, false], 'bool')),
      tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.clone(x), x)))(tf.tensor1d([1, 2, 3])),
    ]);
    expect(ints.dtype).toBe('int32');
    expect(bools.dtype).toBe('bool');
    expect(Array.from(await ints.data())).toEqual([7, -3]);
    expect(Array.from(await bools.data())).toEqual([1, 0]);
    expect(Array.from(await gradient.data())).toEqual([2, 4, 6]);
    tf.dispose([ints, bools, gradient]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(tf.backend().numDataIds()).toBe(buffersBefore);
  });
});
