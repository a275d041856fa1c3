import '@tensorflow/tfjs-layers'; // registers every gradient

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { initBackend } from '../init-backend';
import { registerWasmFixes, unregisterWasmFixes } from './register-wasm-fixes';
import { WasmFix } from './wasm-fix-names';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});
afterAll(() => {
  registerWasmFixes();
});

/** The op's outputs with the row-copy kernels, then with the stock wasm kernels: equal value for value. */
async function expectSameAsStock(op: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const before = tf.memory().numTensors;
  const fixed = tf.tidy(() => [op()].flat());
  unregisterWasmFixes({ fixes: [WasmFix.gatherRows, WasmFix.splitRows] });
  const stock = tf.tidy(() => [op()].flat());
  registerWasmFixes({ fixes: [WasmFix.gatherRows, WasmFix.splitRows] });
  expect(fixed.length).toBe(stock.length);
  for (let index = 0; index < fixed.length; index++) {
    expect(fixed[index]!.shape).toEqual(stock[index]!.shape);
    expect(fixed[index]!.dtype).toBe(stock[index]!.dtype);
    expect(Array.from(await fixed[index]!.data())).toEqual(Array.from(await stock[index]!.data()));
  }
  tf.dispose([...fixed, ...stock]);
  expect(tf.memory().numTensors).toBe(before);
}

describe('GatherV2 by rows on wasm', () => {
  let table: tf.Tensor;
  let cube: tf.Tensor;
  beforeAll(() => {
    table = tf.randomNormal([50, 32], 0, 1, 'float32', 1);
    cube = tf.randomUniform([3, 20, 24], -100, 100, 'int32', 2);
  });
  afterAll(() => tf.dispose([table, cube]));

  it('equals the stock kernel: embedding rows, repeated and 2-D indices, an inner axis, int32 values', async () => {
    await expectSameAsStock(() => tf.gather(table, tf.tensor1d([3, 0, 49, 3, 17], 'int32')));
    await expectSameAsStock(() =>
      tf.gather(
        table,
        tf.tensor2d(
          [
            [1, 2, 3],
            [4, 4, 0],
          ],
          [2, 3],
          'int32',
        ),
      ),
    );
    await expectSameAsStock(() => tf.gather(cube, tf.tensor1d([19, 0, 5], 'int32'), 1));
    await expectSameAsStock(() => tf.gather(table, tf.tensor1d([], 'int32')));
    // Short rows go to the stock kernel.
    await expectSameAsStock(() => tf.gather(table, tf.tensor1d([1, 2], 'int32'), 1));
  });

  it('an index out of range throws, naming it and the range, and leaves no tensor behind', () => {
    const before = tf.memory().numTensors;
    const ids = tf.tensor1d([2, 50], 'int32');
    expect(() => tf.gather(table, ids)).toThrow('GatherV2: index 50 (at position 1) is not in [0, 49]');
    ids.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the gradient of an embedding lookup is unchanged', async () => {
    const ids = tf.tensor1d([3, 3, 7], 'int32');
    const gradient = () => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), tf.reshape(tf.range(0, 96), [3, 32]))))(table);
    await expectSameAsStock(gradient);
    ids.dispose();
  });
});

describe('SplitV by runs on wasm', () => {
  let fused: tf.Tensor;
  beforeAll(() => {
    fused = tf.randomNormal([2, 5, 96], 0, 1, 'float32', 3);
  });
  afterAll(() => fused.dispose());

  it('equals the stock kernel: equal thirds on the last axis, sizes with -1, a middle axis', async () => {
    await expectSameAsStock(() => tf.split(fused, 3, -1));
    await expectSameAsStock(() => tf.split(fused, [16, -1, 32], 2));
    await expectSameAsStock(() => tf.split(tf.randomNormal([4, 6, 20], 0, 1, 'float32', 4), [2, 4], 1));
    // Runs under 16 values go to the stock kernel.
    await expectSameAsStock(() => tf.split(fused, 12, -1));
  });

  it('the gradient through a split is unchanged', async () => {
    const gradient = () =>
      tf.grad((x: tf.Tensor) => {
        const [q, k, v] = tf.split(x, 3, -1);
        return tf.sum(tf.add(tf.mul(q!, 2), tf.mul(k!, v!)));
      })(fused);
    await expectSameAsStock(gradient);
  });
});
